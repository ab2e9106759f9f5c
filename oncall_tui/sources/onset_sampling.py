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

#: How many rows a bucket's search may list, to count traces seen beyond the sample.
SEARCH_CAP = 1000
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


def can_sample(store: object) -> bool:
    return isinstance(store, RecentTraces) or (
        isinstance(store, TraceSearch) and isinstance(store, TraceStore)
    )


async def _bucket_traces(store: object, query: OnsetQuery, start: int) -> tuple[list[Trace], int]:
    """(the sample of one bucket, traces the store listed in it)."""
    tq = TraceQuery(
        route=query.route, start_ns=start, end_ns=start + query.bucket_ns, limit=SEARCH_CAP
    )
    if isinstance(store, RecentTraces):
        end = start + query.bucket_ns
        got = [t for t in await store.recent_traces(tq) if t.spans and start <= _start(t) < end]
        got.sort(key=_start)
        return [got[i] for i in _spread(got, query.sample_per_bucket)], len(got)
    assert isinstance(store, TraceSearch) and isinstance(store, TraceStore)
    rows = await store.search(tq)
    rows = [r for r in rows if r.start_ns is None or start <= r.start_ns < start + query.bucket_ns]
    rows.sort(key=lambda r: r.start_ns or 0)
    picked = [rows[i] for i in _spread(rows, query.sample_per_bucket)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(trace_id: str) -> Trace | None:
        async with gate:
            try:
                return await store.get_trace(trace_id)
            except OncallError:
                return None  # gone since the search (evicted, retention): not a finding

    fetched = await asyncio.gather(*(one(r.trace_id) for r in picked))
    return [t for t in fetched if t is not None and t.spans], len(rows)


async def sample_window(
    store: object, query: OnsetQuery, *, changes: Sequence[ChangeEvent] = ()
) -> OnsetWindow:
    """At most ``query.sample_per_bucket`` traces per bucket, analysed here."""
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
    for start in range(first, query.until_ns, step):
        traces, seen = await _bucket_traces(store, query, start)
        listed += seen
        capped += seen >= SEARCH_CAP
        per_route: dict[str, int] = {}
        for trace in traces:
            route = default_route(trace)
            if query.route is not None and route != query.route:
                continue
            per_route[route] = per_route.get(route, 0) + 1
            sampled.append(trace)
            counts.analysed(route, _bucket_of(_start(trace), query), _kinds(trace))
        # Traces seen: the listing spread over the sample's routes by their
        # share (a search row does not always name its route).
        total = sum(per_route.values())
        for route, n in per_route.items():
            counts.seen(route, start, round(seen * n / total) if total else 0)
    minutes = query.bucket_ns // 60_000_000_000
    size = f"{minutes}m" if minutes else f"{query.bucket_ns // 1_000_000_000}s"
    note = (
        f"sampled up to {query.sample_per_bucket} traces per {size} bucket "
        f"({len(sampled):,} analysed of {listed:,} listed)"
    )
    if capped:
        note += f"; {capped} bucket(s) listed {SEARCH_CAP}+ traces, seen counts are lower bounds"
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
