"""The live assembly store behind ``trace listen`` and its live screen:
sources/live_traces.py. A fake clock: no test sleeps."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import Span, Trace
from oncall_tui.sources.live_traces import LiveTraces
from tests.builders import TraceBuilder

A, B, C = "a" * 32, "b" * 32, "c" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _reentrant(trace_id: str = A, first_id: int = 1) -> TraceBuilder:
    """lookup -> model -> lookup, each inside the one before: a reentrancy
    cycle once the trace is whole."""
    b = TraceBuilder(trace_id=trace_id)
    b._ids = itertools.count(first_id)
    root = b.agent("planner", end=1000)
    b.model(root, 0, 50)
    outer = b.tool("lookup", root, 60, 900)
    inner_model = b.model(outer, 70, 850)
    b.tool("lookup", inner_model, 110, 800)
    return b


def _piece(spans: list[Span]) -> Trace:
    return assemble(spans, source="test")[0]


def _store(**kw: float) -> tuple[LiveTraces, Clock]:
    clock = Clock()
    return LiveTraces(clock=clock, **kw), clock  # type: ignore[arg-type]


def test_a_trace_sent_in_three_requests_settles_once_whole_with_its_cycle() -> None:
    live, clock = _store(quiet_s=2.0)
    b = _reentrant()
    by_end = sorted(b.spans, key=lambda s: s.end_ns)  # as BatchSpanProcessor flushes
    for part in (by_end[:2], by_end[2:4], by_end[4:]):
        live.add([_piece(part)])
        clock.now += 1.0
        assert live.tick() == [], "not quiet for 2 s yet"
    assert live.entries() == []
    clock.now += 1.0
    [entry] = live.tick()
    assert entry.trace_id == A and entry.span_count == 5 and entry.requests == 3
    assert entry.updates == 0 and entry.settled
    assert entry.trace.completeness == "complete"
    assert entry.analysis.cycles, "the reentrant lookup is found on the whole trace"
    assert live.tick() == [], "reported once"
    assert live.entries() == [entry] and live.get(A.upper()) == entry


def test_a_late_span_reopens_a_settled_trace_and_it_settles_again_as_updated() -> None:
    live, clock = _store(quiet_s=2.0)
    b = _reentrant()
    live.add([_piece(b.spans[:3])])
    clock.now += 2.0
    [first] = live.tick()
    assert not first.analysis.cycles and first.span_count == 3
    live.add([_piece(b.spans[3:])])
    reopened = live.get(A)
    assert reopened is not None and not reopened.settled and reopened.span_count == 3
    assert live.stats().pending_traces == 1
    clock.now += 1.9
    assert live.tick() == []
    clock.now += 0.1
    [again] = live.tick()
    assert again.updates == 1 and again.settled and again.span_count == 5
    assert again.requests == 2 and again.analysis.cycles
    assert live.entries() == [again]


def test_entries_are_newest_first_and_version_moves_only_on_change() -> None:
    live, clock = _store(quiet_s=1.0)
    v0 = live.version
    live.add([_reentrant(A).trace()])
    v1 = live.version
    assert v1 > v0
    clock.now += 1
    live.tick()
    v2 = live.version
    assert v2 > v1
    assert live.tick() == [] and live.version == v2, "nothing changed: no repaint"
    live.add([_reentrant(B, 100).trace()])
    clock.now += 1
    live.tick()
    assert [e.trace_id for e in live.entries()] == [B, A]


def test_bounds_evict_the_trace_quiet_longest_and_count_it() -> None:
    live, clock = _store(quiet_s=1.0, max_traces=2, max_spans=12)
    for n, tid in enumerate((A, B, C)):
        live.add([_reentrant(tid, 100 * n + 1).trace()])
        clock.now += 0.1
    stats = live.stats()
    assert stats.held_traces == 2 and stats.evicted_traces == 1 and stats.evicted_spans == 5
    clock.now += 1
    assert {e.trace_id for e in live.tick()} == {B, C}
    assert live.get(A) is None
    # B receives a span: C is now the one quiet longest, and goes for room.
    extra = _reentrant(B, 100)
    live.add([_piece(extra.spans[:3])])
    live.add([_piece(_reentrant("d" * 32, 400).spans[:2])])
    stats = live.stats()
    assert live.get(C) is None and stats.held_spans <= 12
    assert stats.evicted_traces == 2 and stats.evicted_spans == 10
    assert stats.received_spans == 20 and stats.received_requests == 5


def test_a_trace_bigger_than_the_span_bound_is_cut_and_says_so() -> None:
    live, clock = _store(quiet_s=1.0, max_spans=3)
    live.add([_reentrant().trace()])
    clock.now += 1
    [entry] = live.tick()
    assert entry.span_count == 3 and entry.trace.completeness == "truncated"
    assert "at most 3 spans" in (entry.trace.completeness_reason or "")
    assert live.stats().evicted_spans == 2


def _chain() -> tuple[TraceBuilder, TraceBuilder]:
    """A's tool lookup runs B in a worker thread (context lost); B calls
    lookup again: a cycle only visible once B is stitched into A."""
    a = TraceBuilder(trace_id=A)
    root = a.agent("planner", end=1000)
    a.model(root, 0, 50)
    a.tool("lookup", root, 60, 900)
    b = TraceBuilder(trace_id=B)
    b._ids = itertools.count(100)
    sub = b.agent("helper", None, 100, 850)
    m = b.model(sub, 110, 810)
    b.tool("lookup", m, 160, 800)
    return a, b


def test_a_trace_that_ran_inside_another_is_stitched_when_both_settled() -> None:
    live, clock = _store(quiet_s=1.0)
    a, b = _chain()
    live.add([a.trace()])
    clock.now += 1
    [outer] = live.tick()
    assert not outer.analysis.cycles
    live.add([b.trace()])  # the worker thread's trace arrives later
    clock.now += 1
    got = {e.trace_id: e for e in live.tick()}
    assert set(got) == {A, B}
    assert got[B].inside_trace_id == A
    assert got[A].updates == 1 and got[A].trace.linked_trace_ids == [B]
    assert got[A].analysis.cycles, "the loop crosses the two traces"
    # Both settled in one tick: the same outcome.
    live2, clock2 = _store(quiet_s=1.0)
    live2.add([b.trace(), a.trace()])
    clock2.now += 1
    got2 = {e.trace_id: e for e in live2.tick()}
    assert got2[A].analysis.cycles and got2[B].inside_trace_id == A


def test_an_unrelated_settled_trace_is_not_reported_again() -> None:
    live, clock = _store(quiet_s=1.0)
    live.add([_reentrant(A).trace()])
    clock.now += 1
    live.tick()
    live.add([_reentrant(B, 100).trace()])  # overlaps A in time, not inside a tool
    clock.now += 1
    assert [e.trace_id for e in live.tick()] == [B]


def test_spans_arriving_while_a_tick_analyses_are_not_lost() -> None:
    live, clock = _store(quiet_s=1.0)
    b = _reentrant()
    live.add([_piece(b.spans[:2])])
    clock.now += 1
    import oncall_tui.sources.live_traces as mod

    real = mod.analyze
    started, go_on = threading.Event(), threading.Event()

    def slow(trace: Trace) -> object:
        started.set()
        go_on.wait(5)
        return real(trace)

    mod.analyze = slow  # type: ignore[assignment]
    try:
        ticker = threading.Thread(target=live.tick)
        ticker.start()
        assert started.wait(5)
        live.add([_piece(b.spans[2:])])  # not blocked by the analysis
        go_on.set()
        ticker.join(5)
    finally:
        mod.analyze = real
    entry = live.get(A)
    assert entry is not None and not entry.settled, "the late piece keeps it pending"
    clock.now += 1
    [again] = live.tick()
    assert again.span_count == 5 and again.analysis.cycles and again.updates == 1


def test_concurrent_receivers_lose_nothing() -> None:
    live, clock = _store(quiet_s=0.5)
    builders = [_reentrant(f"{n + 1:032x}", n * 10 + 1) for n in range(40)]

    def send(part: int) -> None:
        for b in builders:
            live.add([_piece([b.spans[part]])])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clock.now += 1
    settled = live.tick()
    assert len(settled) == 40 and all(e.span_count == 5 for e in settled)
    assert all(e.analysis.cycles for e in settled)
    assert live.stats().received_spans == 200


def test_pieces_as_the_receiver_hands_them_settle_like_the_file_reader() -> None:
    """The receiver hands unassembled pieces (fragments()); settled, they
    are the very trace read_traces makes of the whole, notes and all."""
    from oncall_tui.core.analysis import analyze
    from oncall_tui.core.models import QualityNote
    from oncall_tui.sources.live_traces import fragments

    b = _reentrant()
    spans = sorted(b.spans, key=lambda s: s.end_ns)
    note = QualityNote("malformed_span", "an odd value", spans[0].span_id, "req 1")
    live, clock = _store(quiet_s=1.0)
    live.add(fragments(spans[:2], [note], "otlp-json"))
    live.add(fragments(spans[2:], [], "otlp-json"))
    clock.now += 1
    [entry] = live.tick()
    whole = assemble(spans, source="otlp-json", notes=[note])[0]
    assert entry.trace.spans == whole.spans and entry.trace.quality == whole.quality
    assert entry.trace.completeness == "complete"
    assert entry.analysis.findings == analyze(whole).findings


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_split_and_order_of_a_trace_settles_to_the_whole(data: st.DataObject) -> None:
    """However an exporter splits a trace into requests and orders them,
    the settled trace has every span once and the diagnosis of the whole."""
    from oncall_tui.core.analysis import analyze
    from oncall_tui.sources.live_traces import fragments

    b = _reentrant()
    spans = data.draw(st.permutations(b.spans))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(spans) - 1), max_size=4)))
    parts = [spans[i:j] for i, j in zip([0, *cuts], [*cuts, len(spans)], strict=True)]
    live, clock = _store(quiet_s=1.0)
    for part in parts:
        live.add(fragments(list(part), [], "otlp-json"))
        clock.now += 0.5
    clock.now += 1
    [entry] = live.tick()
    assert sorted(s.span_id for s in entry.trace.spans) == sorted(s.span_id for s in b.spans)
    assert entry.requests == len(parts) and entry.trace.completeness == "complete"
    want = analyze(b.trace()).cycles
    assert [(c.nodes, c.laps) for c in entry.analysis.cycles] == [(c.nodes, c.laps) for c in want]


def test_a_batch_sent_twice_counts_once_before_and_after_the_trace_settled() -> None:
    """An exporter that got no answer sends the same batch again: the spans
    are kept once (no extra span, no extra finding), with a note saying so,
    whether the copy arrives before the trace settled or after."""
    import copy

    live, clock = _store(quiet_s=2.0)
    b = _reentrant()
    first = [copy.copy(s) for s in b.spans]
    live.add([_piece(first)])
    live.add([_piece([copy.copy(s) for s in b.spans[:2]])])  # retried before settling
    clock.now += 3.0
    [entry] = live.tick()
    assert entry.span_count == len(b.spans)
    assert len(entry.trace.spans) == len(b.spans)
    assert [f.kind for f in entry.analysis.findings].count("reentrancy_cycle") == 1
    assert any(n.kind == "resent" for n in entry.trace.quality)
    live.add([_piece([copy.copy(s) for s in b.spans[2:]])])  # retried after settling
    clock.now += 3.0
    [again] = live.tick()
    assert len(again.trace.spans) == len(b.spans)
    assert [f.kind for f in again.analysis.findings].count("reentrancy_cycle") == 1
    assert not any(n.kind == "duplicate_id" for n in again.trace.quality)


def test_a_different_span_under_a_known_id_is_still_reported_as_a_duplicate() -> None:
    import msgspec

    live, clock = _store(quiet_s=2.0)
    b = _reentrant()
    live.add([_piece(list(b.spans))])
    other = msgspec.structs.replace(b.spans[1], name="not-the-same", end_ns=b.spans[1].end_ns + 1)
    live.add([_piece([other])])
    clock.now += 3.0
    [entry] = live.tick()
    assert any(n.kind == "duplicate_id" for n in entry.trace.quality)
