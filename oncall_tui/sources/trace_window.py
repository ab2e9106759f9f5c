"""Whole traces of the last N seconds from any store that can give them.

Used to derive gateway figures from traces when the gateway cannot say them
itself (``core.trace_metrics``): ``gateway status`` and the console's
overview both call ``fill_from_traces``. A store that reads a window in one sweep
(``RecentTraces``) is asked directly; one that only searches and fetches is
asked for at most ``limit`` traces, one at a time, so a busy store is not
flooded by a status command.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from oncall_tui.core.gateway import StatusResponse
from oncall_tui.core.models import Trace
from oncall_tui.core.trace_metrics import RouteTraceStats, fill_status, route_stats
from oncall_tui.errors import UnsupportedError
from oncall_tui.sources.capabilities import RecentTraces, TraceQuery, TraceSearch, TraceStore

DEFAULT_LIMIT = 200


def can_read_window(store: object) -> bool:
    return isinstance(store, RecentTraces) or (
        isinstance(store, TraceSearch) and isinstance(store, TraceStore)
    )


async def traces_in_window(
    store: object, window_s: int, *, limit: int = DEFAULT_LIMIT, now_ns: int | None = None
) -> list[Trace]:
    end = time.time_ns() if now_ns is None else now_ns
    query = TraceQuery(start_ns=end - window_s * 10**9, end_ns=end, limit=limit)
    if isinstance(store, RecentTraces):
        return (await store.recent_traces(query))[:limit]
    if isinstance(store, TraceSearch) and isinstance(store, TraceStore):
        rows = await store.search(query)
        return [await store.get_trace(row.trace_id) for row in rows[:limit]]
    raise UnsupportedError(f"{type(store).__name__} cannot read the traces of a time window")


class FromTraces(msgspec.Struct, frozen=True):
    """What ``fill_from_traces`` filled, and from where."""

    store: str
    traces: int
    routes: list[str]  # the routes whose gaps the traces filled
    stats: list[RouteTraceStats]


def needs_traces(status: StatusResponse) -> bool:
    """A gateway that says which tier served every route needs no traces."""
    return any(not r.tier_mix or r.fallback_rate is None for r in status.routes)


async def fill_from_traces(
    status: StatusResponse, stores: Mapping[str, object], window_s: int
) -> tuple[StatusResponse, FromTraces | None]:
    """Fill what ``status`` lacks from the first store that can read a window.

    ``None`` when no store can; a store that fails raises the project's error
    (the caller warns and keeps the gateway's own figures).
    """
    usable = next(((n, s) for n, s in stores.items() if can_read_window(s)), None)
    if usable is None:
        return status, None
    name, store = usable
    traces = await traces_in_window(store, window_s)
    stats = route_stats(traces)
    status, filled = fill_status(status, stats, window_s)
    return status, FromTraces(name, len(traces), filled, [s for s in stats if s.route in filled])
