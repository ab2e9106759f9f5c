"""The action lifecycle (headless): capture, plan, confirm, execute once, verify, undo.

Public API for the CLI, the runbook engine and the TUI: ``Executor``,
``ActionSpec``, ``Confirmation``, ``open_executor`` (docs/actions.md).
"""

from oncall_tui.actions.audit import AuditLog, AuditRecord, VerifyReport
from oncall_tui.actions.executor import Confirmation, Executor, RetryPolicy
from oncall_tui.actions.model import ActionResult, ActionSpec, Change, Plan
from oncall_tui.actions.redact import Redactor
from oncall_tui.actions.setup import audit_path, default_actor, open_executor

__all__ = [
    "ActionResult",
    "ActionSpec",
    "AuditLog",
    "AuditRecord",
    "Change",
    "Confirmation",
    "Executor",
    "Plan",
    "Redactor",
    "RetryPolicy",
    "VerifyReport",
    "audit_path",
    "default_actor",
    "open_executor",
]
