"""The hand-written traces in tests/fixtures/traces, each the smallest honest
example of one thing the engine must get right (see each file's _comment)."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.models import Trace
from oncall_tui.sources.detect import read_traces

TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "traces"


def _sid(n: int) -> str:
    return f"{n:016x}"


def _load(name: str) -> tuple[Trace, Analysis]:
    path = TRACES / name
    [trace] = read_traces(path.read_bytes(), source=str(path))
    return trace, analyze(trace)


def _is_call_chain(trace: Trace, witness: list[str]) -> bool:
    """Each witness span sits inside the one before it (by parent links or, for
    an inferred hop, by time inside the same process)."""
    by_id = {s.span_id: s for s in trace.spans}
    for outer, inner in pairwise(witness):
        o, i = by_id[outer], by_id[inner]
        ancestors = set()
        cur = i.parent_id
        while cur is not None and cur not in ancestors and cur in by_id:
            ancestors.add(cur)
            cur = by_id[cur].parent_id
        nested = o.start_ns <= i.start_ns and i.end_ns <= o.end_ns and o.host == i.host
        if outer not in ancestors and not nested:
            return False
    return True


def test_reentrancy_through_wrapper_spans_is_found_with_a_real_witness() -> None:
    trace, a = _load("reentrancy_wrappers.json")
    assert trace.spans[0].span_id == _sid(1)  # uppercase hex came in, lowercase out
    [cycle] = a.cycles
    assert set(cycle.nodes) == {"model:openai/gpt-x", "tool:lookup", "tool:search"}
    assert not cycle.inferred
    assert cycle.witness_keys[0] == cycle.witness_keys[-1]
    assert _is_call_chain(trace, cycle.witness)
    # The chat span right under the gateway chat (same key) is one call, not a lap.
    assert _sid(6) not in cycle.witness
    assert cycle.laps == 2
    [finding] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert finding.severity == "high"
    assert finding.span_ids == tuple(cycle.witness)
    edges = {(e.source, e.target, e.kind) for e in a.graph.edges}
    # The plain "step" span between the tool and the gateway is collapsed through.
    assert ("tool:search", "model:openai/gpt-x", "call") in edges
    assert not any(k.startswith("span:") for k in a.graph.nodes)


def test_lost_context_propagation_gives_an_inferred_edge_and_cycle() -> None:
    trace, a = _load("lost_context.json")
    by_id = {s.span_id: s for s in trace.spans}
    assert by_id[_sid(3)].parent_id is None  # base64 ids decoded, the lost link is lost
    assert by_id[_sid(5)].host == "agent-other:7"
    inferred = [e for e in a.graph.edges if e.kind == "inferred"]
    assert [(e.source, e.target, e.span_ids) for e in inferred] == [
        ("tool:lookup", "model:openai/gpt-x", [_sid(3)])
    ]
    [cycle] = a.cycles
    assert cycle.inferred
    assert cycle.witness == [_sid(2), _sid(3), _sid(4)]
    [finding] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert finding.severity == "medium"  # rests on an inference: said, not shouted


def test_plain_agent_loop_is_not_a_cycle_and_a_complete_trace_has_no_findings() -> None:
    trace, a = _load("plain_agent_loop.json")
    assert len(trace.spans) == 8
    assert {s.kind for s in trace.spans} == {"server", "client", "internal"}
    assert a.cycles == []
    assert a.findings == []
    assert a.quality == []
    agent_edges = {(e.target, e.count) for e in a.graph.edges if e.source == "agent:support"}
    assert agent_edges == {("model:openai/gpt-x", 4), ("tool:search", 2), ("tool:fetch", 1)}


def test_repeated_identical_failing_tool_call() -> None:
    _, a = _load("repeated_tool_call.json")
    [f] = [f for f in a.findings if f.kind == "repeated_tool_call"]
    assert f.numbers["calls"] == 4 and f.numbers["errors"] == 3
    assert f.span_ids == (_sid(3), _sid(5), _sid(7), _sid(9))
    assert "get_weather" in f.summary and "under agent:weather" in f.summary
    assert a.cycles == []
    # The tool answered "" each time: an empty answer, not a missing record.
    [empty] = [f for f in a.findings if f.kind == "empty_tool_result"]
    assert empty.numbers["calls"] == 4
    assert not [f for f in a.findings if f.kind == "flight_recorder_gaps"]


def test_parent_loops_are_cut_and_reported_without_hanging() -> None:
    trace, a = _load("parent_loop.json")
    loops = [q for q in trace.quality if q.kind == "parent_loop"]
    # Span 5 is its own parent; 2 -> 4 -> 3 -> 2 is cut where the walk met it.
    assert {q.span_id for q in loops} == {_sid(5), _sid(2)}
    assert a.summary.span_count == 5
    assert any(f.kind == "data_quality" for f in a.findings)


def test_duplicates_orphans_and_backwards_spans_are_noted_and_nothing_is_lost() -> None:
    trace, a = _load("duplicates.json")
    assert len(trace.spans) == 7  # kept as given; the analysis uses the first of each id
    kinds = sorted((q.kind, q.span_id) for q in trace.quality)
    assert kinds == [
        ("duplicate_id", _sid(2)),
        ("duplicate_id", _sid(3)),
        ("negative_duration", _sid(5)),
        ("orphan", _sid(4)),
    ]
    assert a.graph.nodes["model:openai/gpt-x"].calls == 1


def test_hostile_names_reach_no_terminal_raw(tmp_path) -> None:
    path = TRACES / "hostile_names.json"
    _, a = _load("hostile_names.json")
    assert len(a.cycles) == 1  # the hostile names are really in the output paths
    raw = ("\x1b", "\x07", "\x9b", "\u202e")
    for args in (
        ["trace", "analyze", str(path), "--fail-on", "critical"],
        ["trace", "graph", str(path)],
        ["trace", "graph", str(path), "--format", "dot"],
        ["trace", "graph", str(path), "--format", "mermaid"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "oncall_tui", *args], capture_output=True, timeout=60
        )
        out = proc.stdout.decode()
        assert proc.returncode == 0, proc.stderr
        assert not any(c in out for c in raw), args
        assert "\\x1b" in out


def test_a_gateway_span_and_the_call_it_wraps_count_once() -> None:
    _, a = _load("reentrancy_wrappers.json")
    # Five model spans carry 940 tokens each; span 6 repeats its wrapper's usage.
    model = a.graph.nodes["model:openai/gpt-x"]
    assert (model.calls, model.tokens) == (4, 4 * 940)
    [cycle] = a.cycles
    # Inside the re-entered search call: gateway chat (5) and chat (9); not 6 again.
    assert cycle.tokens == 2 * 940
