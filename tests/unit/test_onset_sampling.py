"""How ``trace onset`` gets its counts from a store (sources/onset_sampling.py):
a stated sample per route and bucket from stores that list a window, the
store's own counts when it has FleetCounts, every trace when in hand."""

from __future__ import annotations

import pytest

from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.onset import onsets, trend
from oncall_tui.core.onset_model import BucketCount, ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.core.summary import summarize
from oncall_tui.errors import NotFoundError, UnsupportedError
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.onset_sampling import (
    confirm_candidates,
    in_window,
    onset_window,
    sample_window,
    window_from_traces,
)
from tests.builders import MS
from tests.onset_fleet import BUCKET_MS, T0_MS, fleet

BUCKET = BUCKET_MS * MS
T0 = T0_MS * MS


def _traces(**kw: object) -> tuple[list[Trace], int]:
    requests, change = fleet(**kw)  # type: ignore[arg-type]
    return [assemble(spans, source="test")[0] for spans in requests], change


def query(buckets: int, sample: int = 10, **kw: object) -> OnsetQuery:
    return OnsetQuery(since_ns=T0, until_ns=T0 + buckets * BUCKET, bucket_ns=BUCKET,
                      sample_per_bucket=sample, **kw)  # type: ignore[arg-type]  # fmt: skip


class SearchStore:
    """Search then get, like Jaeger or Langfuse; remembers what was fetched."""

    def __init__(self, traces: list[Trace], missing: set[str] = frozenset()) -> None:
        self.by_id = {t.trace_id: t for t in traces}
        self.rows = [summarize(t) for t in traces]
        self.fetched: list[str] = []
        self.missing = missing

    async def search(self, q: TraceQuery) -> list[TraceSummary]:
        rows = [r for r in self.rows if q.start_ns <= (r.start_ns or 0) < q.end_ns]  # type: ignore[operator]
        if q.route:
            rows = [r for r in rows if r.route == q.route]
        return sorted(rows, key=lambda r: -(r.start_ns or 0))[: q.limit]

    async def get_trace(self, trace_id: str) -> Trace:
        self.fetched.append(trace_id)
        if trace_id in self.missing:
            raise NotFoundError(f"trace {trace_id} is gone")
        return self.by_id[trace_id]


class RecentStore:
    """Whole traces of a window in one sweep, like Phoenix."""

    def __init__(self, traces: list[Trace]) -> None:
        self.traces = traces

    async def recent_traces(self, q: TraceQuery) -> list[Trace]:
        return [t for t in self.traces if q.start_ns <= t.spans[0].start_ns < q.end_ns]  # type: ignore[operator]


async def test_a_search_store_is_sampled_per_route_and_bucket_and_says_so() -> None:
    traces, _ = _traces(buckets=3, per_bucket=40, change_bucket=None)
    store = SearchStore(traces)
    w = await sample_window(store, query(3, sample=10))
    assert w.method == "sampled"
    assert w.method_note == (
        "sampled up to 10 traces per route per 5m bucket (60 analysed of 240 listed)"
    )
    assert len(store.fetched) == 60
    for b in w.buckets:
        assert (b.traces, b.analysed) == (40, 10), b
    # Spread over the bucket, not the newest ten: the first and last quarter both.
    starts = sorted(store.by_id[i].spans[0].start_ns - T0 for i in store.fetched[:20])
    assert starts[0] < BUCKET // 4 and starts[-1] > 3 * BUCKET // 4


async def test_a_sampled_rise_is_found_with_its_change() -> None:
    traces, change = _traces(buckets=12, per_bucket=40, change_bucket=6, change_offset_ms=0)
    w = await sample_window(SearchStore(traces), query(12, sample=25))
    [o] = onsets(w)
    assert (o.route, o.kind, o.at_ns) == ("agent-assist", "reentrancy_cycle", T0 + 6 * BUCKET)
    assert o.cause is not None and o.cause.subject == "lookup_order" and o.cause.at_ns == change
    assert o.after_analysed == 6 * 25  # rates from the sample, not the 40 seen


