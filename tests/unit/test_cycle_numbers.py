"""The numbers of a reentrancy finding count what ran: laps and nesting count
tool calls of the loop (agent, model, chain and wrapper spans between them add
nothing), and tokens are the model tokens spent inside the loop."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from tests.builders import TraceBuilder


def _agents_between(b: TraceBuilder, laps: int = 2) -> dict[str, list[str]]:
    """A tool whose implementation runs a sub-agent (invoke_agent > chain step
    > chat, then execute_tool), the way util-genai or an agent SDK records it
    with context intact: search > agent > step > [chat, lookup > agent > step >
    [chat, search > ...]]. Each chat carries usage; no chat is in the loop."""
    ids: dict[str, list[str]] = {"tools": [], "models": [], "agents": []}
    parent = b.agent("planner", end=100_000)
    b.model(parent, 0, 5)
    t, end = 10, 99_000
    for n in range(2 * laps):
        tool = b.tool("search" if n % 2 == 0 else "lookup", parent, t, end)
        wrapper = b.tool("search" if n % 2 == 0 else "lookup", tool, t + 1, end - 1)
        sub = b.agent("inner", wrapper, t + 2, end - 2)
        step = b.span("RunnableSequence", sub, t + 3, end - 3)  # a framework chain span
        ids["models"].append(b.model(step, t + 4, t + 8))
        ids["tools"].append(tool)
        ids["agents"].append(sub)
        parent = step
        t, end = t + 10, end - 10
    return ids


def test_two_tools_re_entering_each_other_twice_is_two_laps() -> None:
    b = TraceBuilder()
    ids = _agents_between(b, laps=2)
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert set(cycle.nodes) == {"tool:search", "tool:lookup", "agent:inner"}
    assert cycle.laps == 2  # search > lookup > search > lookup
    assert cycle.max_nesting == 4  # four tool calls, however many spans between
    # One lap of evidence: the first search to its re-entry.
    assert cycle.witness[0] == ids["tools"][0] and cycle.witness[-1] == ids["tools"][2]
    [f] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert "2 laps, nesting 4" in f.summary


def test_three_laps_and_nesting_six() -> None:
    b = TraceBuilder()
    _agents_between(b, laps=3)
    [cycle] = analyze(b.trace()).cycles
    assert (cycle.laps, cycle.max_nesting) == (3, 6)


def test_tokens_count_the_model_calls_inside_the_loop() -> None:
    """No chat span is part of the loop's component, yet each one ran inside
    it: 4 calls x (100 in + 20 out). The planner's first call (before the
    loop) is not counted; the calls inside the re-entered search are wasted."""
    b = TraceBuilder()
    _agents_between(b, laps=2)
    a = analyze(b.trace())
    [cycle] = a.cycles
    assert cycle.tokens == 4 * 120
    assert cycle.wasted_tokens == 2 * 120
    [f] = [f for f in a.findings if f.kind == "reentrancy_cycle"]
    assert f.numbers["tokens"] == 480 and f.numbers["wasted_tokens"] == 240
    assert "480 tokens inside the loop, 240 of them in re-entered calls" in f.summary


def test_a_gateway_span_and_the_provider_span_it_wraps_count_once() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    outer = b.tool("search", agent, 0, 900)
    gateway = b.model(outer, 10, 800)
    b.model(gateway, 11, 799)  # same usage reported again by the provider span
    b.tool("search", gateway, 20, 700)
    [cycle] = analyze(b.trace()).cycles
    assert cycle.tokens == 120 and cycle.laps == 2


def test_a_tool_that_calls_the_model_once_is_not_a_loop() -> None:
    """chat > summarize > chat: the model re-entered once through a tool that
    uses it, but no tool comes round again."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m = b.model(agent, 0, 900)
    tool = b.tool("summarize", m, 10, 800)
    b.model(tool, 20, 700)
    a = analyze(b.trace())
    assert a.cycles == []
    assert not [f for f in a.findings if f.kind == "reentrancy_cycle"]


def test_agents_and_models_calling_each_other_without_a_tool_are_not_reentrancy() -> None:
    """OpenLLMetry stamps the agent's name on every span in its context, the
    HTTP spans below a chat call included: agent > chat > "agent" is a
    mislabelled HTTP span, not a loop."""
    b = TraceBuilder()
    agent = b.agent("support_agent", end=1000)
    chat = b.model(agent, 0, 200)
    b.span(
        "POST",
        chat,
        10,
        40,
        attrs={"gen_ai.agent.name": "support_agent", "http.status_code": 200},
    )
    b.tool("get_weather", agent, 210, 220)
    a = analyze(b.trace())
    assert a.cycles == []
    assert not [f for f in a.findings if f.kind == "reentrancy_cycle"]
