"""The action lifecycle: capture -> plan -> confirm -> execute once -> verify -> undo.

Every stage is written to the audit log (fsynced) before the next starts.
Re-running an action with the same idempotency key reads the log first: if
it was verified, the first result is reported; if it was executed (or
possibly executed: the process died mid-call) the call is repeated with the
same key, which the target honours, and verification finishes. Nothing is
applied twice.

Retries: only where the target honours the key (so a repeat cannot
double-apply), only for transport failures and 5xx, with a bounded budget
and backoff; never on 4xx.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from oncall_tui.actions.audit import AuditLog
from oncall_tui.actions.models import DANGEROUS, ActionResult, ActionSpec, Plan, describe
from oncall_tui.actions.targets import ActionTarget
from oncall_tui.core.gateway import ActionRecord
from oncall_tui.errors import (
    ActionError,
    OncallError,
    ReadOnlyError,
    RemoteError,
    UnreachableError,
)

RETRY_BUDGET = 3
RETRY_BASE_S = 0.5


def _record_dict(record: ActionRecord | None) -> dict[str, Any]:
    return msgspec.to_builtins(record) if record is not None else {}


class Executor:
    def __init__(
        self,
        target: ActionTarget,
        audit: AuditLog,
        *,
        read_only: bool = False,
        verify_every_s: float = 1.0,
        verify_deadline_s: float = 60.0,
        retry_budget: int = RETRY_BUDGET,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        key_scope: str = "",
    ) -> None:
        self.target = target
        self.audit = audit
        self.read_only = read_only
        self.verify_every_s = verify_every_s
        self.verify_deadline_s = verify_deadline_s
        self.retry_budget = retry_budget
        self.sleep = sleep
        self.key_scope = key_scope

    def _guard(self) -> None:
        if self.read_only:
            raise ReadOnlyError("this environment is read-only: no actions are offered")

    # ----------------------------------------------------------------- plan

    async def prepare(self, spec: ActionSpec) -> Plan:
        """Capture the prior state and say, readably, what would change."""
        self._guard()
        spec = spec.with_key(self.key_scope)
        for rec in self.audit.for_key(spec.idempotency_key):
            if rec.stage == "planned" and rec.data.get("plan"):
                # The first run's plan: its prior state is the one to undo to.
                return msgspec.convert(rec.data["plan"], Plan)
        prior = await self.target.capture(spec)
        return Plan(
            spec=spec,
            target=f"{self.target.name}, route {spec.route}",
            changes=self.target.changes(spec, prior),
            who=f"every user of route {spec.route}",
            dangerous=spec.kind in DANGEROUS,
            confirm_phrase=spec.route,
            verify=self.target.verify_text(spec),
            undo=self.target.inverse(spec, prior),
            prior=prior,
        )

    async def plan(self, spec: ActionSpec) -> str:
        """The runbook engine's seam (runbook.acting.ActionRunner)."""
        return (await self.prepare(spec)).render()

    # -------------------------------------------------------------- execute

    async def execute(
        self, spec_or_plan: ActionSpec | Plan, *, confirm: str | None = None
    ) -> ActionResult:
        self._guard()
        plan = spec_or_plan if isinstance(spec_or_plan, Plan) else None
        spec = (plan.spec if plan else spec_or_plan).with_key(self.key_scope)  # type: ignore[union-attr]
        aid = spec.action_id
        key = spec.idempotency_key
        history = self.audit.for_key(key)
        stages = [r.stage for r in history]
        resumed = bool(history)
        if "verified" in stages:
            done = next(r for r in reversed(history) if r.stage == "verified")
            undo = _undo_from(history)
            return ActionResult(
                "verified",
                f"already applied and verified ({done.at}); nothing done again",
                action_id=aid,
                idempotency_key=key,
                record=_record_from(history),
                undo=describe(undo) if undo else None,
                undo_spec=undo,
                resumed=True,
                stages=tuple(stages),
            )
        if plan is None:
            plan = await self.prepare(spec)
        if not history or "planned" not in stages:
            self.audit.append(
                aid,
                "planned",
                key,
                {
                    "spec": msgspec.to_builtins(spec),
                    "target": plan.target,
                    "changes": msgspec.to_builtins(plan.changes),
                    "prior": plan.prior,
                    "undo": msgspec.to_builtins(plan.undo) if plan.undo else None,
                },
            )
        if plan.dangerous and confirm != plan.confirm_phrase and "confirmed" not in stages:
            self.audit.append(aid, "refused", key, {"why": "not confirmed"})
            return ActionResult(
                "refused",
                f"not confirmed: type the route name ({plan.confirm_phrase}) to confirm",
                action_id=aid,
                idempotency_key=key,
                stages=(*stages, "planned", "refused"),
            )
        if "confirmed" not in stages:
            self.audit.append(aid, "confirmed", key, {"actor": spec.actor})
        record: ActionRecord | None = _record_from(history) if "executed" in stages else None
        if record is None:
            self.audit.append(aid, "executing", key, {})
            try:
                record = await self._apply_with_retries(spec)
            except OncallError as exc:
                self.audit.append(aid, "failed", key, {"error": exc.message})
                return ActionResult(
                    "failed",
                    exc.message,
                    action_id=aid,
                    idempotency_key=key,
                    resumed=resumed,
                    stages=tuple(r.stage for r in self.audit.for_key(key)),
                )
            self.audit.append(aid, "executed", key, {"record": _record_dict(record)})
            if record.state in ("failed", "rejected"):
                self.audit.append(aid, "failed", key, {"error": record.detail or record.state})
                return ActionResult(
                    "failed",
                    record.detail or f"target answered {record.state}",
                    action_id=aid,
                    idempotency_key=key,
                    record=record,
                    resumed=resumed,
                )
        ok, detail, attempts = await self._verify(spec)
        self.audit.append(
            aid, "verified" if ok else "not_verified", key, {"detail": detail, "attempts": attempts}
        )
        undo = plan.undo
        if undo is not None:
            self.audit.append(aid, "undo_ready", key, {"undo": msgspec.to_builtins(undo)})
        return ActionResult(
            "verified" if ok else "not_verified",
            detail,
            action_id=aid,
            idempotency_key=key,
            record=record,
            verify_attempts=attempts,
            undo=describe(undo) if undo else None,
            undo_spec=undo,
            resumed=resumed,
            stages=tuple(r.stage for r in self.audit.for_key(key)),
        )

    async def _apply_with_retries(self, spec: ActionSpec) -> ActionRecord:
        delay = RETRY_BASE_S
        for attempt in range(self.retry_budget + 1):
            try:
                return await self.target.apply(spec)
            except UnreachableError:
                if attempt == self.retry_budget:
                    raise
            except RemoteError as exc:
                # 4xx is the target saying no: a repeat would say no again.
                if (exc.status is not None and exc.status < 500) or attempt == self.retry_budget:
                    raise
            await self.sleep(delay)
            delay *= 2
        raise ActionError("retry budget spent")  # unreachable; keeps mypy sure

    async def _verify(self, spec: ActionSpec) -> tuple[bool, str, int]:
        deadline = time.monotonic() + self.verify_deadline_s
        attempts = 0
        detail = "not checked"
        while True:
            attempts += 1
            try:
                ok, detail = await self.target.check(spec)
            except OncallError as exc:
                ok, detail = False, f"read-back failed: {exc.message}"
            if ok or time.monotonic() >= deadline:
                return ok, detail, attempts
            await self.sleep(self.verify_every_s)


def _record_from(history: list[Any]) -> ActionRecord | None:
    for rec in reversed(history):
        if rec.stage == "executed" and rec.data.get("record"):
            return msgspec.convert(rec.data["record"], ActionRecord)
    return None


def _undo_from(history: list[Any]) -> ActionSpec | None:
    for rec in reversed(history):
        if rec.stage in ("undo_ready", "planned") and rec.data.get("undo"):
            return msgspec.convert(rec.data["undo"], ActionSpec)
    return None


def undo_spec_for(audit: AuditLog, action_id: str) -> ActionSpec:
    history = audit.for_action(action_id)
    if not history:
        raise ActionError(f"no action {action_id} in the audit log {audit.path}")
    spec = _undo_from(history)
    if spec is None:
        raise ActionError(f"action {action_id} has no recorded undo")
    return msgspec.structs.replace(spec, idempotency_key=f"undo-{action_id}")
