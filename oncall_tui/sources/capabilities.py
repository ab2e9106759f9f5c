"""One small Protocol per capability, probed with ``isinstance`` before use.

An adapter implements what its system can do and nothing more; the UI and the
CLI ask ``isinstance(adapter, KillSwitch)`` before offering the action, so no
"supports_x" flag is ever kept in sync by hand (k9s does the same).
All methods are async: adapters speak HTTP and WebSocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import msgspec

from oncall_tui.core.models import Trace, TraceSummary


class TraceQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    service: str | None = None
    route: str | None = None
    operation: str | None = None
    errors_only: bool = False
    start_ns: int | None = None  # window start; None: the store's default look-back
    end_ns: int | None = None
    limit: int = 20


# ------------------------------------------------------------------ traces


@runtime_checkable
class TraceStore(Protocol):
    """Fetch one whole trace by id (paging inside; partial traces say so)."""

    async def get_trace(self, trace_id: str) -> Trace: ...


@runtime_checkable
class TraceSearch(Protocol):
    async def search(self, query: TraceQuery) -> list[TraceSummary]: ...


@runtime_checkable
class TraceTail(Protocol):
    """Live: summaries of new traces as the store receives them."""

    def tail(self, query: TraceQuery) -> AsyncIterator[TraceSummary]: ...


# ------------------------------------------------------------------ gateways
# GatewayStatus (routes, status per window) and GatewayStream (event stream,
# resumable by sequence number) go here, typed with core/gateway.py models.

# (gateway capability Protocols: end of section)


# ------------------------------------------------------------------ actions
# KillSwitch, Rollback and Failover go here: what the action lifecycle in
# oncall_tui/actions needs from an adapter to capture, execute, read back and undo.

# (action capability Protocols: end of section)
