"""Action records for systems that keep none (flag services, LiteLLM).

The action lifecycle reports every change as a protocol ``ActionRecord``;
an adapter whose target answers only "ok" builds one here, stamped now.
"""

from __future__ import annotations

from datetime import UTC, datetime

from oncall_tui.core.gateway import ActionKind, ActionRecord


def applied_record(
    system: str,
    *,
    kind: ActionKind,
    route: str,
    key: str,
    reason: str,
    actor: str,
    detail: str,
    after: dict[str, str | bool | None] | None = None,
) -> ActionRecord:
    now = datetime.now(UTC)
    return ActionRecord(
        id=f"{system}-{key[-12:]}",
        kind=kind,
        route=route,
        state="applied",
        actor=actor,
        reason=reason,
        idempotency_key=key,
        requested_at=now,
        applied_at=now,
        after=after or {},
        detail=detail,
    )
