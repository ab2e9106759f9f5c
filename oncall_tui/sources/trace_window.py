"""Whole traces of the last N seconds from any store that can give them.

Used to derive gateway figures from traces when the gateway cannot say them
itself (``core.trace_metrics``). A store that reads a window in one sweep
(``RecentTraces``) is asked directly; one that only searches and fetches is
asked for at most ``limit`` traces, one at a time, so a busy store is not
flooded by a status command.
"""

from __future__ import annotations

import time

from oncall_tui.core.models import Trace
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
