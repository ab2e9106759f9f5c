"""The counts ``trace onset`` reasons over, from any store.

Three ways, best first:

- the store's engine counts (``FleetCounts``: ClickHouse SQL, TraceQL
  metrics): asked once; the candidate traces it names can then be analysed
  here in full (``confirm_candidates``);
- a store that searches a time window (Jaeger, Phoenix, Langfuse, the
  simulator): per bucket, at most ``sample_per_bucket`` traces spread evenly
  over the bucket are fetched and analysed here; the output says so;
- traces already in hand (files): every one is analysed (``window_from_traces``).

Rates come from the analysed traces; ``traces`` counts what the store listed
in the bucket (up to the search cap, which the note states).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from oncall_tui.core.analysis import analyze
from oncall_tui.core.changes import changes_from_traces, default_route
from oncall_tui.core.models import Trace
from oncall_tui.core.onset_model import BucketCount, ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.errors import OncallError, UnsupportedError
from oncall_tui.sources.capabilities import (
    FleetCounts,
    RecentTraces,
    TraceQuery,
    TraceSearch,
    TraceStore,
)

#: How many rows a bucket's search may list, to count traces seen beyond the
#: sample (some stores, Jaeger among them, answer a search with whole traces).
SEARCH_CAP = 1000


def listing_cap(query: OnsetQuery) -> int:
    """One route: four times the sample, at least 200. Every route: the whole
    cap, or a busy route's traces would crowd a quiet one out of the listing."""
    if query.route is None:
        return SEARCH_CAP
    return min(SEARCH_CAP, max(200, 4 * query.sample_per_bucket))


#: Fetches in flight at once: a store is read, not flooded.
CONCURRENCY = 4


def _start(trace: Trace) -> int:
    return min((s.start_ns for s in trace.spans), default=0)


def _bucket_of(ns: int, query: OnsetQuery) -> int:
    step = max(1, query.bucket_ns)
    return ns - ns % step


def _kinds(trace: Trace) -> set[str]:
    return {f.kind for f in analyze(trace).findings}


def _spread(items: Sequence[object], n: int) -> list[int]:
    """Indices of ``n`` items spread evenly over ``items`` (all when fewer)."""
    if len(items) <= n:
        return list(range(len(items)))
    step = len(items) / n
    return [int(i * step) for i in range(n)]


class _Counts:
    def __init__(self, query: OnsetQuery) -> None:
        self.query = query
        self.rows: dict[tuple[str, int], tuple[int, int, dict[str, int]]] = {}

    def seen(self, route: str, bucket: int, n: int = 1) -> None:
        traces, analysed, kinds = self.rows.get((route, bucket), (0, 0, {}))
        self.rows[route, bucket] = (traces + n, analysed, kinds)

    def analysed(self, route: str, bucket: int, kinds: Iterable[str]) -> None:
        traces, analysed, counts = self.rows.get((route, bucket), (0, 0, {}))
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
        self.rows[route, bucket] = (traces, analysed + 1, counts)

    def buckets(self) -> list[BucketCount]:
        return [
            BucketCount(route, start, traces, kinds, analysed)
            for (route, start), (traces, analysed, kinds) in sorted(self.rows.items())
        ]


def _in_window(trace: Trace, query: OnsetQuery, route_of: str) -> bool:
    start = _start(trace)
    if not (query.since_ns <= start < query.until_ns):
        return False
    return query.route is None or route_of == query.route


def window_from_traces(
    traces: Iterable[Trace], query: OnsetQuery, *, changes: Sequence[ChangeEvent] = ()
) -> OnsetWindow:
    """Every trace in hand analysed: method ``all``."""
    counts = _Counts(query)
    kept: list[Trace] = []
    for trace in traces:
        if not trace.spans:
            continue
        route = default_route(trace)
        if not _in_window(trace, query, route):
            continue
        kept.append(trace)
        bucket = _bucket_of(_start(trace), query)
        counts.seen(route, bucket)
        counts.analysed(route, bucket, _kinds(trace))
    found = changes_from_traces(kept)
    return OnsetWindow(
        query=query,
        method="all",
        buckets=counts.buckets(),
        changes=_merge(found, changes),
        method_note=f"analysed all {len(kept):,} traces in the window",
    )


def _merge(a: Sequence[ChangeEvent], b: Sequence[ChangeEvent]) -> list[ChangeEvent]:
    return sorted([*a, *b], key=lambda c: (c.at_ns, c.route or "", c.kind, c.subject))


def in_window(
    changes: Iterable[ChangeEvent], query: OnsetQuery, lookback_ns: int
) -> list[ChangeEvent]:
    """The changes a window's onsets can name: from ``lookback_ns`` before
    its start to its end (a route history reaches back months)."""
    return [c for c in changes if query.since_ns - lookback_ns <= c.at_ns < query.until_ns]


def can_sample(store: object) -> bool:
    return isinstance(store, RecentTraces) or (
        isinstance(store, TraceSearch) and isinstance(store, TraceStore)
    )


