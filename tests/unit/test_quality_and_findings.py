"""Data quality and every finding kind, each with its evidence; a clean trace has none."""

from __future__ import annotations

import json

from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import assemble
from oncall_tui.sources.detect import read_traces
from tests.builders import TraceBuilder


def kinds(b: TraceBuilder) -> dict[str, object]:
    return {f.kind: f for f in analyze(b.trace()).findings}


def test_clean_trace_has_no_findings() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    b.model(agent, 0, 100)
    b.tool("search", agent, 110, 200)
    b.model(agent, 210, 300)
    a = analyze(b.trace())
    assert a.findings == [] and a.cycles == [] and a.quality == []


def test_orphan_duplicate_negative_duration_truncated() -> None:
    b = TraceBuilder()
    root = b.span("root", end=100)
    b.span("orphan", None, 1, 2, parent_id="00000000deadbeef")
    b.span("dup", root, 3, 4, span_id="00000000000000aa")
    b.span("dup again", root, 3, 4, span_id="00000000000000aa")
    b.span("backwards", root, 50, 40)
    b.span("cut", root, 5, 6, attrs={"gen_ai.tool.call.result": "x" * 4096})
    notes = {q.kind: q for q in b.trace().quality}
    assert notes["orphan"].detail.startswith("parent 00000000deadbeef")
    assert notes["duplicate_id"].span_id == "00000000000000aa"
    assert "before it starts" in notes["negative_duration"].detail
    assert notes["truncated_attribute"].detail.startswith("gen_ai.tool.call.result")


def test_parent_loop_is_cut_not_hung() -> None:
    b = TraceBuilder()
    b.span("a", span_id="000000000000000a", parent_id="000000000000000c")
    b.span("b", span_id="000000000000000b", parent_id="000000000000000a")
    b.span("c", span_id="000000000000000c", parent_id="000000000000000b")
    b.span("self", span_id="000000000000000d", parent_id="000000000000000d")
    trace = b.trace()
    loops = [q for q in trace.quality if q.kind == "parent_loop"]
    # Both loops are reported: a -> c -> b -> a, and the span that is its own parent.
    assert sorted(q.span_id for q in loops) == ["000000000000000a", "000000000000000d"]
    a = analyze(trace)
    assert a.summary.span_count == 4


def test_repeated_identical_tool_call_all_failing_is_high() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    ids = [
        b.tool("create_ticket", agent, t, t + 10, args='{"title": null}', status="error")
        for t in (0, 100, 200)
    ]
    b.tool("create_ticket", agent, 300, 310, args='{"title": "ok"}')
    f = kinds(b)["repeated_tool_call"]
    assert f.severity == "high"
    assert f.span_ids == tuple(ids)
    assert f.numbers["calls"] == 3


def test_retry_amplification_and_swallowed_errors() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    ids = [b.model(agent, t, t + 10, status="error") for t in (0, 20, 40, 60)]
    ids.append(b.model(agent, 80, 90))
    f = kinds(b)
    assert f["retry_amplification"].numbers["worst_attempts"] == 5
    assert f["retry_amplification"].span_ids == tuple(ids)
    assert f["error_swallowed"].numbers["errors"] == 4


def test_fallback_tier_demotion_inside_a_request() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    first = b.model(agent, 0, 10, status="error", model="big", provider="anthropic")
    last = b.model(agent, 20, 30, model="small", provider="openai")
    f = kinds(b)["tier_demotion"]
    assert f.span_ids == (first, last)
    assert "model:anthropic/big" in f.summary and "model:openai/small" in f.summary


def test_structured_output_retry_loop() -> None:
    b = TraceBuilder()
    agent = b.agent("extract", end=1000)
    b.model(agent, 0, 10)
    for t in (20, 40, 60):
        b.span("validate output schema", agent, t, t + 5, status="error")
        b.model(agent, t + 6, t + 15, attrs={"gen_ai.request.repair_reason": "JSON schema"})
    f = kinds(b)["structured_output_retry"]
    assert f.numbers["repairs"] == 3


def test_hidden_reasoning_latency() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=10000)
    m = b.model(
        agent,
        0,
        9000,
        attrs={
            "gen_ai.response.time_to_first_chunk": 0.3,
            "gen_ai.response.time_to_first_visible_chunk": 7.8,
            "gen_ai.usage.reasoning.output_tokens": 2500,
        },
    )
    f = kinds(b)["hidden_reasoning_latency"]
    assert f.span_ids == (m,)
    assert f.numbers["worst_gap_s"] == 7.5 and f.numbers["reasoning_tokens"] == 2500


