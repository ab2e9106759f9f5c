"""Hidden reasoning from standard attributes only: when no span says when the
first *visible* token came, estimate it from the stream rate, and say so."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.findings import (
    ESTIMATE_METHOD,
    ESTIMATE_METHOD_CONTENT,
    ESTIMATE_METHOD_NO_TTFC,
    MEASURED_FROM_START,
    MEASURED_METHOD,
)
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import Finding, SpanEvent
from tests.builders import TraceBuilder


def _hidden(b: TraceBuilder) -> list[Finding]:
    return [f for f in analyze(b.trace()).findings if f.kind == "hidden_reasoning_latency"]


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
        attrs={
            "gen_ai.usage.reasoning.output_tokens": 900,
            "gen_ai.usage.output_tokens": 1000,
            "gen_ai.request.stream": False,
        },
    )
    assert not _hidden(b)


def test_streaming_not_recorded_still_estimates_when_reasoning_is_most_of_the_output() -> None:
    """Most instrumentations never say whether the call streamed
    (openai-v2, the Agents SDK): a reasoning count that is most of the output
    is enough to estimate the wait, labelled as such."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    m = b.model(
        agent,
        0,
        10_500,
        attrs={"gen_ai.usage.reasoning.output_tokens": 900, "gen_ai.usage.output_tokens": 1000},
    )
    [f] = _hidden(b)
    assert f.span_ids == (m,) and f.numbers["estimated"] == 1
    assert f.numbers["method"] == ESTIMATE_METHOD_NO_TTFC
    assert f.numbers["worst_gap_s"] == 9.45
    # A few reasoning tokens in a long answer: not where the time went.
    b2 = TraceBuilder()
    b2.model(
        b2.agent("a", end=20_000),
        0,
        10_500,
        attrs={"gen_ai.usage.reasoning.output_tokens": 150, "gen_ai.usage.output_tokens": 200},
    )
    assert not _hidden(b2)


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
    assert f.numbers["worst_gap_s"] == 2.5 and f.numbers["estimated"] == 0
    assert f.numbers["method"] == MEASURED_METHOD and "measured" in f.summary


def _output(text: str) -> str:
    return json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": text}],
                "finish_reason": "stop",
            }
        ]
    )


def test_hidden_tokens_from_the_captured_output_when_nothing_counts_them() -> None:
    """openai-v2 on o3-mini: 3010 output tokens, a 37-character answer, no
    reasoning count, no first-chunk time: ~3000 tokens were hidden."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    m = b.model(
        agent,
        0,
        2_562,
        model="o3-mini",
        attrs={
            "gen_ai.usage.output_tokens": 3010,
            "gen_ai.output.messages": _output("Ship it on Tuesday: the risk is low. "),
        },
    )
    [f] = _hidden(b)
    assert f.span_ids == (m,) and f.numbers["estimated"] == 1
    assert f.numbers["method"] == ESTIMATE_METHOD_CONTENT
    assert f.numbers["hidden_tokens"] == 3010 - 10 and "reasoning_tokens" not in f.numbers
    assert f.numbers["worst_gap_s"] == round(2.562 * 3000 / 3010, 3)
    assert "estimated" in f.summary and "visible output chars / 4" in f.summary


def test_no_estimate_without_captured_content_or_when_not_streamed() -> None:
    for attrs in (
        {"gen_ai.usage.output_tokens": 3010},  # content capture off
        {
            "gen_ai.usage.output_tokens": 3010,
            "gen_ai.output.messages": _output("Ship it."),
            "gen_ai.request.stream": False,
        },
        {  # an image part has no size in characters
            "gen_ai.usage.output_tokens": 3010,
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "blob", "mime_type": "image/png"}]}]
            ),
        },
        {  # truncated by an attribute length limit: not JSON any more
            "gen_ai.usage.output_tokens": 3010,
            "gen_ai.output.messages": _output("Ship it." * 50)[:100],
        },
    ):
        b = TraceBuilder()
        b.model(b.agent("a", end=20_000), 0, 9_000, attrs=attrs)
        assert not _hidden(b), attrs


def test_pydantic_ai_first_visible_chunk_counts_from_the_request_start() -> None:
    """Pydantic AI's time to first chunk is to the first chunk WITH content;
    with its reasoning count that is a measured wait (from the start)."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    attrs = {
        "gen_ai.usage.output_tokens": 3020,
        "gen_ai.usage.details.reasoning_tokens": 3000,
        "gen_ai.client.operation.time_to_first_chunk": 2.566,
    }
    m = b.model(agent, 0, 2_662, model="o3-mini", attrs=attrs)
    [f] = _hidden(b)
    assert f.span_ids == (m,) and f.numbers["estimated"] == 0
    assert f.numbers["method"] == MEASURED_FROM_START
    assert f.numbers["worst_gap_s"] == 2.566 and f.numbers["reasoning_tokens"] == 3000
    assert "after the request started" in f.summary
    # A slow first token with no hidden tokens is a slow provider, not reasoning.
    b2 = TraceBuilder()
    slow = {
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.details.reasoning_tokens": 0,
        "gen_ai.client.operation.time_to_first_chunk": 4.0,
    }
    b2.model(b2.agent("a", end=20_000), 0, 4_500, attrs=slow)
    assert not _hidden(b2)


