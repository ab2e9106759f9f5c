"""Loops that repeat: identical tool calls compare what the tool was called with
(canonical JSON), never a schema or a missing value; every loop says what it cost."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from oncall_tui.core.findings import canonical_arguments
from tests.builders import TraceBuilder


def _repeated(b: TraceBuilder) -> list:  # type: ignore[type-arg]
    return [f for f in analyze(b.trace()).findings if f.kind == "repeated_tool_call"]


def test_key_order_and_whitespace_do_not_make_calls_different() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    ids = [
        b.tool("search", agent, t, t + 10, args=args)
        for t, args in (
            (0, '{"q": "order 42", "limit": 5}'),
            (100, '{"limit":5,"q":"order 42"}'),
            (200, '\n{ "q" : "order 42" ,\n  "limit": 5 }'),
        )
    ]
    [f] = _repeated(b)
    assert f.span_ids == tuple(ids) and f.numbers["calls"] == 3
    assert canonical_arguments('{"b": 1, "a": [2, {"d": 0, "c": 1}]}') == (
        '{"a":[2,{"c":1,"d":0}],"b":1}'
    )


def test_different_arguments_each_time_are_not_repeated() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    for n, t in enumerate((0, 100, 200, 300)):
        b.tool("search", agent, t, t + 10, args=f'{{"q": "page {n}"}}')
    assert _repeated(b) == []


def test_calls_without_recorded_arguments_are_never_identical() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    for t in (0, 100, 200, 300):
        b.span(
            "execute_tool search",
            agent,
            t,
            t + 10,
            attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        )
    assert _repeated(b) == []


def test_the_repetition_cost_is_the_model_calls_that_asked_again() -> None:
    """m1 -> search -> m2 -> search -> m3 -> search -> m4: m2 and m3 read a
    repeated result and asked again (2 x 120 tokens); m1 and m4 would run anyway."""
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    t = 0
    for _ in range(3):
        b.model(agent, t, t + 40)
        b.tool("search", agent, t + 50, t + 90, status="error")
        t += 100
    b.model(agent, t, t + 40)
    [f] = _repeated(b)
    assert f.numbers["wasted_tokens"] == 240
    assert "cost 240 model tokens" in f.summary


def test_a_schema_repair_loop_says_what_the_repairs_cost() -> None:
    b = TraceBuilder()
    agent = b.agent("extract", end=1000)
    b.model(agent, 0, 10)
    for t in (20, 40, 60):
        b.span("validate output schema", agent, t, t + 5, status="error")
        b.model(agent, t + 6, t + 15, attrs={"gen_ai.request.repair_reason": "JSON schema"})
    [f] = [f for f in analyze(b.trace()).findings if f.kind == "structured_output_retry"]
    assert f.numbers["wasted_tokens"] == 3 * 120
    assert "the repairs cost 360 model tokens" in f.summary


def test_a_tool_re_entered_with_the_same_arguments_is_reentrancy_not_repetition() -> None:
    """lookup_policy(topic=refund) > check_eligibility > lookup_policy(topic=refund)
    > ...: each call inside the one before is the reentrancy finding's."""
    b = TraceBuilder()
    parent = b.agent("support_agent", end=1000)
    t, end = 10, 990
    for n in range(5):
        name, args = (
            ("lookup_policy", '{"topic": "refund"}')
            if n % 2 == 0
            else (
                "check_eligibility",
                '{"customer": "C-9"}',
            )
        )
        tool = b.tool(name, parent, t, end, args=args)
        parent = b.model(tool, t + 1, end - 1)
        t, end = t + 10, end - 10
    found = {f.kind for f in analyze(b.trace()).findings}
    assert "reentrancy_cycle" in found and "repeated_tool_call" not in found
