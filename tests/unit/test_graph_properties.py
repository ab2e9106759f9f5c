"""Properties of the span tree, the call graph and reentrancy over random traces:
bad parent links never hang, plain agent loops never alarm, wrappers never hide
or invent a cycle, and every reported cycle has a witness that really nests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.tree import SpanTree
from tests.builders import TraceBuilder


def _sid(i: int) -> str:
    return f"{i + 1:016x}"


@settings(max_examples=150, deadline=None)
@given(parents=st.lists(st.integers(-2, 30), min_size=1, max_size=30))
def test_any_parent_pointers_index_to_a_forest_without_hanging(parents: list[int]) -> None:
    # -1: root, -2: a parent that is not in the trace, else an index (maybe itself,
    # maybe forming loops of any length).
    n = len(parents)
    spans = [
        Span(
            trace_id="ab" * 16,
            span_id=_sid(i),
            parent_id=None if p == -1 else ("ff" * 8 if p == -2 or p >= n else _sid(p)),
            name=f"s{i}",
            start_ns=i,
            end_ns=i + 10,
        )
        for i, p in enumerate(parents)
    ]
    tree = SpanTree(Trace(trace_id="ab" * 16, spans=spans))
    assert sorted(tree.order) == list(range(n))  # every span once, parents first
    for i in tree.order:
        p = tree.parent[i]
        assert p < 0 or tree.order.index(p) < tree.order.index(i)
    loops = {i for i, p in enumerate(parents) if 0 <= p < n}
    if not tree.loop_cut:
        # No loop cut: following parents from anywhere reaches a root.
        for i in loops:
            seen = set()
            j = i
            while 0 <= j < n and 0 <= parents[j] < n and j not in seen:
                seen.add(j)
                j = parents[j]
            assert j not in seen
    analyze(Trace(trace_id="ab" * 16, spans=spans))  # and the whole analysis terminates


_STEP = st.sampled_from(["model", "search", "fetch", "lookup"])


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_STEP, min_size=1, max_size=30), errors=st.sets(st.integers(0, 29)))
def test_a_plain_agent_loop_is_never_a_cycle(steps: list[str], errors: set[int]) -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=10_000)
    t = 0
    for n, step in enumerate(steps):
        status = "error" if n in errors else "unset"
        if step == "model":
            b.model(agent, t, t + 5, status=status)
        else:
            b.tool(step, agent, t, t + 5, status=status)
        t += 10
    a = analyze(b.trace())
    assert a.cycles == []
    assert not [f for f in a.findings if f.kind == "reentrancy_cycle"]


@settings(max_examples=150, deadline=None)
@given(
    depth=st.integers(2, 6),
    wrap=st.lists(st.sampled_from(["none", "plain", "same"]), min_size=12, max_size=12),
)
def test_wrappers_never_hide_or_invent_reentrancy(depth: int, wrap: list[str]) -> None:
    """search -> model -> search ... nested ``depth`` calls deep, with plain
    spans or same-key wrappers slipped in between at random: still exactly one
    cycle over {model, search}, laps = number of search calls on the chain."""
    b = TraceBuilder()
    parent = b.agent("support", end=10_000)
    t, end = 1, 9_999
    searches = 0
    for level in range(2 * depth):
        kind = wrap[level % len(wrap)]
        if kind == "plain":
            parent = b.span("step", parent, t, end)
            t, end = t + 1, end - 1
        if level % 2 == 0:
            parent = b.tool("search", parent, t, end)
            searches += 1
            if kind == "same":
                parent = b.tool("search", parent, t + 1, end - 1)  # a wrapper, not a lap
        else:
            parent = b.model(parent, t, end)
            if kind == "same":
                parent = b.model(parent, t + 1, end - 1)
        t, end = t + 2, end - 2
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert set(cycle.nodes) == {"model:openai/gpt-x", "tool:search"}
    assert cycle.laps == searches
    by_id = {s.span_id: s for s in b.spans}
    for outer, inner in zip(cycle.witness, cycle.witness[1:], strict=False):
        o, i = by_id[outer], by_id[inner]
        assert o.start_ns <= i.start_ns and i.end_ns <= o.end_ns
    assert cycle.witness_keys[0] == cycle.witness_keys[-1]