def test_refusal_and_empty_tool_result() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    b.tool("kb_search", agent, 0, 10, result="[]")
    b.model(agent, 20, 30, attrs={"gen_ai.response.finish_reasons": ["content_filter"]})
    f = kinds(b)
    assert f["empty_tool_result"].numbers["calls"] == 1
    assert f["refusal"].numbers["refusals"] == 1


def test_flight_recorder_gaps_say_what_is_missing() -> None:
    b = TraceBuilder()
    agent = b.agent("a", end=1000)
    b.model(agent, 0, 10, complete=False)
    f = kinds(b)["flight_recorder_gaps"]
    assert f.numbers == {
        "resolved model version": 1,
        "system prompt hash or version": 1,
        "sampling parameters": 1,
    }


def test_clock_skew_detected_raw_by_default_adjusted_on_request() -> None:
    b = TraceBuilder()
    root = b.span("gateway", end=100, host="gw")
    child = b.span("client call", root, -30, 20, host="laptop")
    grandchild = b.span("inner", child, -25, 10, host="laptop")
    raw = analyze(b.trace())
    assert [s.span_id for s in raw.skew] == [child]
    assert raw.adjusted == {}
    adj = analyze(b.trace(), adjust_skew=True)
    assert set(adj.adjusted) == {child, grandchild}
    assert adj.adjusted[child] == adj.adjusted[grandchild] == 55 * 1_000_000


def test_jaeger_genai_fixture_findings(shared_fixtures) -> None:
    [trace] = read_traces((shared_fixtures / "jaeger" / "v1-ui-genai-trace.json").read_bytes())
    a = analyze(trace)
    assert a.cycles == []  # a plain agent loop with repeated tools, not reentrancy
    assert "repeated_tool_call" in {f.kind for f in a.findings}


def test_analysis_encodes_to_json() -> None:
    import msgspec

    b = TraceBuilder()
    agent = b.agent("a", end=10)
    b.model(agent, 0, 5)
    doc = json.loads(msgspec.json.encode(analyze(b.trace())))
    assert set(doc) >= {"summary", "graph", "cycles", "findings", "quality", "skew"}
    assert assemble([], source="x") == []


def _cache_attrs(read: int, write: int) -> dict[str, int]:
    return {
        "gen_ai.usage.cache_read.input_tokens": read,
        "gen_ai.usage.cache_creation.input_tokens": write,
    }


def test_cache_thrash_when_the_same_prefix_is_written_and_never_read() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    ms = [b.model(agent, 10 * k, 10 * k + 5, attrs=_cache_attrs(0, 3000)) for k in range(4)]
    a = analyze(b.trace())
    [f] = [f for f in a.findings if f.kind == "cache_thrash"]
    assert f.span_ids == tuple(ms)
    assert f.numbers["writes"] == 4 and f.numbers["written_tokens"] == 12000


def test_cache_that_is_read_back_is_not_thrash() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.model(agent, 0, 5, attrs=_cache_attrs(0, 3000))
    for k in range(1, 4):
        b.model(agent, 10 * k, 10 * k + 5, attrs=_cache_attrs(3000, 0))
    assert not [f for f in analyze(b.trace()).findings if f.kind == "cache_thrash"]


def test_context_snowball_and_trace_token_budget() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    first = b.model(agent, 0, 5, attrs={"gen_ai.usage.input_tokens": 5_000})
    b.model(agent, 10, 15, attrs={"gen_ai.usage.input_tokens": 40_000})
    last = b.model(agent, 20, 25, attrs={"gen_ai.usage.input_tokens": 600_000})
    found = [f for f in analyze(b.trace()).findings if f.kind == "token_blowup"]
    growth = next(f for f in found if "grew" in f.summary)
    assert growth.span_ids == (first, last)
    assert growth.numbers == {"first_input": 5_000, "last_input": 600_000, "calls": 3}
    budget = next(f for f in found if "budget" in f.summary)
    assert budget.numbers["tokens"] == 645_060 and budget.severity == "medium"


