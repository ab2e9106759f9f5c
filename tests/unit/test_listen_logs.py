"""`trace listen` takes span events sent as OTLP log records (``POST
/v1/logs``): the older GenAI event conventions (opentelemetry-instrumentation-
openai-v2 through the Events API) put tool arguments and message content
there, never on the spans. Without them, the live view missed the stuck
agent of tests/corpus/otel-genai-events/stuck-identical (same tool, same
arguments, again and again) and the hidden reasoning of reasoning-stream,
which `trace analyze trace.json logs.json` finds.

The recorded corpus is replayed to a real receiver, as protobuf (what the SDK
sends) and as JSON, logs before and after the spans; the live diagnosis must
be the file's, and so must `trace analyze` of what `--save` wrote."""

from __future__ import annotations

import argparse
import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from oncall_tui.cli.trace_cmd import load_traces
from oncall_tui.cli.trace_store_cmd import listening
from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import EventBatch
from oncall_tui.core.models import SpanEvent
from oncall_tui.sources.live_traces import LiveTraces

EVENTS = Path(__file__).resolve().parents[1] / "corpus" / "otel-genai-events"
CASES = sorted(p.name for p in EVENTS.iterdir() if (p / "logs.json").exists())
PB = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def _b64_ids(doc: dict[str, Any], records: str, items: str, keys: tuple[str, ...]) -> None:
    for group in doc.get(records, []):
        for scope in group.get(f"scope{records[8:]}", []):
            for item in scope.get(items, []):
                for key in keys:
                    if item.get(key):
                        item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()


def _trace_pb(doc: dict[str, Any]) -> bytes:
    doc = copy.deepcopy(doc)
    _b64_ids(doc, "resourceSpans", "spans", ("traceId", "spanId", "parentSpanId"))
    msg = json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    return msg.SerializeToString()


def _logs_pb(doc: dict[str, Any]) -> bytes:
    doc = copy.deepcopy(doc)
    _b64_ids(doc, "resourceLogs", "logRecords", ("traceId", "spanId"))
    msg = json_format.ParseDict(doc, ExportLogsServiceRequest(), ignore_unknown_fields=True)
    return msg.SerializeToString()


def _kinds(traces: Any) -> list[tuple[str, list[str]]]:
    return sorted((t.trace_id, sorted({f.kind for f in analyze(t).findings})) for t in traces)


def _args(save: Path) -> argparse.Namespace:
    return argparse.Namespace(
        quiet_s=0.0, max_traces=100, max_spans=100_000, max_body=10_000_000, save=str(save), port=0
    )


def _settle(live: LiveTraces) -> list[Any]:
    """Tick until nothing is pending (bounded); the traces as shown (one that
    ran inside another's tool is part of that one, as `trace analyze` reads it)."""
    for _ in range(100):
        live.tick()
        if live.stats().pending_traces == 0:
            break
        time.sleep(0.01)
    return [e.trace for e in live.entries() if e.inside_trace_id is None]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("encoding", "logs_first"),
    # The SDK default (protobuf), its log exporter flushing first; and JSON
    # with the logs arriving after the spans settled (they reopen them).
    [("protobuf", True), ("json", False)],
)
def test_the_live_diagnosis_with_logs_is_the_files(
    case: str, encoding: str, logs_first: bool, tmp_path: Path
) -> None:
    trace_doc = json.loads((EVENTS / case / "trace.json").read_bytes())
    logs_doc = json.loads((EVENTS / case / "logs.json").read_bytes())
    want = _kinds(
        load_traces([str(EVENTS / case / "trace.json"), str(EVENTS / case / "logs.json")], None)
    )
    if encoding == "protobuf":
        spans_req, logs_req, headers = _trace_pb(trace_doc), _logs_pb(logs_doc), PB
    else:
        spans_req = json.dumps(trace_doc).encode()
        logs_req, headers = json.dumps(logs_doc).encode(), JSON
    save = tmp_path / "saved.jsonl"
    with listening(_args(save)) as (live, receiver), httpx.Client(timeout=10) as client:
        base = receiver.url.rsplit("/v1/", 1)[0]
        order = [("logs", logs_req), ("traces", spans_req)]
        for what, body in order if logs_first else order[::-1]:
            resp = client.post(f"{base}/v1/{what}", content=body, headers=headers)
            assert resp.status_code == 200, resp.text
            if not logs_first:
                _settle(live)  # the spans settle first; the logs reopen them
        got = _kinds(_settle(live))
        assert live.stats().waiting_events == 0
    assert got == want
    assert _kinds(load_traces([str(save)], None)) == want, "--save reads back the same"


