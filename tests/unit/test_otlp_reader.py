"""The trace reader against real recorded files and the real variations of OTLP/JSON."""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall_tui.errors import OncallError, TraceFormatError
from oncall_tui.sources.detect import known_formats, read_traces


def _read(path) -> list:
    return read_traces(path.read_bytes(), source=str(path))


def test_otlp_example_ids_are_lowercased_and_linked(shared_fixtures) -> None:
    [trace] = _read(shared_fixtures / "otlp" / "otel-proto-example-trace.json")
    [span] = trace.spans
    assert trace.source == "otlp-json"
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.parent_id == "eee19b7ec3c1b173"
    assert span.kind == "server"
    assert span.service == "my.service"
    assert span.start_ns == 1544712660000000000
    assert span.duration_ns == 1_000_000_000
    assert span.attributes["my.span.attr"] == "some value"
    # Its parent is not in the file: the reader says so instead of guessing.
    assert [q.kind for q in trace.quality] == ["orphan"]


def test_jaeger_api_v3_envelope(shared_fixtures) -> None:
    [trace] = _read(shared_fixtures / "jaeger" / "apiv3-GetTrace.json")
    assert trace.source == "jaeger-api-v3"
    [span] = trace.spans
    assert span.trace_id == "0" * 31 + "1"
    assert span.status == "error"
    assert span.kind == "server"


def test_jaeger_v1_genai_trace_parents_from_references(shared_fixtures) -> None:
    raw = json.loads((shared_fixtures / "jaeger" / "v1-ui-genai-trace.json").read_text())
    [trace] = _read(shared_fixtures / "jaeger" / "v1-ui-genai-trace.json")
    assert trace.source == "jaeger-v1"
    assert len(trace.spans) == len(raw["spans"]) == 57
    by_id = {s.span_id: s for s in trace.spans}
    for r in raw["spans"]:
        span = by_id[r["spanID"]]
        refs = [x["spanID"] for x in r["references"] if x["refType"] == "CHILD_OF"]
        assert span.parent_id == (refs[0] if refs else None)
        assert span.start_ns == r["startTime"] * 1000
        assert span.service == raw["processes"][r["processID"]]["serviceName"]
    tools = [s for s in trace.spans if s.gen_ai and s.gen_ai.tool_name]
    assert tools, "GenAI tool spans must get the GenAI view"
    assert trace.quality == []


def test_jaeger_v1_envelope_matches_its_otlp_input(shared_fixtures) -> None:
    [v1] = _read(shared_fixtures / "jaeger" / "v1-transform-response.json")
    [otlp] = _read(shared_fixtures / "jaeger" / "v1-transform-request-otlp.json")
    assert v1.trace_id == otlp.trace_id
    assert {s.span_id for s in v1.spans} == {s.span_id for s in otlp.spans}
    assert [s.start_ns for s in v1.spans] == [s.start_ns for s in otlp.spans]
    # The OTLP input carries the same span twice: a duplicate-id note, not a crash.
    assert "duplicate_id" in {q.kind for q in otlp.quality}