def test_steady_context_is_not_a_blowup() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    for k in range(5):
        b.model(agent, 10 * k, 10 * k + 5, attrs={"gen_ai.usage.input_tokens": 30_000 + k})
    assert not [f for f in analyze(b.trace()).findings if f.kind == "token_blowup"]


def test_repeated_tool_call_is_counted_per_agent_invocation() -> None:
    b = TraceBuilder()
    root = b.agent("orchestrator", end=10_000)
    first = b.agent("researcher", root, 0, 1000)
    second = b.agent("researcher", root, 2000, 3000)
    for k in range(2):
        b.tool("search", first, 10 + 10 * k, 15 + 10 * k)
        b.tool("search", second, 2010 + 10 * k, 2015 + 10 * k)
    # 4 identical calls in the trace, but no agent asked more than twice.
    assert "repeated_tool_call" not in kinds(b)
    third = b.tool("search", second, 2100, 2110)
    f = kinds(b)["repeated_tool_call"]
    assert f.numbers["calls"] == 3 and third in f.span_ids  # type: ignore[attr-defined]
    assert "under agent:researcher" in f.summary  # type: ignore[attr-defined]


def test_a_tool_that_returned_an_empty_string_did_answer() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    empty = b.tool("search", agent, 0, 10, result="")
    found = analyze(b.trace()).findings
    assert [f.span_ids for f in found if f.kind == "empty_tool_result"] == [(empty,)]
    assert not [f for f in found if f.kind == "flight_recorder_gaps"]


def test_a_response_model_that_repeats_the_alias_is_not_a_resolved_version() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    alias = b.model(
        agent,
        0,
        10,
        model="summarizer-latest",
        attrs={"gen_ai.response.model": "summarizer-latest"},
    )
    b.model(agent, 20, 30, model="gpt-x", attrs={"gen_ai.response.model": "gpt-x-2026-09-17"})
    b.model(
        agent,
        40,
        50,
        model="claude-x-20260101",
        attrs={"gen_ai.response.model": "claude-x-20260101"},
    )
    [gap] = [f for f in analyze(b.trace()).findings if f.kind == "flight_recorder_gaps"]
    assert gap.numbers == {"resolved model version": 1}
    assert gap.span_ids == (alias,)


def test_stale_data_names_the_oldest_retrieval_and_counts_the_rest() -> None:
    """Stale retrieval moves no error, latency or tier: only the age of the
    data says it. The finding points at the oldest retrieval first."""
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    fresh = b.tool("search_kb", agent, 0, 10, attrs={"retrieval.document.age_s": 600})
    old = b.tool("search_kb", agent, 20, 30, attrs={"retrieval.document.age_s": 3 * 3600})
    older = b.tool("search_kb", agent, 40, 50, attrs={"retrieval.document.age_s": 26 * 3600})
    f = kinds(b)["stale_data"]
    assert f.span_ids == (older, old)
    assert fresh not in f.span_ids
    assert f.numbers == {"max_age_s": 26 * 3600, "stale": 2, "with_age": 3}
    assert "26 h old (tool:search_kb)" in f.summary


def test_openinference_retriever_metadata_dates_the_documents() -> None:
    """A Phoenix-style RETRIEVER span (not a graph node) whose documents say
    when they were indexed: the age runs from the span's start."""
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    day = 86_400
    start_s = 1_700_000_000
    b.span(
        "retrieve",
        agent,
        start_s * 1000,
        start_s * 1000 + 5,
        attrs={
            "openinference.span.kind": "RETRIEVER",
            "retrieval.documents.0.document.metadata": json.dumps(
                {"indexed_at": "2023-11-12T22:13:20Z"}  # start_s - 2 days, in UTC
            ),
            "retrieval.documents.1.document.metadata": '{"indexed_at": "not a date"}',
        },
    )
    f = kinds(b)["stale_data"]
    assert f.numbers["max_age_s"] == 2 * day
    assert f.numbers["with_age"] == 1


def test_fresh_or_undated_retrievals_are_not_stale() -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    b.tool("search_kb", agent, 0, 10, attrs={"retrieval.document.age_s": 3599})
    b.tool("search_kb", agent, 20, 30)  # says nothing about data age
    b.tool("lookup", agent, 40, 50, attrs={"retrieval.document.age_s": "INF"})  # junk
    assert "stale_data" not in kinds(b)
