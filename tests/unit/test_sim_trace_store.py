"""The simulator's trace store keeps the newest traces whole and a sample of
older ones per route and 5-minute bucket, so `trace onset` and the console's
trends still see the time before a mid-run change (sim/traces.py)."""

from __future__ import annotations

from oncall_tui.core.models import Span
from oncall_tui.sim.traces import ARCHIVE_BUCKET_NS, ARCHIVE_BUCKETS, TraceStore

MIN = 60 * 1_000_000_000


def _trace(n: int, route: str, start: int) -> list[Span]:
    tid = f"{n:032x}"
    return [
        Span(
            trace_id=tid,
            span_id=f"{n:016x}",
            parent_id=None,
            name="invoke_agent",
            start_ns=start,
            end_ns=start + 1000,
            service="sim",
            attributes={"gen_ai.route": route},
        )
    ]


def _fill(store: TraceStore, minutes: int, per_minute: int) -> list[tuple[str, str, int]]:
    made = []
    n = 0
    for minute in range(minutes):
        for i in range(per_minute):
            route = ("a", "b")[i % 2]
            start = minute * MIN + i
            n += 1
            store.add(_trace(n, route, start))
            made.append((f"{n:032x}", route, start))
    return made


def test_evicted_traces_stay_as_a_bounded_sample_per_route_and_bucket() -> None:
    store = TraceStore(limit=50, archive_per_bucket=5)
    _fill(store, minutes=60, per_minute=20)  # 1,200 traces, 12 buckets
    assert len(store.traces) == 50
    for (bucket, route), held in store.archive.items():
        assert len(held) <= 5, (bucket, route)
    # Every bucket before the recent window still answers, for each route.
    first = store.find(service=None, start_min=0, start_max=5 * MIN - 1, limit=100)
    assert {s[0].attributes["gen_ai.route"] for s in first} == {"a", "b"}
    assert len(first) == 10
    # get() finds an archived trace by id, as `trace get` will ask.
    some = first[0][0].trace_id
    assert store.get(some) == first[0]


def test_the_sample_spreads_over_the_bucket_not_its_first_minutes() -> None:
    store = TraceStore(limit=10, archive_per_bucket=10)
    _fill(store, minutes=30, per_minute=40)
    kept = store.find(service=None, start_min=0, start_max=ARCHIVE_BUCKET_NS - 1, limit=100)
    minutes = {s[0].start_ns // MIN for s in kept}
    assert len(minutes) >= 3, minutes  # a reservoir, not the first 10 evicted


def test_archive_forgets_buckets_past_its_horizon() -> None:
    store = TraceStore(limit=5, archive_per_bucket=2)
    _fill(store, minutes=5 * (ARCHIVE_BUCKETS + 4), per_minute=2)
    buckets = {b for b, _ in store.archive}
    newest = max(buckets)
    assert min(buckets) >= newest - ARCHIVE_BUCKETS
    assert store.get(f"{1:032x}") is None