def test_tempo_base64_ids_and_string_enums(shared_fixtures) -> None:
    [trace] = _read(shared_fixtures / "tempo" / "docs-api-v2-traces-response-base64.json")
    assert trace.source == "tempo"
    assert trace.trace_id == "5b8efff798038103d269b633813fc700"
    assert trace.spans[0].kind == "server"
    path = shared_fixtures / "tempo" / "tempopb-trace-v1-batches.json"
    wire_id = json.loads(path.read_text())["batches"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    [v1] = _read(path)
    assert v1.trace_id == wire_id.lower()


def test_tempo_vulture_base64_parent_links(shared_fixtures) -> None:
    raw = json.loads(
        (shared_fixtures / "tempo" / "vulture-testdata-trace-jsonpb-base64.json").read_text()
    )
    [trace] = _read(shared_fixtures / "tempo" / "vulture-testdata-trace-jsonpb-base64.json")
    wire = [s for rs in raw["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(trace.spans) == len(wire)
    for w, span in zip(wire, trace.spans, strict=True):
        assert span.span_id == base64.b64decode(w["spanId"]).hex()
        if w.get("parentSpanId"):
            assert span.parent_id == base64.b64decode(w["parentSpanId"]).hex()


def test_tempo_partial_is_marked_partial() -> None:
    doc = {
        "trace": {"resourceSpans": []},
        "status": "PARTIAL",
        "message": "trace exceeds max size",
    }
    doc["trace"]["resourceSpans"] = [
        {
            "scopeSpans": [
                {"spans": [{"traceId": "AAAAAAAAAAAAAAAAAAAAAQ==", "spanId": "AAAAAAAAAAE="}]}
            ]
        }
    ]
    [trace] = read_traces(json.dumps(doc).encode())
    assert trace.completeness == "partial"
    assert trace.completeness_reason == "trace exceeds max size"


SNAKE = {
    "resource_spans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "s"}}]},
            "scope_spans": [
                {
                    "spans": [
                        {
                            "trace_id": "0af7651916cd43dd8448eb211c80319c",
                            "span_id": "b7ad6b7169203331",
                            "name": "chat",
                            "kind": "SPAN_KIND_CLIENT",
                            "start_time_unix_nano": 1700000000000000000,
                            "end_time_unix_nano": 1700000000500000000,
                            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                            "attributes": [
                                {"key": "gen_ai.system", "value": {"string_value": "openai"}},
                                {"key": "gen_ai.usage.prompt_tokens", "value": {"int_value": 12}},
                                {"key": "n", "value": {"double_value": 1.5}},
                                {"key": "b", "value": {"bool_value": True}},
                                {
                                    "key": "arr",
                                    "value": {
                                        "array_value": {
                                            "values": [{"int_value": "1"}, {"string_value": "x"}]
                                        }
                                    },
                                },
                                {
                                    "key": "kv",
                                    "value": {
                                        "kvlist_value": {
                                            "values": [
                                                {"key": "in", "value": {"bool_value": False}}
                                            ]
                                        }
                                    },
                                },
                            ],
                        }
                    ]
                }
            ],
        }
    ]
}


def test_snake_case_enum_names_numbers_and_every_value_type() -> None:
    [trace] = read_traces(json.dumps(SNAKE).encode())
    [span] = trace.spans
    assert span.kind == "client"
    assert span.status == "error" and span.status_message == "boom"
    assert span.duration_ns == 500_000_000
    assert span.attributes["arr"] == [1, "x"]
    assert span.attributes["kv"] == {"in": False}
    assert span.attributes["n"] == 1.5 and span.attributes["b"] is True
    assert span.gen_ai is not None
    assert span.gen_ai.provider == "openai"  # deprecated gen_ai.system
    assert span.gen_ai.input_tokens == 12  # deprecated gen_ai.usage.prompt_tokens


def test_gzip_and_json_lines() -> None:
    from tests.builders import TraceBuilder

    a, b = TraceBuilder(trace_id="a" * 32), TraceBuilder(trace_id="b" * 32)
    a.span("one")
    b.span("two")
    lines = a.otlp() + b"\n" + b.otlp() + b"\n"
    traces = read_traces(gzip.compress(lines), source="x.jsonl.gz")
    assert [t.trace_id for t in traces] == ["a" * 32, "b" * 32]


def test_malformed_span_is_a_note_and_the_trace_survives() -> None:
    from tests.builders import TraceBuilder

    b = TraceBuilder()
    root = b.span("root", end=100)
    b.span("child", root, 10, 20)
    doc = json.loads(b.otlp())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[1]["startTimeUnixNano"] = {"not": "a number"}
    spans.append({"traceId": "zz", "spanId": "also bad", "name": "ghost"})
    [trace] = read_traces(json.dumps(doc).encode(), source="bad.json")
    assert {s.name for s in trace.spans} == {"root", "child"}
    notes = [q for q in trace.quality if q.kind == "malformed_span"]
    assert any("spans[1]" in (q.where or "") for q in notes)
    assert any("spans[2]" in (q.where or "") and "ghost" in q.detail for q in notes)
    assert all((q.where or "").startswith("bad.json") for q in notes)


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(TraceFormatError) as err:
        read_traces(b'{"hello": "world"}', source="paste.json")
    msg = str(err.value)
    assert msg.startswith("paste.json: not a trace format")
    for name in known_formats():
        assert name in msg


def test_not_json_names_the_line() -> None:
    with pytest.raises(TraceFormatError, match=r"t.jsonl:2: not JSON"):
        read_traces(b'{"resourceSpans": []}\n{oops\n', source="t.jsonl")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_input_raises_only_our_errors(data) -> None:
    from tests.builders import TraceBuilder

    b = TraceBuilder()
    r = b.span("root", end=50)
    b.tool("search", r, 1, 5)
    raw = bytearray(b.otlp())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    with contextlib.suppress(OncallError):
        read_traces(bytes(raw), source="fuzz")


@settings(max_examples=100, deadline=None)
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "resourceSpans",
                        "scopeSpans",
                        "spans",
                        "traceId",
                        "spanId",
                        "result",
                        "trace",
                        "batches",
                        "data",
                        "attributes",
                        "value",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_structurally_odd_documents_raise_only_our_errors(doc) -> None:
    with contextlib.suppress(OncallError):
        read_traces(msgspec.json.encode(doc), source="odd")


def test_absurdly_deep_attribute_nesting_is_our_error_not_a_crash() -> None:
    depth = 3000
    value = '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth
    data = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + "ab" * 16 + '",'
        '"spanId":"' + "cd" * 8 + '","name":"n","startTimeUnixNano":"1",'
        '"endTimeUnixNano":"2","attributes":[{"key":"deep","value":' + value + "}]}]}]}]}"
    ).encode()
    with pytest.raises(TraceFormatError, match="nested too deeply"):
        read_traces(data, source="deep.json")


