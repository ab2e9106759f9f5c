"""Every store format, read from the real recorded responses in
/work/shared/fixtures (../shared/fixtures from the repo): detection by
``read_traces`` and decoding into the same spans the app sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncall_tui.core.analysis import analyze
from oncall_tui.errors import TraceFormatError
from oncall_tui.sources.detect import known_formats, read_traces
from oncall_tui.sources.formats.timefmt import iso_ns

# ../shared/fixtures beside the repo (the main checkout); worktrees fall back.
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/fixtures")

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared fixtures not present")


def _read(rel: str):  # type: ignore[no-untyped-def]
    path = SHARED / rel
    return read_traces(path.read_bytes(), source=str(path))


@pytest.mark.parametrize(
    ("rel", "fmt", "spans"),
    [
        ("otlp/otel-proto-example-trace.json", "otlp-json", 1),
        ("jaeger/apiv3-GetTrace.json", "jaeger-api-v3", 1),
        ("jaeger/apiv3-FindTraces.json", "jaeger-api-v3", 1),
        ("jaeger/v1-transform-response.json", "jaeger-v1", 2),
        ("jaeger/v1-ui-genai-trace.json", "jaeger-v1", 57),
        ("tempo/docs-api-v2-traces-response-base64.json", "tempo", 1),
        ("tempo/tempopb-trace-v1-batches.json", "tempo", 1),
        ("tempo/vulture-testdata-trace-jsonpb-base64.json", "otlp-json", 6),
        ("phoenix/spans.json", "phoenix", 15),
        ("phoenix/spans-otlpv1.json", "phoenix", 15),
        ("phoenix/sent-as-otlp.json", "otlp-json", 15),
    ],
)
def test_each_fixture_is_recognised(rel: str, fmt: str, spans: int) -> None:
    traces = _read(rel)
    assert {t.source for t in traces} == {fmt}
    assert sum(len(t.spans) for t in traces) == spans


@pytest.mark.parametrize("rel", ["phoenix/projects.json", "tempo/docs-api-search-response.json"])
def test_a_non_trace_document_names_the_known_formats(rel: str) -> None:
    with pytest.raises(TraceFormatError) as err:
        _read(rel)
    for name in ("otlp-json", "jaeger-v1", "jaeger-api-v3", "tempo", "phoenix", "langfuse"):
        assert name in str(err.value)
    assert set(known_formats()) >= {"phoenix", "langfuse"}


def _by_id(rel: str):  # type: ignore[no-untyped-def]
    [trace] = _read(rel)
    return {s.span_id: s for s in trace.spans}


@pytest.mark.parametrize("rel", ["phoenix/spans.json", "phoenix/spans-otlpv1.json"])
def test_phoenix_spans_match_what_was_sent(rel: str) -> None:
    sent = _by_id("phoenix/sent-as-otlp.json")
    got = _by_id(rel)
    assert set(got) == set(sent)
    for sid, s in sent.items():
        g = got[sid]
        assert g.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert g.parent_id == s.parent_id
        assert g.name == s.name
        # Phoenix rounds to µs (native) or passes nanos through float64 (otlpv1).
        assert abs(g.start_ns - s.start_ns) < 1_000
        assert abs(g.end_ns - s.end_ns) < 1_000
        assert g.status == s.status or (s.status == "unset" and g.status == "unset")
        if s.gen_ai is None:  # the plain HTTP span
            assert g.gen_ai is None or g.gen_ai.operation is None
            continue
        assert g.gen_ai is not None
        for field in ("operation", "tool_name", "tool_call_id", "input_tokens", "output_tokens"):
            assert getattr(g.gen_ai, field) == getattr(s.gen_ai, field), (sid, field)
    errors = [s for s in got.values() if s.status == "error"]
    assert [e.gen_ai.tool_call_id for e in errors if e.gen_ai] == ["call_0005"]


def test_phoenix_native_events_and_status_message() -> None:
    got = _by_id("phoenix/spans.json")
    [err] = [s for s in got.values() if s.status == "error"]
    assert err.status_message == "search backend timed out after 30s"
    assert err.events[0].name == "exception"
    assert err.events[0].attributes["exception.type"] == "TimeoutError"


@pytest.mark.parametrize(
    "rel", ["phoenix/spans-limit5-page1.json", "phoenix/spans-otlpv1-limit5-page1.json"]
)
def test_one_phoenix_page_is_partial_not_silently_short(rel: str) -> None:
    [trace] = _read(rel)
    assert len(trace.spans) == 5
    assert trace.completeness == "partial"
    assert "next_cursor" in (trace.completeness_reason or "")


def test_phoenix_trace_analyses_like_the_sent_one() -> None:
    [sent] = _read("phoenix/sent-as-otlp.json")
    [got] = _read("phoenix/spans.json")
    a, b = analyze(sent), analyze(got)
    assert sorted(f.kind for f in a.findings) == sorted(f.kind for f in b.findings)
    assert not b.cycles


def test_iso_ns_keeps_every_digit() -> None:
    assert iso_ns("2026-11-23T08:00:00.123457+00:00") == 1795420800123457000
    assert iso_ns("2026-11-23T08:00:00.123456789Z") == 1795420800123456789
    assert iso_ns("2026-11-23T09:00:00+01:00") == 1795420800000000000
    with pytest.raises(ValueError):
        iso_ns("yesterday")


# ---------------------------------------------------------------- langfuse

SCHEMA = SHARED / "langfuse" / "openapi-v2-observations-excerpt.json"


def langfuse_page(cursor: str | None = None) -> dict:  # type: ignore[type-arg]
    """A v2 observations body built from the recorded schema's field names
    (no real body exists; the test below checks every key against the schema)."""
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    base = {"traceId": trace, "projectId": "p1", "environment": "default"}
    data = [
        {
            **base,
            "id": "00f067aa0ba90201",
            "type": "AGENT",
            "name": "research-agent",
            "startTime": "2026-11-23T08:00:00.123Z",
            "endTime": "2026-11-23T08:00:10.000Z",
            "parentObservationId": None,
            "isRootObservation": True,
            "level": "DEFAULT",
        },
        {
            **base,
            "id": "00f067aa0ba90202",
            "type": "GENERATION",
            "name": "chat",
            "startTime": "2026-11-23T08:00:00.200Z",
            "endTime": "2026-11-23T08:00:02.000Z",
            "completionStartTime": "2026-11-23T08:00:00.900Z",
            "parentObservationId": "00f067aa0ba90201",
            "providedModelName": "gpt-x-2026-09",
            "modelParameters": {"temperature": 0.2},
            "usageDetails": {"input": 412, "output": 38, "total": 450},
            "timeToFirstToken": 0.7,
            "level": "DEFAULT",
            "input": '[{"role":"user","content":"hi"}]',
            "output": "hello",
        },
        {
            **base,
            "id": "7f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
            "type": "TOOL",
            "name": "search",
            "startTime": "2026-11-23T08:00:02.100Z",
            "endTime": "2026-11-23T08:00:04.000Z",
            "parentObservationId": "00f067aa0ba90201",
            "level": "ERROR",
            "statusMessage": "search backend timed out",
        },
    ]
    return {"data": data, "meta": {"cursor": cursor} if cursor else {}}


def test_langfuse_page_uses_only_schema_fields() -> None:
    schema = json.loads(SCHEMA.read_text())["components"]["schemas"]
    fields = set(schema["ObservationV2"]["properties"])
    for item in langfuse_page("c")["data"]:
        assert set(item) <= fields, set(item) - fields
    assert set(langfuse_page("c")) <= set(schema["ObservationsV2Response"]["properties"])


def test_langfuse_observations_map_onto_span_kinds_and_genai() -> None:
    [trace] = read_traces(json.dumps(langfuse_page()).encode())
    assert trace.source == "langfuse"
    assert trace.completeness == "complete"
    agent, gen, tool = trace.spans
    assert agent.parent_id is None and gen.parent_id == agent.span_id
    assert tool.parent_id == agent.span_id
    assert gen.kind == "client" and gen.gen_ai is not None
    assert gen.gen_ai.operation == "chat"
    assert gen.gen_ai.request_model == "gpt-x-2026-09"
    assert (gen.gen_ai.input_tokens, gen.gen_ai.output_tokens) == (412, 38)
    assert gen.gen_ai.temperature == 0.2
    assert tool.gen_ai is not None and tool.gen_ai.tool_name == "search"
    assert tool.status == "error" and tool.status_message == "search backend timed out"
    # A UUID observation id gets a stable hex span id; the original is kept.
    assert len(tool.span_id) == 16 and int(tool.span_id, 16) >= 0
    assert tool.attributes["langfuse.observation.id"].startswith("7f1c1d2e")
    assert agent.gen_ai is not None and agent.gen_ai.operation == "invoke_agent"


def test_langfuse_page_with_cursor_is_partial() -> None:
    [trace] = read_traces(json.dumps(langfuse_page("Y3Vyc29y")).encode())
    assert trace.completeness == "partial"


def test_langfuse_deprecated_trace_shape() -> None:
    body = {"id": "t-1", "name": "agent", "observations": langfuse_page()["data"]}
    [trace] = read_traces(json.dumps(body).encode())
    assert trace.source == "langfuse" and len(trace.spans) == 3


def test_phoenix_otlpv1_times_agree_with_the_native_shape(shared_fixtures) -> None:
    """Phoenix writes otlpv1 nanos through a float; both shapes must agree."""
    from oncall_tui.sources.detect import read_traces

    native = read_traces((shared_fixtures / "phoenix" / "spans.json").read_bytes())
    otlpv1 = read_traces((shared_fixtures / "phoenix" / "spans-otlpv1.json").read_bytes())
    times_native = {s.span_id: (s.start_ns, s.end_ns) for t in native for s in t.spans}
    times_otlpv1 = {s.span_id: (s.start_ns, s.end_ns) for t in otlpv1 for s in t.spans}
    shared = set(times_native) & set(times_otlpv1)
    assert shared
    for span_id in shared:
        assert times_otlpv1[span_id] == times_native[span_id], span_id
