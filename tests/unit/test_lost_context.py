"""Lost context propagation: calls recorded as siblings (or new roots) that nest
in time are inferred calls; parallel fan-out, which overlaps the same way, is not.

The headline case (issue 18): a tool's implementation runs an inner agent loop
whose spans lost their parent, so the trace lists them flat under the agent.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import Trace
from tests.builders import TraceBuilder


def _inferred(a) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(e.source, e.target) for e in a.graph.edges if e.kind == "inferred"}


def _flat_reentrancy(b: TraceBuilder, laps: int = 2) -> dict[str, list[str]]:
    """search -> (model picks lookup) -> lookup -> (model picks search) -> search ...
    as an agent framework records it when the tools' inner calls lose their
    context: every span a child of the agent, sequential inside each tool."""
    agent = b.agent("planner", end=10_000)
    b.model(agent, 0, 5)  # picks search
    ids: dict[str, list[str]] = {"tools": [], "models": []}
    t, end = 10, 9_000
    for n in range(2 * laps):
        ids["tools"].append(b.tool("search" if n % 2 == 0 else "lookup", agent, t, end))
        ids["models"].append(b.model(agent, t + 10, t + 50))  # the inner model call
        t, end = t + 60, end - 100
    # Each inner agent loop ends with one more model call before its tool returns.
    for n in range(2 * laps):
        b.model(agent, 9_000 - 100 * n - 60, 9_000 - 100 * n - 20)
    return ids


def test_flat_siblings_nested_in_time_are_inferred_calls_and_a_cycle() -> None:
    b = TraceBuilder()
    ids = _flat_reentrancy(b)
    a = analyze(b.trace())
    assert _inferred(a) >= {
        ("tool:search", "model:openai/gpt-x"),
        ("tool:search", "tool:lookup"),
        ("tool:lookup", "tool:search"),
    }
    [cycle] = a.cycles
    assert cycle.inferred and cycle.laps == 2 and cycle.max_nesting == 4
    assert cycle.witness[0] == ids["tools"][0] and cycle.witness[-1] == ids["tools"][2]
    [f] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert f.severity == "medium" and "inferred" in f.summary
    assert f.numbers["inferred"] == 1


def test_each_inside_the_one_before_as_siblings_is_found_too() -> None:
    """tool A, a model call inside it, tool B inside that model call, ... all
    children of the agent (the builders' nesting, propagation lost)."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.model(agent, 0, 5)
    a1 = b.tool("search", agent, 10, 900)
    m2 = b.model(agent, 20, 880)
    b.tool("lookup", agent, 30, 870)
    b.model(agent, 40, 860)
    a2 = b.tool("search", agent, 50, 850)
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert set(cycle.nodes) == {"tool:search", "tool:lookup", "model:openai/gpt-x"}
    assert cycle.witness[0] == a1 and cycle.witness[1] == m2 and cycle.witness[-1] == a2
    assert cycle.inferred and cycle.laps == 2


def test_parallel_fan_out_after_one_model_call_is_silent() -> None:
    """asyncio.gather of three tools the one model call chose: they start
    together and overlap (one even inside another), no model call inside."""
    b = TraceBuilder()
    agent = b.agent("fanout", end=1000)
    b.model(agent, 0, 50)
    b.tool("search", agent, 60, 400)
    b.tool("lookup", agent, 61, 200)
    b.tool("search", agent, 62, 390, args='{"q": 2}')
    b.model(agent, 410, 450)
    a = analyze(b.trace())
    assert _inferred(a) == set()
    assert a.cycles == [] and not [f for f in a.findings if f.kind == "reentrancy_cycle"]


def test_a_tool_with_recorded_inner_calls_keeps_its_siblings_out() -> None:
    """Context propagation works inside this tool (its model call is its
    child), so a sibling model call running meanwhile is not its call."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    tool = b.tool("search", agent, 10, 900)
    b.model(tool, 20, 60)
    b.model(agent, 100, 140)  # the agent's own call, e.g. while the tool runs in background
    b.tool("lookup", agent, 150, 300)
    a = analyze(b.trace())
    assert _inferred(a) == set()


def test_a_sub_agent_in_a_worker_thread_is_linked_into_the_tool() -> None:
    """A new root (the thread lost the context) inside the tool span, same
    process, its own spans properly nested under it: one inferred edge."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    outer = b.tool("delegate", agent, 10, 900)
    task = b.span("worker task", None, 20, 880)  # a plain root: the thread's first span
    sub = b.agent("researcher", task, 25, 870)
    m = b.model(sub, 30, 100)
    b.tool("delegate", sub, 110, 800)
    a = analyze(b.trace())
    assert ("tool:delegate", "agent:researcher") in _inferred(a)
    [cycle] = a.cycles
    assert cycle.witness[0] == outer and sub in cycle.witness
    assert cycle.inferred and cycle.laps == 2
    assert cycle.tokens == 120 and m  # the sub-agent's model call ran inside the loop


def test_stitched_traces_name_every_trace_of_the_loop() -> None:
    """Two traces merged because the second's root ran inside the first's
    tool (core/stitch.py): the cycle says which traces it spans."""
    outer_id, inner_id = "a1b2" * 8, "c3d4" * 8
    b = TraceBuilder(trace_id=outer_id)
    agent = b.agent("planner", end=1000)
    b.model(agent, 0, 5)
    tool = b.tool("delegate", agent, 10, 900)
    inner = TraceBuilder(trace_id=inner_id)
    inner._ids = b._ids  # span ids unique across both
    sub = inner.agent("researcher", None, 20, 880)
    inner.model(sub, 30, 100)
    again = inner.tool("delegate", sub, 110, 800)
    trace = Trace(outer_id, [*b.spans, *inner.spans], linked_trace_ids=[inner_id])
    a = analyze(trace)
    [cycle] = a.cycles
    assert cycle.witness[0] == tool and cycle.witness[-1] == again
    assert cycle.trace_ids == [outer_id, inner_id]
    [f] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert "across traces a1b2a1b2…, c3d4c3d4…" in f.summary
    assert f.numbers["trace_ids"] == f"{outer_id},{inner_id}"


def test_a_lost_root_on_another_host_is_not_linked() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.tool("delegate", agent, 10, 900)
    b.agent("researcher", None, 20, 880, host="other")
    assert _inferred(analyze(b.trace())) == set()


# --- properties -----------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    rounds=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["search", "lookup", "fetch"]),
                st.integers(0, 30),  # start jitter after the model call
                st.integers(5, 400),  # duration: any overlap, nesting or not
            ),
            min_size=1,
            max_size=6,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_parallel_fan_out_never_alarms(rounds: list[list[tuple[str, int, int]]]) -> None:
    """Rounds of: one model call, then the tools it chose, all started
    together (with jitter) and awaited together."""
    b = TraceBuilder()
    agent = b.agent("fanout", end=10**6)
    t = 0
    for tools in rounds:
        b.model(agent, t, t + 20)
        t += 21
        last = t
        for n, (name, jitter, dur) in enumerate(tools):
            b.tool(name, agent, t + jitter, t + jitter + dur, args=f'{{"n": {n}}}')
            last = max(last, t + jitter + dur)
        t = last + 1
    b.model(agent, t, t + 20)
    a = analyze(b.trace())
    assert _inferred(a) == set()
    assert a.cycles == [] and not [f for f in a.findings if f.kind == "reentrancy_cycle"]


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.sampled_from(["search", "lookup", "fetch"]), min_size=1, max_size=20),
    gaps=st.lists(st.integers(0, 5), min_size=40, max_size=40),
)
def test_a_plain_agent_loop_never_alarms(steps: list[str], gaps: list[int]) -> None:
    """model, tool, model, tool one after another (touching or not)."""
    b = TraceBuilder()
    agent = b.agent("support", end=10**6)
    t = 0
    for n, name in enumerate(steps):
        b.model(agent, t, t + 10)
        t += 10 + gaps[2 * n]
        b.tool(name, agent, t, t + 10, args=f'{{"n": {n}}}')
        t += 10 + gaps[2 * n + 1]
    b.model(agent, t, t + 10)
    a = analyze(b.trace())
    assert _inferred(a) == set()
    assert a.cycles == []
    assert not [f for f in a.findings if f.severity in ("medium", "high", "critical")]