async def test_a_trace_gone_since_the_search_is_skipped() -> None:
    traces, _ = _traces(buckets=1, per_bucket=4, change_bucket=None)
    gone = {traces[0].trace_id}
    w = await sample_window(SearchStore(traces, gone), query(1, sample=10))
    assert sum(b.analysed for b in w.buckets) == len(traces) - 1
    assert sum(b.traces for b in w.buckets) == len(traces)


async def test_a_store_reading_whole_windows_is_sampled_too() -> None:
    traces, _ = _traces(buckets=2, per_bucket=30, change_bucket=None)
    w = await onset_window(RecentStore(traces), query(2, sample=5, route="billing"))
    assert {b.route for b in w.buckets} == {"billing"}
    assert [(b.traces, b.analysed) for b in w.buckets] == [(30, 5), (30, 5)]


async def test_a_store_that_cannot_list_a_window_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="can neither count in its engine nor list"):
        await onset_window(object(), query(1))


class CountingStore(SearchStore):
    """A store whose engine counts (FleetCounts), with candidate ids."""

    def __init__(self, traces: list[Trace], window: OnsetWindow) -> None:
        super().__init__(traces)
        self.window = window
        self.searched = False

    async def onset_window(self, q: OnsetQuery) -> OnsetWindow:
        return self.window

    async def search(self, q: TraceQuery) -> list[TraceSummary]:
        self.searched = True
        return await super().search(q)


async def test_the_stores_own_counts_win_and_side_changes_are_merged() -> None:
    traces, _ = _traces(buckets=1, per_bucket=4, change_bucket=0, change_offset_ms=0,
                        rate_after=1.0)  # fmt: skip
    looping = [t.trace_id for t in traces if summarize(t).route == "agent-assist"]
    plain = [t.trace_id for t in traces if summarize(t).route == "billing"]
    q = query(1)
    pushed = OnsetWindow(q, "pushdown", [BucketCount("agent-assist", T0, 1000, {"x": 10})],
                         [ChangeEvent(T0 + 2, "flag", "f")], "counted in the engine",
                         candidates={"reentrancy_cycle": plain[:1] + looping})  # fmt: skip
    store = CountingStore(traces, pushed)
    audit = ChangeEvent(T0 + 1, "action", "rollback", "agent-assist", source="audit")
    w = await onset_window(store, q, changes=[audit])
    assert not store.searched and w.method == "pushdown"
    assert [c.kind for c in w.changes] == ["action", "flag"]
    assert trend(w, "agent-assist", "x") == [0.01]
    confirmed = await confirm_candidates(store, w, per_kind=3)
    # The billing trace has no cycle: analysed here in full, it is dropped.
    assert confirmed == {"reentrancy_cycle": looping[:2]}


def test_traces_in_hand_are_all_analysed() -> None:
    traces, _ = _traces(buckets=2, per_bucket=5, change_bucket=None)
    w = window_from_traces(traces, query(2))
    assert w.method == "all" and w.method_note == "analysed all 20 traces in the window"
    assert all(b.traces == b.analysed == 5 for b in w.buckets)


def test_changes_outside_the_window_and_lookback_are_dropped() -> None:
    q = query(2)
    old = ChangeEvent(T0 - 2 * 3600 * 10**9, "serving_version", "r", "r", "v1", "v2")
    near = ChangeEvent(T0 - 60 * 10**9, "serving_version", "r", "r", "v2", "v3")
    late = ChangeEvent(q.until_ns, "flag", "f")
    assert in_window([old, near, late], q, 3600 * 10**9) == [near]


async def test_a_listing_at_its_cap_says_seen_counts_are_lower_bounds() -> None:
    traces, _ = _traces(buckets=1, per_bucket=150, change_bucket=None)  # 300 in the bucket
    w = await sample_window(SearchStore(traces), query(1, sample=10, route="billing"))
    assert w.method_note.startswith("sampled up to 10 traces per route per 5m bucket (10 analysed")
    # The route's 150 fit a listing of 200 (4 x 10, at least 200): not capped.
    assert sum(b.traces for b in w.buckets) == 150
    traces, _ = _traces(buckets=1, per_bucket=250, change_bucket=None)
    w = await sample_window(SearchStore(traces), query(1, sample=10, route="billing"))
    assert sum(b.traces for b in w.buckets) == 200
    assert w.method_note.endswith("; 1 bucket(s) listed 200+ traces, seen counts are lower bounds")
