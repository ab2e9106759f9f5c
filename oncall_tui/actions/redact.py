"""Keep secrets out of everything the lifecycle writes or says.

Every string bound for the audit log, a result, or an error message passes
through ``Redactor.scrub`` first. The redactor is the project's one, in
``oncall_tui/redact.py`` (read paths and incident timelines use it too).
"""

from __future__ import annotations

from oncall_tui.redact import MASK, Redactor

__all__ = ["MASK", "Redactor"]