@settings(max_examples=150, deadline=None)
@given(
    laps=st.integers(2, 5),
    nested=st.booleans(),
    jitter=st.lists(st.integers(1, 4), min_size=40, max_size=40),
    names=st.sampled_from([("search", "lookup"), ("search", "search"), ("a", "b")]),
)
def test_lost_context_reentrancy_is_found(
    laps: int, nested: bool, jitter: list[int], names: tuple[str, str]
) -> None:
    """Tool A, inner model call, tool B, inner model call, tool A ... recorded
    as siblings; the inner model call either returns before the next tool
    (an inner agent loop) or holds it (tool under the model call)."""
    b = TraceBuilder()
    agent = b.agent("planner", end=10**6)
    b.model(agent, 0, 5)
    t, end = 10, 100_000
    for n in range(2 * laps):
        b.tool(names[n % 2], agent, t, end)
        t += jitter[2 * n]
        if nested:
            b.model(agent, t, end - 1)
            t, end = t + jitter[2 * n + 1], end - 2
        else:
            b.model(agent, t, t + 3)
            t, end = t + 3 + jitter[2 * n + 1], end - 10
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert cycle.inferred
    expected = 2 * laps if names[0] == names[1] else laps
    assert cycle.laps == expected
    assert cycle.max_nesting == 2 * laps


