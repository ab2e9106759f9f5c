"""The OTLP/HTTP receiver behind ``trace listen`` (sources/otlp_receiver.py,
sources/otlp_protobuf.py): protobuf as SDKs send it by default, JSON, gzip;
answers as the OTLP/HTTP spec says; hostile bodies get a 4xx with one line
and take nothing away."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from oncall_tui.core import otlp
from oncall_tui.core.models import Trace
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.sources.detect import read_traces
from oncall_tui.sources.live_traces import LiveTraces
from oncall_tui.sources.otlp_protobuf import message_to_json, message_to_wire, parse_request
from oncall_tui.sources.otlp_receiver import OtlpReceiver

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
PB = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def _to_proto(doc: dict[str, Any]) -> ExportTraceServiceRequest:
    """OTLP/JSON (hex ids) -> the protobuf message an SDK would have sent."""
    doc = copy.deepcopy(doc)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        link[key] = base64.b64encode(bytes.fromhex(link[key])).decode()
    return json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=True)


def _hex_ids(doc: Any) -> Any:
    """protobuf's own JSON mapping writes bytes as base64; OTLP/JSON wants hex."""
    if isinstance(doc, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids(v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [_hex_ids(v) for v in doc]
    return doc


def _spans(traces: list[Trace]) -> list[Any]:
    return [t.spans for t in traces]


def _corpus_lines() -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(CORPUS.glob("*/nested-reentrancy/spans.jsonl"))[:4]:
        lines += [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    assert len(lines) > 20
    return lines


def test_protobuf_reads_as_the_very_spans_the_json_gives() -> None:
    """Recorded real-library spans, sent as protobuf: the same Spans as the
    OTLP/JSON of them, and the same as protobuf's own JSON mapping."""
    for line in _corpus_lines():
        doc = json.loads(line)
        msg = _to_proto(doc)
        parsed = parse_request(msg.SerializeToString(), "test")
        ours, (_, count) = message_to_json(parsed), message_to_wire(parsed)
        assert b"\n" not in ours, "one line, for --save"
        want = read_traces(line, source="test")
        assert _spans(read_traces(ours, source="test")) == _spans(want)
        assert count == sum(len(t.spans) for t in want)
        mapped = _hex_ids(json_format.MessageToDict(msg, use_integers_for_enums=True))
        assert _spans(read_traces(json.dumps(mapped).encode(), source="t")) == _spans(want)


def _wire_spans(body: bytes) -> list[Any]:
    """The receiver's hot path: protobuf -> wire Structs -> Spans, no JSON."""
    data, _ = message_to_wire(parse_request(body, "test"))
    spans, _notes = otlp.convert_data(data, "test")
    return spans


def test_the_wire_path_makes_the_very_spans_the_saved_json_gives() -> None:
    """What the live view analyses (protobuf straight into wire Structs) and
    what ``--save`` writes (the JSON of the same message) read as the same
    Spans: `trace analyze` of the saved file agrees with the live view."""
    for line in _corpus_lines():
        body = _to_proto(json.loads(line)).SerializeToString()
        saved = message_to_json(parse_request(body, "test"))
        via_json, _ = otlp.decode(saved, None, "test")
        assert _wire_spans(body) == via_json
    body = _to_proto(_every_kind_of_value()).SerializeToString()
    saved = message_to_json(parse_request(body, "test"))
    # (NaN is not equal to itself: compare as encoded.)
    assert msgspec.json.encode(_wire_spans(body)) == msgspec.json.encode(
        otlp.decode(saved, None, "test")[0]
    )


def _kv(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _every_kind_of_value() -> dict[str, Any]:
    attrs = [
        {"key": "s", "value": {"stringValue": "héllo\nworld"}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},  # past a double's precision
        {"key": "d", "value": {"doubleValue": 0.25}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "raw", "value": {"bytesValue": base64.b64encode(b"\x00\xff").decode()}},
        {
            "key": "arr",
            "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}},
        },
        {
            "key": "kv",
            "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}},
        },
        {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
        {"key": "gen_ai.tool.name", "value": {"stringValue": "lookup"}},
    ]
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "parentSpanId": "00f067aa0ba902b7",
        "name": "execute_tool lookup",
        "kind": 3,
        "flags": 769,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "attributes": attrs,
        "droppedAttributesCount": 2,
        "events": [
            {"timeUnixNano": "1700000000100000000", "name": "exception", "attributes": attrs[:1]}
        ],
        "links": [{"traceId": "ab" * 16, "spanId": "cd" * 8}],
        "status": {"code": 2, "message": "boom"},
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "a")]},
                "scopeSpans": [{"scope": {"name": "s", "version": "1"}, "spans": [span]}],
            }
        ]
    }


