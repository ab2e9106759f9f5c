"""The console's onset window, computed off the event loop.

Sampling a store means fetching a few hundred traces and analysing each one
here: on the event loop that would stall every keypress for seconds. So the
whole computation runs in a worker thread with its own loop, and only the
adapters' reads hop back to the app's loop (``OnLoop``): that loop owns
their HTTP clients, which must not be used from another loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from oncall_tui.core.changes import changes_from_audit
from oncall_tui.core.onset import Onset, onsets
from oncall_tui.core.onset_model import ChangeEvent, OnsetWindow
from oncall_tui.errors import OncallError
from oncall_tui.sources.onset_recent import recent_window

#: The adapter reads a window needs (stores, a gateway's route history, a
#: flag service's events);
#: the proxy has exactly those the adapter has, so capability checks
#: (``isinstance(store, TraceSearch)``) answer as they would for it.
READS = (
    "search",
    "get_trace",
    "recent_traces",
    "onset_window",
    "routes",
    "status",
    "flag_events",
)
#: One read that takes longer than this is a failure, not a hung worker.
CALL_TIMEOUT_S = 30.0


class OnLoop:
    """``target``'s reads, run on ``loop`` and awaited from another one."""

    def __init__(self, target: object, loop: asyncio.AbstractEventLoop) -> None:
        self.target_name = type(target).__name__
        for name in READS:
            fn = getattr(target, name, None)
            if callable(fn):
                setattr(self, name, _bridge(fn, loop))


def _bridge(
    fn: Callable[..., Awaitable[Any]], loop: asyncio.AbstractEventLoop
) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return await fn(*args, **kwargs)

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT_S)

    return call


class OnsetResult(msgspec.Struct, frozen=True):
    window: OnsetWindow
    onsets: list[Onset]
    warnings: list[str] = []


def audit_changes(path: Path | None) -> tuple[list[ChangeEvent], list[str]]:
    """Actions that ran, from the audit log (none when there is no log)."""
    if path is None or not path.exists():
        return [], []
    from oncall_tui.actions.audit import AuditLog

    try:
        records = [msgspec.to_builtins(r) for r in AuditLog(path).records()]
    except OncallError as exc:
        return [], [f"audit log: {exc.message}"]
    return changes_from_audit(records), []


def compute(
    store: object,
    gateway: object,
    loop: asyncio.AbstractEventLoop,
    now_ns: int,
    *,
    audit_path: Path | None = None,
    flags: Mapping[str, object] | None = None,
) -> OnsetResult:
    """Blocking: call it from a worker thread, never from ``loop``'s."""
    side, warnings = audit_changes(audit_path)

    async def run() -> tuple[OnsetWindow, list[str]]:
        return await recent_window(
            OnLoop(store, loop),
            now_ns,
            gateway=OnLoop(gateway, loop) if gateway is not None else None,
            changes=side,
            flags={name: OnLoop(f, loop) for name, f in (flags or {}).items()},
        )

    window, more = asyncio.run(run())
    return OnsetResult(window, onsets(window), warnings + more)
