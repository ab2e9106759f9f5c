"""Hidden reasoning from standard attributes only: when no span says when the
first *visible* token came, estimate it from the stream rate, and say so."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from oncall_tui.core.findings import ESTIMATE_METHOD, ESTIMATE_METHOD_NO_TTFC
from tests.builders import TraceBuilder


def _reasoning_call(b: TraceBuilder, agent: str, reasoning: int, output: int, ms: int) -> str:
    return b.model(
        agent,
        0,
        ms,
        model="o4-mini",
        attrs={
            "gen_ai.usage.reasoning.output_tokens": reasoning,
            "gen_ai.usage.output_tokens": output,
            "gen_ai.response.time_to_first_chunk": 0.5,
        },
    )


def test_first_visible_token_is_estimated_from_the_stream_rate() -> None:
    """10.5 s call, first chunk at 0.5 s: 1000 output tokens in 10 s is 100/s;
    800 of them reasoning come first, so the first visible token ~8 s later."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    m = _reasoning_call(b, agent, reasoning=800, output=1000, ms=10_500)
    [f] = [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]
    assert f.span_ids == (m,)
    assert f.numbers["worst_gap_s"] == 8.0
    assert f.numbers["estimated"] == 1 and f.numbers["method"] == ESTIMATE_METHOD
    assert f.numbers["reasoning_tokens"] == 800
    assert "estimated 8.0s" in f.summary


def test_a_short_hidden_wait_is_not_worth_an_alarm() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    _reasoning_call(b, agent, reasoning=100, output=1000, ms=10_500)  # ~1 s
    assert not [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]


def test_a_non_streamed_call_has_nothing_to_estimate() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    b.model(
        agent,
        0,
        10_500,
        attrs={"gen_ai.usage.reasoning.output_tokens": 900, "gen_ai.usage.output_tokens": 1000},
    )
    assert not [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]


def test_a_streamed_call_without_a_first_chunk_time_streams_from_its_start() -> None:
    """OpenInference's LangChain spans: reasoning tokens, and "stream": true in
    the invocation parameters, but no first-chunk time."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    m = b.span(
        "ChatOpenAI",
        agent,
        0,
        2_556,
        attrs={
            "openinference.span.kind": "LLM",
            "llm.model_name": "o3-mini",
            "llm.invocation_parameters": '{"model": "o3-mini", "stream": true}',
            "llm.token_count.completion": 3011,
            "llm.token_count.completion_details.reasoning": 3000,
        },
    )
    [f] = [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]
    assert f.span_ids == (m,)
    assert f.numbers["worst_gap_s"] == round(3000 * 2.556 / 3011, 3)
    assert f.numbers["method"] == ESTIMATE_METHOD_NO_TTFC
    # Not streamed: the answer lands whole, nobody watches a blank stream.
    b2 = TraceBuilder()
    b2.span(
        "ChatOpenAI",
        b2.agent("a", end=20_000),
        0,
        2_556,
        attrs={
            "openinference.span.kind": "LLM",
            "llm.invocation_parameters": '{"model": "o3-mini", "stream": false}',
            "llm.token_count.completion": 3011,
            "llm.token_count.completion_details.reasoning": 3000,
        },
    )
    assert not [f for f in analyze(b2.trace()).findings if f.kind == "hidden_reasoning_latency"]


def test_a_recorded_first_visible_chunk_beats_the_estimate() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    b.model(
        agent,
        0,
        10_500,
        attrs={
            "gen_ai.usage.reasoning.output_tokens": 800,
            "gen_ai.usage.output_tokens": 1000,
            "gen_ai.response.time_to_first_chunk": 0.5,
            "gen_ai.response.time_to_first_visible_chunk": 3.0,
        },
    )
    [f] = [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]
    assert f.numbers["worst_gap_s"] == 2.5 and "estimated" not in f.numbers