def test_every_value_kind_ids_enums_and_numbers_follow_the_otlp_json_rules() -> None:
    doc = _every_kind_of_value()
    ours = message_to_json(parse_request(_to_proto(doc).SerializeToString(), "test"))
    span = msgspec.json.decode(ours)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c", "hex, not base64"
    assert span["parentSpanId"] == "00f067aa0ba902b7" and span["kind"] == 3
    assert span["startTimeUnixNano"] == "1700000000000000000", "64-bit numbers as text"
    values = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert values["i"] == {"intValue": "9007199254740993"}
    assert values["nan"] == {"doubleValue": "NaN"} and values["inf"] == {"doubleValue": "-Infinity"}
    assert span["links"][0]["traceId"] == "ab" * 16
    [got] = read_traces(ours, source="t")
    [want] = read_traces(json.dumps(doc).encode(), source="t")
    assert got.spans[0].attributes["nan"] != got.spans[0].attributes["nan"], "NaN kept"
    # (NaN is not equal to itself: compare as encoded.)
    assert msgspec.json.encode(got.spans) == msgspec.json.encode(want.spans)


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(url, content=body, headers=headers)


def _status(resp: httpx.Response) -> tuple[int, str]:
    """The google.rpc.Status an error carries, read in the answer's encoding."""
    if resp.headers["content-type"] == "application/x-protobuf":
        status = status_pb2.Status()
        status.ParseFromString(resp.content)
        return status.code, status.message
    doc = resp.json()
    return doc["code"], doc["message"]


@pytest.fixture
def listener() -> Any:
    live = LiveTraces(quiet_s=0)
    saved: list[bytes] = []

    def on_traces(traces: list[Trace], lines: bytes) -> None:
        saved.append(lines)
        live.add(traces)

    receiver = OtlpReceiver(on_traces, port=0, max_body=200_000, max_unpacked=1 << 20)
    receiver.start()
    try:
        yield receiver, live, saved
    finally:
        receiver.close()


