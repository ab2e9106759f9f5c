"""Retries: HTTP attempts below one model span are one logical call (an SDK
retrying inside it), attempts recorded as sibling model spans too (a gateway);
and fallbacks are between different models, never an alias and its snapshot."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from tests.builders import TraceBuilder


def _http(b: TraceBuilder, parent: str, start: int, status: int, **attrs: object) -> str:
    """An httpx-instrumentation CLIENT span as the openai SDK's transport makes it."""
    return b.span(
        "POST",
        parent,
        start,
        start + 8,
        attrs={
            "http.request.method": "POST",
            "url.full": "http://127.0.0.1:8000/v1/chat/completions",
            "http.response.status_code": status,
            **attrs,
        },
        status="error" if status >= 400 else "unset",
    )


def _findings(b: TraceBuilder) -> dict[str, object]:
    return {f.kind: f for f in analyze(b.trace()).findings}


def test_http_attempts_below_one_chat_span_are_its_retries() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    chat = b.model(agent, 0, 100)
    attempts = [_http(b, chat, t, code) for t, code in ((1, 429), (20, 500), (50, 200))]
    b.tool("search", agent, 110, 200)
    b.model(agent, 210, 300)
    f = _findings(b)["retry_amplification"]
    assert f.numbers["worst_attempts"] == 3  # type: ignore[attr-defined]
    assert f.numbers["http_attempts"] == 3  # type: ignore[attr-defined]
    assert f.numbers["http_statuses"] == "429,500,200"  # type: ignore[attr-defined]
    assert f.summary.startswith(  # type: ignore[attr-defined]
        "one model call took 3 HTTP attempts (429, 500, then 200)"
    )
    # 3 + 1 attempts over 2 logical calls.
    assert f.numbers["attempts_per_call"] == 2.0  # type: ignore[attr-defined]
    assert f.span_ids == (chat, *attempts)  # type: ignore[attr-defined]


def test_resend_count_says_how_many_went_before() -> None:
    """Only the last attempt was exported, but it says it is the third send."""
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    chat = b.model(agent, 0, 100)
    _http(b, chat, 50, 200, **{"http.request.resend_count": 2})
    assert _findings(b)["retry_amplification"].numbers["worst_attempts"] == 3  # type: ignore[attr-defined]


def test_successful_or_unrelated_http_calls_are_not_retries() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    chat = b.model(agent, 0, 100)
    for t in (1, 20, 50):
        _http(b, chat, t, 200)  # three requests that all succeeded: not retries
    tool = b.tool("fetch_page", agent, 110, 200)
    for t in (111, 130, 150):
        _http(b, tool, t, 503)  # a tool's own HTTP calls: not the model's
    assert "retry_amplification" not in _findings(b)


def test_an_attempt_seen_by_two_http_instrumentations_counts_once() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    chat = b.model(agent, 0, 100)
    for t, code in ((1, 429), (20, 500)):
        outer = _http(b, chat, t, code)
        _http(b, outer, t + 1, code)  # e.g. httpx over a lower-level client
    _http(b, chat, 50, 200)
    assert _findings(b)["retry_amplification"].numbers["worst_attempts"] == 3  # type: ignore[attr-defined]


def test_sibling_model_spans_are_still_attempts() -> None:
    b = TraceBuilder()
    agent = b.agent("gateway", end=1000)
    for t in (0, 20):
        b.model(agent, t, t + 10, status="error")
    b.model(agent, 40, 50)
    f = _findings(b)["retry_amplification"]
    assert f.numbers["worst_attempts"] == 3  # type: ignore[attr-defined]
    assert "http_attempts" not in f.numbers  # type: ignore[attr-defined]


def test_an_alias_and_its_dated_snapshot_are_not_a_fallback() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    b.model(agent, 0, 10, model="gpt-4o-mini", status="error")
    b.model(agent, 20, 30, model="gpt-4o-mini-2024-07-18")
    b.model(agent, 40, 50, model="openai/gpt-4o-mini", status="error")
    b.model(agent, 60, 70, model="gpt-4o-mini")
    found = _findings(b)
    assert "tier_demotion" not in found
    assert "error_swallowed" in found  # the failed attempts still happened