def test_without_the_logs_the_stuck_agent_is_missed() -> None:
    """Why this matters: the corpus case that needs them."""
    spans_only = _kinds(load_traces([str(EVENTS / "stuck-identical" / "trace.json")], None))
    with_logs = _kinds(
        load_traces(
            [
                str(EVENTS / "stuck-identical" / "trace.json"),
                str(EVENTS / "stuck-identical" / "logs.json"),
            ],
            None,
        )
    )
    assert not any("repeated_tool_call" in kinds for _, kinds in spans_only)
    assert any("repeated_tool_call" in kinds for _, kinds in with_logs)


def _batch(trace_id: str, span_id: str, name: str = "gen_ai.tool.message") -> EventBatch:
    key = (trace_id, span_id)
    return EventBatch({key: [SpanEvent(name, 5, {"content": "x"})]}, {key: "test"})


def test_events_for_unknown_traces_wait_bounded_and_count_what_was_dropped() -> None:
    live = LiveTraces(quiet_s=0, max_traces=3)
    for i in range(5):
        live.add_events(_batch(f"{i:032x}", "1" * 16))
    stats = live.stats()
    assert stats.received_events == 5
    assert stats.waiting_events == 3 and stats.evicted_events == 2
    assert live.tick() == [], "events alone never make a trace"


def test_a_bad_logs_body_is_a_400_and_logs_without_a_taker_are_404(tmp_path: Path) -> None:
    with listening(_args(tmp_path / "s.jsonl")) as (_live, receiver), httpx.Client() as client:
        base = receiver.url.rsplit("/v1/", 1)[0]
        resp = client.post(f"{base}/v1/logs", content=b"\x0a\x05junk", headers=PB)
        assert resp.status_code == 400
        resp = client.post(f"{base}/v1/logs", content=b'{"resourceSpans": []}', headers=JSON)
        assert resp.status_code == 400 and "not OTLP logs" in resp.json()["message"]
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver(lambda traces, lines: None, port=0)
    receiver.start()
    try:
        resp = httpx.post(
            receiver.url.replace("/v1/traces", "/v1/logs"), content=b"{}", headers=JSON
        )
        assert resp.status_code == 404
    finally:
        receiver.close()


@pytest.mark.timeout(120)
def test_the_real_sdk_log_exporter_attaches_events_to_their_span(tmp_path: Path) -> None:
    """The OTel Python SDK's LoggerProvider and OTLP/HTTP log exporter
    (protobuf), emitting a GenAI event inside a chat span, as the Events API
    instrumentations do: the live trace's span carries it."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with listening(_args(tmp_path / "s.jsonl")) as (live, receiver):
        base = receiver.url.rsplit("/v1/", 1)[0]
        resource = Resource.create({"service.name": "agent-app"})
        tracing = TracerProvider(resource=resource)
        tracing.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
        )
        logging = LoggerProvider(resource=resource)
        logging.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs"))
        )
        tracer = tracing.get_tracer("agent")
        logger = logging.get_logger("opentelemetry.instrumentation.openai_v2")
        chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
        with tracer.start_as_current_span("chat gpt-4o", attributes=chat) as span:
            span_id = f"{span.get_span_context().span_id:016x}"
            logger.emit(
                event_name="gen_ai.choice",
                body={
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"content": "refunds: 30 days"},
                },
                attributes={"gen_ai.system": "openai"},
            )
        logging.shutdown()  # flushes: the logs first, as often happens
        tracing.shutdown()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not live.entries():
            live.tick()
            time.sleep(0.05)
        [entry] = live.entries()
        [chat_span] = [s for s in entry.trace.spans if s.span_id == span_id]
        [event] = [e for e in chat_span.events if e.name == "gen_ai.choice"]
        assert event.attributes["message"] == {"content": "refunds: 30 days"}
        assert live.stats().received_events == 1


def test_the_closing_summary_counts_events_only_when_some_came() -> None:
    from oncall_tui.cli.trace_store_cmd import _events

    live = LiveTraces(quiet_s=0)
    assert _events(live.stats()) == ""
    live.add_events(_batch("a" * 32, "1" * 16))
    assert _events(live.stats()) == ", 1 event (as logs)"
