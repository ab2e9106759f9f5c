"""Traces split by lost thread context (a sub-agent in a worker thread starts
a new trace), joined again when read together: core/stitch.py and the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from oncall_tui.cli.main import main
from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import Trace
from oncall_tui.core.stitch import find, stitch
from tests.builders import TraceBuilder

A, B, C = "a" * 32, "b" * 32, "c" * 32


def _builder(trace_id: str, first_id: int, **kw: Any) -> TraceBuilder:
    b = TraceBuilder(trace_id=trace_id, **kw)
    b._ids = itertools.count(first_id)  # span ids unique across the traces
    return b


def _chain() -> tuple[TraceBuilder, TraceBuilder, TraceBuilder]:
    """A's tool lookup runs B in a worker thread; B's tool search runs C, whose
    tool is lookup again: lookup -> search -> lookup, across three traces."""
    a = _builder(A, 1)
    root = a.agent("planner", end=1000)
    a.model(root, 0, 50)
    a.tool("lookup", root, 60, 900)
    b = _builder(B, 100)
    sub = b.agent("helper", None, 100, 850)
    b.model(sub, 110, 150)
    b.tool("search", sub, 160, 800)
    c = _builder(C, 200)
    sub2 = c.agent("helper", None, 200, 700)
    c.model(sub2, 210, 250)
    c.tool("lookup", sub2, 260, 600)
    return a, b, c


def test_a_chain_of_worker_thread_traces_is_one_trace_with_its_cycle() -> None:
    a, b, c = _chain()
    [trace] = stitch([c.trace(), a.trace(), b.trace()])  # any order
    assert trace.trace_id == A
    assert trace.linked_trace_ids == [B, C]
    assert len(trace.spans) == len(a.spans) + len(b.spans) + len(c.spans)
    assert trace.spans[0].trace_id == A, "the outer trace's spans come first"
    roots = [s for s in trace.spans if s.parent_id is None]
    assert len(roots) == 3, "inner roots keep parent None: the link is inferred, not data"
    notes = [q for q in trace.quality if q.kind == "linked_trace"]
    assert [n.span_id for n in notes] == [b.spans[0].span_id, c.spans[0].span_id]
    assert "inside tool span" in notes[0].detail and A in notes[0].detail
    result = analyze(trace)
    [cycle] = result.cycles
    assert {"tool:lookup", "tool:search"} <= set(cycle.nodes)
    assert cycle.inferred


def test_unrelated_traces_are_left_alone() -> None:
    a, _, _ = _chain()
    elsewhere = _builder(B, 100, host="h2")  # another host: a different process
    sub = elsewhere.agent("helper", None, 100, 850)
    elsewhere.tool("search", sub, 160, 800)
    traces = [a.trace(), elsewhere.trace()]
    assert stitch(traces) is traces
    # A root inside a model span (not a tool) is not a call made by a tool.
    m = _builder(C, 300)
    m.agent("other", None, 10, 40)  # inside A's model span 0..50
    traces = [a.trace(), m.trace()]
    assert stitch(traces) is traces
    # A root that outlives the tool did not run inside it.
    late = _builder(C, 400)
    late.agent("late", None, 100, 950)
    assert [t.trace_id for t in stitch([a.trace(), late.trace()])] == [A, C]


def test_a_trace_never_merges_into_itself_and_equal_intervals_make_no_loop() -> None:
    one = _builder(A, 1)
    one.tool("lookup", None, 0, 100)  # its own root is a tool: not its container
    assert stitch([one.trace(), one.trace()])[0].linked_trace_ids == []
    x, y = _builder(A, 1), _builder(B, 100)
    x.tool("t", None, 0, 100)
    y.tool("t", None, 0, 100)  # each root inside the other's tool
    out = stitch([x.trace(), y.trace()])
    assert len(out) == 1 and out[0].linked_trace_ids in ([B], [A])


def test_completeness_is_the_weaker_of_the_two() -> None:
    a, b, _ = _chain()
    inner = b.trace()
    inner.completeness, inner.completeness_reason = "partial", "cut by the store"
    [trace] = stitch([a.trace(), inner])
    assert trace.completeness == "partial"
    assert trace.completeness_reason == f"linked trace {B}: cut by the store"


def test_find_names_outer_or_inner() -> None:
    a, b, c = _chain()
    traces = stitch([a.trace(), b.trace(), c.trace()])
    assert find(traces, C.upper()) == find(traces, A) == traces
    assert find(traces, "d" * 32) == []


def test_stitching_is_linear_enough_for_many_traces() -> None:
    """2,000 traces on one process, each nested in the tool of the one before:
    one chain, no recursion, no quadratic walk."""
    traces: list[Trace] = []
    for n in range(2000):
        b = _builder(f"{n + 1:032x}", n * 10 + 1)
        root = b.agent("a", None, n, 100_000 - n)
        b.tool("t", root, n, 100_000 - n)
        traces.append(b.trace())
    [one] = stitch(traces)
    assert len(one.linked_trace_ids) == 1999


# ------------------------------------------------------------------ the CLI


def _file(tmp_path: Path) -> Path:
    a, b, c = _chain()
    path = tmp_path / "threads.jsonl"
    path.write_bytes(b"\n".join(x.otlp() for x in (b, c, a)))
    return path


def test_analyze_reports_the_linked_trace_ids(tmp_path: Path, capsys: Any) -> None:
    path = _file(tmp_path)
    assert main(["trace", "analyze", str(path), "--json", "--fail-on", "critical"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [a] = doc["traces"]
    assert a["summary"]["trace_id"] == A
    assert doc["linked_trace_ids"] == {A: [B, C]}
    assert any(f["kind"] == "reentrancy_cycle" for f in a["findings"])
    main(["trace", "analyze", str(path), "--fail-on", "critical"])
    out = capsys.readouterr().out
    assert f"linked traces (context lost across threads): {B}, {C}" in out


@pytest.mark.parametrize("wanted", [A, B, C])
def test_trace_id_of_any_part_gives_the_stitched_trace(
    tmp_path: Path, capsys: Any, wanted: str
) -> None:
    path = _file(tmp_path)
    main(["trace", "graph", str(path), "--json", "--trace-id", wanted])
    doc = json.loads(capsys.readouterr().out)
    assert doc["trace_id"] == A and doc["linked_trace_ids"] == [B, C]
    assert doc["cycles"]
