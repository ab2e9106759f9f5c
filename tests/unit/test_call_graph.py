"""Call graph and reentrancy: the project's edge, so false alarms are tested as hard as hits."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.cycles import strongly_connected
from oncall_tui.core.models import Span, Trace
from tests.builders import TraceBuilder


def _reentrant(b: TraceBuilder) -> dict[str, str]:
    """tool A -> model -> tool B -> model -> tool A, each inside the one before."""
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    a1 = b.tool("search", m1, 10, 890)
    m2 = b.model(a1, 20, 880)
    b1 = b.tool("lookup", m2, 30, 870)
    m3 = b.model(b1, 40, 860)
    a2 = b.tool("search", m3, 50, 850)
    return {"agent": agent, "a1": a1, "m2": m2, "b1": b1, "m3": m3, "a2": a2}


def test_reentrancy_cycle_with_witness_path() -> None:
    b = TraceBuilder()
    ids = _reentrant(b)
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert set(cycle.nodes) == {"tool:search", "tool:lookup", "model:openai/gpt-x"}
    # The witness starts at the first call of the re-entered node and ends at the re-entry.
    assert cycle.witness_keys[0] == cycle.witness_keys[-1]
    assert "tool:lookup" in cycle.witness_keys and ids["b1"] in cycle.witness
    # Each witness span is called by the one before it.
    by_id = {s.span_id: s for s in b.spans}
    for outer, inner in zip(cycle.witness, cycle.witness[1:], strict=False):
        assert by_id[inner].parent_id == outer
    assert cycle.laps >= 2 and not cycle.inferred
    assert cycle.tokens > 0 and cycle.duration_ns > 0
    kinds = {f.kind: f for f in a.findings}
    assert kinds["reentrancy_cycle"].severity == "high"
    assert kinds["reentrancy_cycle"].span_ids == tuple(cycle.witness)


def test_plain_agent_loop_is_not_a_cycle() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    t = 0
    for n in range(6):
        b.model(agent, t, t + 50)
        b.tool("search" if n % 2 else "lookup", agent, t + 60, t + 90, args=f'{{"n": {n}}}')
        t += 100
    a = analyze(b.trace())
    assert a.cycles == []
    assert "reentrancy_cycle" not in {f.kind for f in a.findings}


def test_parallel_sibling_tools_raise_no_false_cycle() -> None:
    """Two tool calls running at once under one agent, in both nestings."""
    b = TraceBuilder()
    agent = b.agent("fanout", end=1000)
    b.tool("a", agent, 10, 200)
    b.tool("b", agent, 20, 100)
    b.tool("b", agent, 300, 500)
    b.tool("a", agent, 310, 400)
    a = analyze(b.trace())
    assert a.cycles == []


def test_wrappers_and_generic_spans_do_not_hide_or_invent_cycles() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    # Gateway span around the provider call: same node key as its parent.
    m = b.model(agent, 0, 500)
    b.model(m, 1, 499)
    # A generic "step" span used in two different contexts must not loop them.
    step1 = b.span("step", agent, 510, 700)
    tool = b.tool("fetch", step1, 520, 690)
    step2 = b.span("step", tool, 530, 680)
    b.model(step2, 540, 670)
    a = analyze(b.trace())
    assert a.cycles == []
    assert a.graph.nodes["model:openai/gpt-x"].calls == 2  # wrapper merged, not counted twice
    # ...but a re-entry through generic spans is still found.
    b2 = TraceBuilder()
    ag = b2.agent("x", end=1000)
    t1 = b2.tool("search", ag, 0, 900)
    s = b2.span("http POST", t1, 10, 800)
    m2 = b2.model(s, 20, 700)
    s2 = b2.span("step", m2, 30, 600)
    b2.tool("search", s2, 40, 500)
    [cycle] = analyze(b2.trace()).cycles
    assert set(cycle.nodes) == {"tool:search", "model:openai/gpt-x"}


def test_lost_context_propagation_gives_inferred_edges_and_inferred_cycle() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    tool = b.tool("search", agent, 10, 900)
    # Inner calls lost their parent: new roots, same service and host, inside the tool.
    m = b.model(None, 20, 800)
    b.tool("search", None, 30, 700, parent_id="ffffffffffffffff")  # orphan inside it all
    a = analyze(b.trace())
    inferred = [e for e in a.graph.edges if e.kind == "inferred"]
    assert {(e.source, e.target) for e in inferred} >= {("tool:search", "model:openai/gpt-x")}
    [cycle] = a.cycles
    assert cycle.inferred
    assert cycle.witness[0] == tool
    assert m in cycle.witness
    assert {f.kind: f.severity for f in a.findings}["reentrancy_cycle"] == "medium"


def test_other_host_is_not_inferred() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.tool("search", agent, 10, 900)
    b.model(None, 20, 800, host="other-host")
    a = analyze(b.trace())
    assert not [e for e in a.graph.edges if e.kind == "inferred"]


def test_model_chose_tool_edges_explain_but_do_not_close_loops() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    b.model(
        agent,
        0,
        100,
        attrs={
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1"}]}]
            )
        },
    )
    b.tool("search", agent, 110, 200, attrs={"gen_ai.tool.call.id": "call_1"})
    a = analyze(b.trace())
    chose = [e for e in a.graph.edges if e.kind == "chose_tool"]
    assert [(e.source, e.target, e.count) for e in chose] == [
        ("model:openai/gpt-x", "tool:search", 1)
    ]
    assert a.cycles == []


def test_non_genai_trace_graphs_by_span_name() -> None:
    b = TraceBuilder()
    root = b.span("GET /", end=100)
    b.span("db.query", root, 1, 10)
    a = analyze(b.trace())
    assert set(a.graph.nodes) == {"span:GET /", "span:db.query"}
    assert a.graph.genai is False


def test_deep_trace_does_not_recurse() -> None:
    b = TraceBuilder()
    parent = b.agent("deep", end=10**6)
    for i in range(5000):
        parent = b.tool("t" if i % 2 else "u", parent, i + 1, 10**6 - i - 1)
    a = analyze(b.trace())
    assert a.cycles and a.cycles[0].max_nesting >= 5000


def _brute_sccs(nodes: list[int], edges: set[tuple[int, int]]) -> set[frozenset[int]]:
    reach = {v: {v} for v in nodes}
    changed = True
    while changed:
        changed = False
        for u, v in edges:
            new = reach[v] - reach[u]
            if new:
                reach[u] |= new
                changed = True
    return {frozenset(w for w in nodes if w in reach[v] and v in reach[w]) for v in nodes}


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 8),
    edges=st.sets(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20),
)
def test_scc_equals_brute_force_reachability(n: int, edges: set[tuple[int, int]]) -> None:
    edges = {(u, v) for u, v in edges if u < n and v < n}
    nodes = [str(i) for i in range(n)]
    succ: dict[str, list[str]] = {}
    for u, v in sorted(edges):
        succ.setdefault(str(u), []).append(str(v))
    got = {frozenset(int(x) for x in comp) for comp in strongly_connected(nodes, succ)}
    assert got == _brute_sccs(list(range(n)), edges)
    assert sorted(itertools.chain.from_iterable(got)) == list(range(n))


def test_parallel_calls_of_one_tool_are_fan_out_not_reentrancy() -> None:
    """asyncio.gather of two searches: the second starts a little later and ends
    earlier, inside the first, same process. Not a lost context, not a loop."""
    b = TraceBuilder()
    agent = b.agent("fanout", end=1000)
    b.tool("search", agent, 10, 200)
    b.tool("search", agent, 20, 100)
    b.tool("fetch", agent, 30, 90)
    a = analyze(b.trace())
    assert [e for e in a.graph.edges if e.kind == "inferred"] == []
    assert a.cycles == []


def test_a_tool_span_without_its_name_attribute_lands_on_the_same_node() -> None:
    """search (named) -> model -> "execute_tool search" (no gen_ai.tool.name):
    by the span-name convention it is the same tool, so the loop is not hidden."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    outer = b.tool("search", agent, 0, 900)
    m = b.model(outer, 10, 800)
    inner = b.span(
        "execute_tool search", m, 20, 700, attrs={"gen_ai.operation.name": "execute_tool"}
    )
    a = analyze(b.trace())
    assert "tool:search" in a.graph.nodes and "tool:execute_tool search" not in a.graph.nodes
    [cycle] = a.cycles
    assert cycle.witness[0] == outer and cycle.witness[-1] == inner