def _route_key(route: str | None) -> str:
    return route or ""


async def _bucket_traces(
    store: object, query: OnsetQuery, start: int
) -> tuple[list[Trace], dict[str, int], int]:
    """One bucket: up to ``sample_per_bucket`` traces of each route, spread
    evenly over the bucket; traces listed per route (a search row that does
    not name its route counts under ""); everything listed."""
    end = start + query.bucket_ns
    n = query.sample_per_bucket
    tq = TraceQuery(route=query.route, start_ns=start, end_ns=end, limit=listing_cap(query))
    if isinstance(store, RecentTraces):
        got = [t for t in await store.recent_traces(tq) if t.spans and start <= _start(t) < end]
        got.sort(key=_start)
        by_route: dict[str, list[Trace]] = {}
        for t in got:
            by_route.setdefault(default_route(t), []).append(t)
        sample = [ts[i] for ts in by_route.values() for i in _spread(ts, n)]
        return sample, {r: len(ts) for r, ts in by_route.items()}, len(got)
    assert isinstance(store, TraceSearch) and isinstance(store, TraceStore)
    rows = await store.search(tq)
    rows = [r for r in rows if r.start_ns is None or start <= r.start_ns < end]
    rows.sort(key=lambda r: r.start_ns or 0)
    groups: dict[str, list[str]] = {}
    for r in rows:
        groups.setdefault(_route_key(r.route), []).append(r.trace_id)
    picked = [ids[i] for ids in groups.values() for i in _spread(ids, n)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(trace_id: str) -> Trace | None:
        async with gate:
            try:
                return await store.get_trace(trace_id)
            except OncallError:
                return None  # gone since the search (evicted, retention): not a finding

    fetched = await asyncio.gather(*(one(i) for i in picked))
    sample = [t for t in fetched if t is not None and t.spans]
    return sample, {r: len(ids) for r, ids in groups.items()}, len(rows)


async def sample_window(
    store: object, query: OnsetQuery, *, changes: Sequence[ChangeEvent] = ()
) -> OnsetWindow:
    """At most ``query.sample_per_bucket`` traces per route and bucket, analysed here."""
    if not can_sample(store):
        raise UnsupportedError(
            f"{type(store).__name__} can neither count in its engine nor list the traces "
            "of a time window"
        )
    counts = _Counts(query)
    sampled: list[Trace] = []
    step = max(1, query.bucket_ns)
    first = query.since_ns - query.since_ns % step
    listed = capped = 0
    cap = listing_cap(query)
    for start in range(first, query.until_ns, step):
        traces, seen, total = await _bucket_traces(store, query, start)
        listed += total
        capped += total >= cap
        analysed_routes: set[str] = set()
        for trace in traces:
            route = default_route(trace)
            if query.route is not None and route != query.route:
                continue
            analysed_routes.add(route)
            sampled.append(trace)
            counts.analysed(route, start, _kinds(trace))
        for route, n in seen.items():
            if route in analysed_routes:
                counts.seen(route, start, n)
        # Rows the listing did not name a route for: their analysed traces
        # say which route they were; count each of those as seen once.
        for route in analysed_routes - seen.keys():
            counts.seen(route, start, sum(1 for t in traces if default_route(t) == route))
    minutes = query.bucket_ns // 60_000_000_000
    size = f"{minutes}m" if minutes else f"{query.bucket_ns // 1_000_000_000}s"
    note = (
        f"sampled up to {query.sample_per_bucket} traces per route per {size} bucket "
        f"({len(sampled):,} analysed of {listed:,} listed)"
    )
    if capped:
        note += f"; {capped} bucket(s) listed {cap}+ traces, seen counts are lower bounds"
    return OnsetWindow(
        query=query,
        method="sampled",
        buckets=counts.buckets(),
        changes=_merge(changes_from_traces(sampled), changes),
        method_note=note,
    )


async def onset_window(
    store: object, query: OnsetQuery, *, changes: Sequence[ChangeEvent] = ()
) -> OnsetWindow:
    """The store's own counts when it has them, else a stated sample."""
    if isinstance(store, FleetCounts):
        window = await store.onset_window(query)
        if changes:
            window = OnsetWindow(
                query=window.query,
                method=window.method,
                buckets=window.buckets,
                changes=_merge(window.changes, changes),
                method_note=window.method_note,
                candidates=window.candidates,
            )
        return window
    return await sample_window(store, query, changes=changes)


async def confirm_candidates(
    store: object, window: OnsetWindow, *, per_kind: int = 5
) -> dict[str, list[str]]:
    """Of the engine's candidate trace ids, the ones whose full analysis here
    has the kind (at most ``per_kind`` fetched per kind)."""
    if not isinstance(store, TraceStore):
        return {}
    out: dict[str, list[str]] = {}
    for kind, ids in window.candidates.items():
        for trace_id in ids[:per_kind]:
            try:
                trace = await store.get_trace(trace_id)
            except OncallError:
                continue
            if kind in _kinds(trace):
                out.setdefault(kind, []).append(trace_id)
    return out