def test_a_sub_agent_run_by_a_tool_body_recorded_beside_it_is_its_call() -> None:
    """Pydantic AI / LangGraph shape: the tool's body runs the inner agent
    under the outer agent's context, so each inner invoke_agent (with its own
    properly nested chat and tool spans) is a sibling inside the tool."""
    b = TraceBuilder()
    root = b.agent("analyst", end=1000)
    b.model(root, 10, 140)
    research = b.tool("research", root, 190, 770)
    inner = b.agent("analyst", root, 193, 766)
    b.model(inner, 195, 257)
    verify = b.tool("verify", inner, 267, 718)
    inner2 = b.agent("analyst", root, 273, 707)  # inside verify, recorded under the root
    b.model(inner2, 275, 350)
    again = b.tool("research", inner2, 362, 658)
    b.model(root, 773, 850)
    a = analyze(b.trace())
    assert {("tool:research", "agent:analyst"), ("tool:verify", "agent:analyst")} <= _inferred(a)
    [cycle] = a.cycles
    assert {"tool:research", "tool:verify"} <= set(cycle.nodes)
    assert cycle.witness[0] == research and cycle.witness[-1] == again
    assert inner in cycle.witness and verify in cycle.witness and inner2 in cycle.witness
    assert cycle.inferred and cycle.laps == 2 and cycle.tokens > 0


def test_a_plain_workflow_span_wrapping_the_lost_run_is_linked_with_it() -> None:
    """OpenAI Agents SDK shape: the lost inner run starts with a plain
    "Agent workflow" span; the agent and its calls hang below it."""
    b = TraceBuilder()
    root = b.agent("analyst", end=1000)
    turn = b.span("turn", root, 1, 990)
    b.model(turn, 2, 75)
    research = b.tool("research", turn, 83, 631)
    workflow = b.span("Agent workflow", turn, 84, 629)
    inner = b.agent("analyst", workflow, 85, 628)
    b.model(inner, 86, 155)
    b.tool("verify", inner, 159, 551)
    workflow2 = b.span("Agent workflow", turn, 161, 550)
    inner2 = b.agent("analyst", workflow2, 162, 548)
    b.model(inner2, 163, 230)
    again = b.tool("research", inner2, 235, 469)
    a = analyze(b.trace())
    assert ("tool:research", "agent:analyst") in _inferred(a)
    [cycle] = a.cycles
    assert cycle.witness[0] == research and cycle.witness[-1] == again
    assert inner in cycle.witness and cycle.inferred and cycle.laps == 2


def test_any_finding_over_stitched_traces_names_them() -> None:
    """The same stuck call made from the outer agent and again from a
    sub-agent's thread (a trace of its own, stitched in)."""
    outer_id, inner_id = "a1b2" * 8, "c3d4" * 8
    b = TraceBuilder(trace_id=outer_id)
    agent = b.agent("support", end=1000)
    tool = b.tool("delegate", agent, 10, 900, args='{"q": "x"}')
    inner = TraceBuilder(trace_id=inner_id)
    inner._ids = b._ids
    sub = inner.agent("support", None, 20, 880)  # same agent name: one agent run's calls
    for t in (30, 130, 230):
        inner.tool("lookup_order", sub, t, t + 10, args='{"id": 42}', status="error")
    trace = Trace(outer_id, [*b.spans, *inner.spans], linked_trace_ids=[inner_id])
    found = {f.kind: f for f in analyze(trace).findings}
    assert tool and "trace_ids" not in found["repeated_tool_call"].numbers  # one trace's spans
    # Evidence from both traces: the flight recorder's gaps span them.
    b.model(agent, 950, 990, complete=False)
    inner.model(sub, 300, 400, complete=False)
    trace = Trace(outer_id, [*b.spans, *inner.spans], linked_trace_ids=[inner_id])
    [gaps] = [f for f in analyze(trace).findings if f.kind == "flight_recorder_gaps"]
    assert gaps.numbers["trace_ids"] == f"{outer_id},{inner_id}"
    assert "(across traces a1b2a1b2…, c3d4c3d4…)" in gaps.summary