def test_a_model_span_without_model_attributes_is_named_by_its_span_name() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.span(
        "chat gpt-x",
        agent,
        0,
        10,
        attrs={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"},
    )
    b.model(agent, 20, 30, model="gpt-x")
    nodes = analyze(b.trace()).graph.nodes
    assert nodes["model:openai/gpt-x"].calls == 2 and not any("unknown" in k for k in nodes)


def test_the_index_cache_lets_a_closed_trace_go() -> None:
    """Closing a big trace must free it: the shared span index does not hold it."""
    import gc
    import weakref

    from oncall_tui.core import tree as tree_mod

    trace = Trace("ab" * 16, [Span("ab" * 16, f"{i:016x}", None, "s", 0, 1) for i in range(50)])
    alive = weakref.ref(trace)
    first = tree_mod.tree_for(trace)
    assert tree_mod.tree_for(trace) is first  # shared, not rebuilt
    del trace, first
    gc.collect()
    assert alive() is None
    assert all(ref() is not None for ref, _, _ in tree_mod._CACHE.values())


def test_the_index_cache_is_shared_safely_by_threads() -> None:
    """`trace onset` fetches a store's buckets in threads that each assemble
    (and index) traces: one thread evicting the oldest entry while another
    adds one crashed the command ("dictionary changed size during iteration")."""
    import sys
    import threading

    from oncall_tui.core import tree as tree_mod

    errors: list[BaseException] = []
    kept: list[Trace] = []  # alive, so the cache is full and evicts

    def index_many(n: int) -> None:
        try:
            for _ in range(n):
                spans = [
                    Span("ab" * 16, f"{j:016x}", None if j == 0 else "0" * 16, "s", j, j + 1)
                    for j in range(3)
                ]
                trace = Trace("ab" * 16, spans)
                kept.append(trace)
                assert len(tree_mod.tree_for(trace).parent) == 3
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=index_many, args=(2000,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]
    assert len(tree_mod._CACHE) <= tree_mod._CACHE_SIZE