def test_a_fallback_to_a_different_model_is_reported() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    first = b.model(agent, 0, 10, model="gpt-4o", status="error")
    b.model(agent, 20, 30, model="gpt-4o", status="error")
    last = b.model(agent, 40, 50, model="gpt-4o-mini")
    f = _findings(b)["tier_demotion"]
    assert f.span_ids == (first, last)  # type: ignore[attr-defined]
    assert "model:openai/gpt-4o" in f.summary and "gpt-4o-mini" in f.summary  # type: ignore[attr-defined]


def test_a_dated_snapshot_answering_an_alias_is_a_resolved_version() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    b.model(
        agent, 0, 10, model="gpt-4o-mini", attrs={"gen_ai.response.model": "gpt-4o-mini-2024-07-18"}
    )
    prefixed = b.model(
        agent, 20, 30, model="openai/gpt-4o-mini", attrs={"gen_ai.response.model": "gpt-4o-mini"}
    )
    [gap] = [f for f in analyze(b.trace()).findings if f.kind == "flight_recorder_gaps"]
    # Only the gateway-prefixed alias answered by the bare alias lacks a version.
    assert gap.numbers == {"resolved model version": 1}
    assert gap.span_ids == (prefixed,)


def test_http_attempts_recorded_beside_the_model_call_are_still_its_retries() -> None:
    """LangChain keeps its own run tree: the httpx spans of ChatOpenAI's
    retries land under the app's request span, nested in time inside the
    model call."""
    b = TraceBuilder()
    request = b.span("POST /chat", None, 0, 400)
    agent = b.agent("greeter", request, 1, 330)
    b.model(agent, 48, 302)
    for t, code in ((80, 429), (136, 500), (218, 200)):
        _http(b, request, t, code)
    f = _findings(b)["retry_amplification"]
    assert f.numbers["worst_attempts"] == 3  # type: ignore[attr-defined]
    assert "429, 500, then 200" in f.summary  # type: ignore[attr-defined]


def test_a_failed_attempt_inside_the_call_that_answered_is_a_fallback() -> None:
    """Pydantic AI's FallbackModel: the answering call's span holds the
    failed attempt on the first model."""
    b = TraceBuilder()
    agent = b.agent("support", end=300)
    served = b.model(agent, 7, 197, model="gpt-4o-mini")
    tried = b.model(served, 48, 88, model="gpt-4o", status="error")
    found = _findings(b)
    assert found["tier_demotion"].span_ids == (tried, served)  # type: ignore[attr-defined]
    assert found["error_swallowed"].span_ids == (tried,)  # type: ignore[attr-defined]


def test_an_agent_run_again_on_another_model_is_a_fallback() -> None:
    """The app catches the failed agent run and runs it again on a smaller
    model (each run under its own plain workflow span)."""
    b = TraceBuilder()
    request = b.agent("support request", end=400)
    w1 = b.span("Agent workflow", request, 1, 211)
    run1 = b.agent("support", w1, 2, 201, status="error")
    tried = b.model(run1, 11, 174, model="gpt-4o", status="error")
    w2 = b.span("Agent workflow", request, 236, 380)
    run2 = b.agent("support", w2, 240, 368)
    served = b.model(run2, 241, 329, model="gpt-4o-mini")
    assert _findings(b)["tier_demotion"].span_ids == (tried, served)  # type: ignore[attr-defined]
    # The same model again after a failed run is a retry, not a fallback.
    b2 = TraceBuilder()
    request = b2.agent("support request", end=400)
    b2.model(b2.agent("support", request, 2, 201, status="error"), 11, 174, status="error")
    b2.model(b2.agent("support", request, 240, 368), 241, 329)
    assert "tier_demotion" not in _findings(b2)