def test_protobuf_and_json_gzip_or_not_answer_in_their_own_encoding(listener: Any) -> None:
    receiver, live, saved = listener
    line = _corpus_lines()[0]
    pb = _to_proto(json.loads(line)).SerializeToString()
    ok = _post(receiver.url, pb, PB)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse().ParseFromString(ok.content)  # a valid export response
    ok = _post(receiver.url, gzip.compress(pb), {**PB, "content-encoding": "gzip"})
    assert ok.status_code == 200
    ok = _post(receiver.url, line, {"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and ok.json() == {"partialSuccess": {}}
    # A chunked body (no Content-Length) is read too.
    with httpx.Client(timeout=10) as client:
        ok = client.post(receiver.url, content=iter([pb[:10], pb[10:]]), headers=PB)
    assert ok.status_code == 200
    assert live.stats().received_requests == 4
    # What --save would write: each request as one OTLP/JSON line, read back the same.
    assert all(s.count(b"\n") == 1 for s in saved)
    want = _spans(read_traces(line, source="t"))
    assert all(_spans(read_traces(s, source="t")) == want for s in saved)


def test_an_empty_export_is_fine_and_adds_nothing(listener: Any) -> None:
    receiver, live, saved = listener
    assert _post(receiver.url, b"", PB).status_code == 200
    assert _post(receiver.url, b'{"resourceSpans": []}', JSON).status_code == 200
    assert live.stats().received_spans == 0 and saved == [b"", b""]


def test_hostile_bodies_get_a_4xx_with_one_line_and_lose_nothing(listener: Any) -> None:
    receiver, live, _ = listener
    line = _corpus_lines()[0]
    pb = _to_proto(json.loads(line)).SerializeToString()
    assert _post(receiver.url, pb, PB).status_code == 200
    before = live.stats()
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (pb[: len(pb) // 2], PB, 400, "not an OTLP ExportTraceServiceRequest"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, PB, 400, "not an OTLP ExportTraceServiceRequest"),
        (line, PB, 400, "not an OTLP ExportTraceServiceRequest"),  # JSON sent as protobuf
        (b'{"hello": "world"}', JSON, 400, "not a trace format"),
        (pb, JSON, 400, "POST /v1/traces"),  # protobuf sent as JSON
        (pb, {"content-type": "text/plain"}, 415, "application/x-protobuf"),
        (pb, {}, 415, "(none)"),
        (b"x" * 300_000, PB, 413, "over the limit of 200000 bytes"),
        (gzip.compress(b"\0" * (8 << 20)), {**PB, "content-encoding": "gzip"}, 400, "1 MiB"),
        (pb, {**PB, "content-encoding": "gzip"}, 400, "not gzip"),
    ]
    for body, headers, code, words in cases:
        resp = _post(receiver.url, body, headers)
        assert resp.status_code == code, (words, resp.text)
        rpc_code, message = _status(resp)
        assert words in message and "\n" not in message and len(message) <= 500, message
        assert rpc_code in (3, 8)
        if headers.get("content-type") == PB["content-type"]:
            assert resp.headers["content-type"] == "application/x-protobuf"
    # Still serving; nothing received before was lost or changed.
    after = live.stats()
    assert after.received_spans == before.received_spans
    assert after.held_spans == before.held_spans
    assert _post(receiver.url, pb, PB).status_code == 200
    assert live.stats().received_requests == before.received_requests + 1


def test_without_opentelemetry_proto_protobuf_is_a_415_that_says_why(
    listener: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken install (the package missing): protobuf is refused with a
    reason and a way out, JSON still works, and `trace listen` warns at start."""
    receiver, live, _ = listener
    line = _corpus_lines()[0]
    pb = _to_proto(json.loads(line)).SerializeToString()
    # None in sys.modules makes the import fail, as an uninstalled package does.
    monkeypatch.setitem(
        sys.modules, "opentelemetry.proto.collector.trace.v1.trace_service_pb2", None
    )
    resp = _post(receiver.url, pb, PB)
    assert resp.status_code == 415
    _, message = _status(resp)
    assert "opentelemetry-proto is not installed" in message and "http/json" in message
    assert _post(receiver.url, line, JSON).status_code == 200
    assert live.stats().received_requests == 1

    import io

    from oncall_tui.cli import trace_store_cmd
    from oncall_tui.sources import otlp_receiver

    monkeypatch.setattr(otlp_receiver, "protobuf_readable", lambda: False)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    args = trace_store_cmd.argparse.Namespace(
        quiet_s=2.0, max_traces=10, max_spans=100, max_body=1000, save=None, port=0
    )
    with trace_store_cmd.listening(args):
        pass
    assert "warning: cannot read application/x-protobuf" in err.getvalue()


def test_another_path_is_404_in_status_form(listener: Any) -> None:
    receiver, _, _ = listener
    resp = _post(receiver.url.replace("/v1/traces", "/v1/metrics"), b"", PB)
    assert resp.status_code == 404 and "POST /v1/traces" in _status(resp)[1]


def test_the_status_body_is_what_googleapis_writes() -> None:
    from oncall_tui.sources.otlp_receiver import _status_protobuf

    for code, message in ((3, "x"), (8, "é" * 300), (13, "")):
        want = status_pb2.Status(code=code, message=message).SerializeToString()
        assert _status_protobuf(code, message) == want


def test_the_cli_never_imports_protobuf_unless_it_listens(tmp_path: Path) -> None:
    """`oncall-tui --help`, `trace listen --help` and `trace analyze` start
    without opentelemetry-proto or protobuf (they cost import time)."""
    trace = tmp_path / "t.json"
    trace.write_bytes(_corpus_lines()[0])
    code = (
        "import sys, contextlib, io\n"
        "from oncall_tui.cli.main import build_parser, main\n"
        "build_parser()\n"
        "for argv in (['trace', 'listen', '--help'], ['trace', 'analyze', sys.argv[1]]):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'google', 'opentelemetry'}))\n"
        "print('oncall_tui.sources.live_traces' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(trace)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[]", "False"], proc.stdout


def test_the_listen_defaults_in_the_cli_are_the_stores_own() -> None:
    from oncall_tui.cli import trace_store_cmd as cmd
    from oncall_tui.sources import live_traces, otlp_receiver

    assert cmd.DEFAULT_QUIET_S == live_traces.DEFAULT_QUIET_S
    assert cmd.DEFAULT_MAX_TRACES == live_traces.DEFAULT_MAX_TRACES
    assert cmd.DEFAULT_MAX_SPANS == live_traces.DEFAULT_MAX_SPANS
    assert cmd.MAX_BODY == otlp_receiver.MAX_BODY


def test_listen_shows_a_late_span_as_an_update_and_says_what_it_evicted(
    cli_env: dict[str, str],
) -> None:
    """What a person watching `trace listen` sees: a trace once it settles,
    again marked UPDATED when a late span reopens it, its findings under it,
    and a line when the bounds evict a trace."""
    from tests.builders import TraceBuilder

    def agent(trace_id: str) -> TraceBuilder:
        b = TraceBuilder(trace_id=trace_id)
        root = b.agent("planner", end=1000)
        outer = b.tool("lookup", root, 60, 900)
        m = b.model(outer, 70, 850)
        b.tool("lookup", m, 110, 800)
        return b

    # --count 3: a, b and c each shown once (a's update does not count).
    argv = ["trace", "listen", "--port", "0", "--quiet-s", "0.3", "--count", "3"]
    argv += ["--seconds", "60", "--max-traces", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[2]
        a = agent("a" * 32)
        first, late = a.spans[:3], a.spans[3:]

        def send(spans: list[Any]) -> None:
            doc = msgspec.json.decode(msgspec.json.encode(traces_data(spans)))
            resp = _post(url, _to_proto(doc).SerializeToString(), PB)
            assert resp.status_code == 200, resp.text

        send(first)
        time.sleep(1.5)  # settles: printed without its cycle (half the trace)
        send(late)
        time.sleep(1.5)  # settles again: UPDATED, now with the cycle
        send(agent("b" * 32).spans)
        send(agent("c" * 32).spans)  # a third trace: the quietest (a) goes
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    heads = [ln for ln in lines if ln.startswith("trace ")]
    assert heads[0].startswith("trace " + "a" * 32) and "3 spans" in heads[0]
    assert "UPDATED" not in heads[0]
    assert heads[1].startswith("trace " + "a" * 32) and "4 spans" in heads[1]
    assert "(2 requests)" in heads[1] and "UPDATED (1x" in heads[1]
    after = lines[lines.index(heads[1]) + 1]
    assert "reentrancy_cycle" in after and after.startswith("    high")
    assert any(ln.startswith("evicted so far: 1 trace, 4 spans") for ln in lines), out
    assert lines[-1].startswith("received 12 spans in 4 requests")


def test_a_client_that_hangs_up_mid_body_costs_only_its_connection(
    listener: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    from urllib.parse import urlsplit

    receiver, live, _ = listener
    parts = urlsplit(receiver.url)
    for _ in range(3):
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n\x0a\x05"
            )
    line = _corpus_lines()[0]
    ok = _post(receiver.url, _to_proto(json.loads(line)).SerializeToString(), PB)
    assert ok.status_code == 200
    time.sleep(0.2)
    assert live.stats().received_requests == 1
    assert "Traceback" not in capsys.readouterr().err