def test_decoding_outside_read_traces_raises_only_our_error() -> None:
    from oncall_tui.core import otlp

    depth = 2000
    value = '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth
    raw = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + "ab" * 16 + '",'
        '"spanId":"' + "cd" * 8 + '","attributes":[{"key":"k","value":' + value + "}]}]}]}]}"
    ).encode()
    with pytest.raises(TraceFormatError, match="POST /v1/traces: JSON nested too deeply"):
        otlp.decode(raw, {"resourceSpans": []}, "POST /v1/traces")


def test_phoenix_sdk_export_tree_times_and_genai_view(shared_fixtures) -> None:
    """The OTLP/JSON the OpenTelemetry Python SDK really sent (README: 15 spans,
    every span but GET a child of the root, GET under the first search)."""
    from oncall_tui.core.analysis import analyze

    [trace] = _read(shared_fixtures / "phoenix" / "sent-as-otlp.json")
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    ids = [s.span_id for s in trace.spans]
    assert sorted(ids) == [f"00f067aa0ba902{n:02x}" for n in range(1, 16)]
    by_id = {s.span_id: s for s in trace.spans}
    root = by_id["00f067aa0ba90201"]
    assert root.parent_id is None and root.start_ns == 1795420800123456789  # sub-µs kept
    get = next(s for s in trace.spans if s.name == "GET")
    assert get.parent_id == "00f067aa0ba90203" and get.kind == "client"
    assert {s.parent_id for s in trace.spans if s not in (root, get)} == {root.span_id}
    assert {s.service for s in trace.spans} == {"research-agent-svc"}
    chats = [s for s in trace.spans if s.name.startswith("chat")]
    assert len(chats) == 7 and {s.kind for s in chats} == {"client"}
    g = chats[0].gen_ai
    assert g is not None
    assert (g.provider, g.request_model, g.response_model) == (
        "openai",
        "gpt-x-2026-09",
        "gpt-x-2026-09-0917",
    )
    assert g.temperature is not None and g.input_tokens is not None
    last = max(chats, key=lambda s: s.start_ns)
    assert last.gen_ai is not None and last.gen_ai.finish_reasons == ("stop",)
    failed = by_id["00f067aa0ba9020c"]
    assert failed.status == "error" and failed.gen_ai is not None
    assert (failed.gen_ai.tool_call_id, failed.gen_ai.error_type) == ("call_0005", "TimeoutError")
    assert failed.events and failed.events[0].name == "exception"
    # A plain agent loop with one failed tool call: no cycle, nothing at/above medium.
    a = analyze(trace)
    assert a.cycles == [] and trace.quality == []
    assert all(f.severity in ("info", "low") for f in a.findings)


# ----------------------------------------------- fuzz: hostile values (issue 14)

#: Text that looks like a number, nearly does, or does not at all.
_NUMBERISH = st.one_of(
    st.from_regex(r"\A[-+]?[0-9]{0,40}([.,eE_][-+]?[0-9]{0,5})?\Z"),
    st.sampled_from(["1e400", "9,00", "NaN", "-Infinity", "0x10", " 12 ", "²", "١٢", "", "1.5"]),
    st.text(max_size=8),
)
_CONTROLS = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)])) + "\u2028\u202e"