def _chunks(b: TraceBuilder, offsets_ms: list[int]) -> None:
    """Give the last span one chunk event per offset, as the reader would."""
    span = b.spans[-1]
    span.events = tuple(
        SpanEvent("gen_ai.content.completion.chunk", span.start_ns + t * 1_000_000)
        for t in offsets_ms
    )
    span.gen_ai = genai_view(span.attributes, span.name, span.events, span.start_ns)


def test_openllmetry_chunk_events_measure_the_wait() -> None:
    """One bare event per chunk: the first is OpenAI's role-only chunk, the
    second the first with content."""
    b = TraceBuilder()
    agent = b.agent("a", end=20_000)
    attrs = {
        "gen_ai.is_streaming": True,
        "gen_ai.usage.output_tokens": 3011,
        "gen_ai.output.messages": _output("The answer is 42, after careful thought. "),
    }
    m = b.model(agent, 100, 2_658, attrs=attrs)
    _chunks(b, [47, 2_542, 2_544, 2_546, 2_558])
    trace = b.trace()
    [f] = [f for f in analyze(trace).findings if f.kind == "hidden_reasoning_latency"]
    assert f.span_ids == (m,) and f.numbers["estimated"] == 0
    assert f.numbers["method"] == MEASURED_METHOD and f.numbers["worst_gap_s"] == 2.495
    # The same silence before a long visible answer: not hidden reasoning.
    b2 = TraceBuilder()
    long = "word " * 3000
    b2.model(
        b2.agent("a", end=20_000),
        100,
        2_658,
        attrs={
            **attrs,
            "gen_ai.usage.output_tokens": 3011,
            "gen_ai.output.messages": _output(long),
        },
    )
    _chunks(b2, [47, 2_542, 2_544])
    assert not _hidden(b2)


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=0,
    max_size=4000,
)


@settings(max_examples=150, deadline=None)
@given(
    text=_TEXT,
    factor=st.floats(min_value=0.5, max_value=1.5),
    duration_ms=st.integers(min_value=1, max_value=900_000),
    streamed=st.sampled_from([True, None]),
)
def test_a_streamed_call_without_hidden_tokens_never_alarms(
    text: str, factor: float, duration_ms: int, streamed: bool | None
) -> None:
    """Output tokens about what the visible text costs (~4 ASCII characters
    or 1 other character a token, give or take half), any duration: never a
    hidden-reasoning alarm, however slow the call."""
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    tokens = max(1, round((ascii_chars / 4 + (len(text) - ascii_chars)) * factor))
    attrs: dict[str, object] = {
        "gen_ai.usage.output_tokens": tokens,
        "gen_ai.output.messages": _output(text),
    }
    if streamed is not None:
        attrs["gen_ai.request.stream"] = streamed
    b = TraceBuilder()
    b.model(b.agent("a", end=duration_ms + 10), 0, duration_ms, attrs=attrs)
    assert not _hidden(b)