def _fuzz_doc(
    int_text: str, double_text: str, event_time: str, start: str, flags: str, name: str
) -> dict:
    attrs = [
        {"key": "i", "value": {"intValue": int_text}},
        {"key": "d", "value": {"doubleValue": double_text}},
        {"key": "a", "value": {"arrayValue": {"values": [{"intValue": int_text}]}}},
        {
            "key": "kv",
            "value": {
                "kvlistValue": {"values": [{"key": "x", "value": {"doubleValue": double_text}}]}
            },
        },
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": int_text}},
        {"key": "gen_ai.tool.name", "value": {"stringValue": name}},
    ]
    root = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": name,
        "startTimeUnixNano": start,
        "endTimeUnixNano": "9",
        "attributes": attrs,
        "events": [{"name": name, "timeUnixNano": event_time, "attributes": attrs}],
    }
    child = {
        "traceId": "ab" * 16,
        "spanId": "ef" * 8,
        "parentSpanId": "cd" * 8,
        "name": "execute_tool " + name,
        "flags": flags,
        "startTimeUnixNano": "2",
        "endTimeUnixNano": event_time,
        "attributes": attrs,
    }
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "process.pid", "value": {"intValue": int_text}}]
                },
                "scopeSpans": [{"spans": [root, child]}],
            }
        ]
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    int_text=_NUMBERISH,
    double_text=_NUMBERISH,
    event_time=_NUMBERISH,
    start=_NUMBERISH,
    flags=_NUMBERISH,
    name=st.text(alphabet=st.characters() | st.sampled_from(_CONTROLS), max_size=12),
)
def test_numbers_as_any_text_never_lose_a_span_and_print_safely(
    int_text, double_text, event_time, start, flags, name
) -> None:
    from oncall_tui.cli.output import say, to_json
    from oncall_tui.cli.trace_cmd import _print_analysis
    from oncall_tui.core.analysis import analyze
    from oncall_tui.core.graph import to_text

    data = json.dumps(_fuzz_doc(int_text, double_text, event_time, start, flags, name)).encode()
    [trace] = read_traces(data, source="fuzz")
    assert len(trace.spans) == 2
    analysis = analyze(trace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_analysis(analysis)
    lines = out.getvalue().splitlines()
    # Every line is one the printer wrote: trace text never starts a line of its own.
    assert sum(line.startswith("trace ") for line in lines) == 1
    assert all(line.startswith("  ") for line in lines[1:])
    graph = io.StringIO()
    with contextlib.redirect_stdout(graph):
        for line in to_text(analysis.graph, frozenset()):
            say("  " + line)  # as `trace graph` prints it
    assert len(graph.getvalue().splitlines()) == len(to_text(analysis.graph, frozenset()))
    printed = "\n".join([*lines, graph.getvalue(), to_json(analysis)])
    assert not [c for c in printed if c in _CONTROLS and c != "\n"]


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    ),
    field=st.sampled_from(
        ["intValue", "doubleValue", "timeUnixNano", "startTimeUnixNano", "flags"]
    ),
)
def test_numeric_fields_of_any_json_type_raise_only_our_errors(value, field) -> None:
    doc = _fuzz_doc("1", "1.5", "3", "1", "0", "n")
    root = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    if field in ("intValue", "doubleValue"):
        root["attributes"][0]["value"] = {field: value}
    elif field == "timeUnixNano":
        root["events"][0]["timeUnixNano"] = value
    else:
        root[field] = value
    try:
        [trace] = read_traces(json.dumps(doc).encode(), source="fuzz")
    except OncallError:
        return
    assert {s.span_id for s in trace.spans} == {"cd" * 8, "ef" * 8}


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=20),
    encoding=st.sampled_from(
        [
            "utf-8",
            "utf-8-sig",
            "utf-16",
            "utf-16-le",
            "utf-16-be",
            "utf-32",
            "utf-32-le",
            "utf-32-be",
            "latin-1",
            "cp1252",
        ]
    ),
    gzipped=st.booleans(),
)
def test_any_encoding_reads_or_is_named(name, encoding, gzipped) -> None:
    text = json.dumps(_fuzz_doc("1", "1.5", "3", "1", "0", name), ensure_ascii=False)
    try:
        plain = text.encode(encoding)
    except UnicodeEncodeError:
        return  # the name has characters this encoding lacks
    try:
        traces = read_traces(gzip.compress(plain) if gzipped else plain, source="enc")
    except TraceFormatError as exc:
        message = str(exc)
        if encoding.startswith(("utf-16", "utf-32")):
            assert f"file is {encoding[:6].upper()}" in message
        else:
            # Only a legacy 8-bit encoding of non-ASCII text fails, at its first such byte.
            assert encoding in ("latin-1", "cp1252") and "not UTF-8 text at byte" in message
            at = int(message.split("at byte ")[1].split(maxsplit=1)[0])
            assert plain[at] >= 0x80
            plain[:at].decode()  # everything before the offset is UTF-8
        return
    assert not encoding.startswith(("utf-16", "utf-32"))
    if encoding.startswith("utf-8"):
        assert traces[0].spans[0].name == name  # (8-bit text may happen to be UTF-8 too)
