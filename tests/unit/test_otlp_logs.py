"""GenAI events recorded as OTLP log records (the older event conventions:
openai-v2 2.0b0-2.3b0 through the Events API) read together with their
spans: the tool calls' arguments only ever appear there."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.errors import TraceFormatError
from oncall_tui.sources.detect import read_many, read_traces
from tests.builders import MS, TraceBuilder

ARGS = '{"order_id": "A-1001"}'


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    assert isinstance(value, dict)
    return {
        "kvlistValue": {"values": [{"key": k, "value": any_value(v)} for k, v in value.items()]}
    }


def record(
    trace_id: str, span_id: str, name: str, body: Any, at_ms: int, *, field: bool = False
) -> dict[str, Any]:
    """One log record as the OTLP log encoder writes it; ``field`` names the
    event in ``eventName`` (newer OTLP) instead of the ``event.name`` attribute."""
    attrs = [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]
    out: dict[str, Any] = {
        "timeUnixNano": str(at_ms * MS),
        "observedTimeUnixNano": str(at_ms * MS + 1),
        "severityNumber": 9,
        "body": any_value(body),
        "traceId": trace_id,
        "spanId": span_id,
        "attributes": attrs,
    }
    if field:
        out["eventName"] = name
    else:
        attrs.append({"key": "event.name", "value": {"stringValue": name}})
    return out


def logs_doc(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"resourceLogs": [{"scopeLogs": [{"scope": {"name": "openai_v2"}, "logRecords": records}]}]}
    ).encode()


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def stuck_agent() -> tuple[TraceBuilder, list[dict[str, Any]]]:
    """An agent calls lookup_order three times with the same arguments; as in
    event mode, the tool spans carry only the name and call id, and the
    arguments exist only in each chat span's ``gen_ai.choice`` log record."""
    b = TraceBuilder()
    agent = b.agent("assistant", end=400)
    records = []
    for i in range(3):
        start = i * 100
        chat = b.model(agent, start, start + 40)
        call_id = f"call_{i}"
        b.span(
            "execute_tool lookup_order",
            agent,
            start + 50,
            start + 90,
            attrs={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.id": call_id,
            },
        )
        choice = {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "lookup_order", "arguments": ARGS},
                    }
                ],
            },
        }
        # Ids as hex, base64, and the event name in either place: all real.
        tid, sid = (b.trace_id, chat) if i != 1 else (b64(b.trace_id), b64(chat))
        records.append(record(tid, sid, "gen_ai.choice", choice, start + 40, field=i == 2))
        if i:
            # The next chat call reads the previous tool's answer back.
            back = {"content": "error: order service unavailable", "id": f"call_{i - 1}"}
            records.append(record(b.trace_id, chat, "gen_ai.tool.message", back, start + 1))
    b.model(agent, 300, 340)
    return b, records


def _kinds(trace: Any) -> dict[str, Any]:
    return {f.kind: f for f in analyze(trace).findings}


def test_arguments_only_in_log_records_reveal_the_repeated_call() -> None:
    b, records = stuck_agent()
    [alone] = read_traces(b.otlp(), source="trace.json")
    before = _kinds(alone)
    assert "repeated_tool_call" not in before  # nothing to compare without the logs
    assert "tool arguments" in before["flight_recorder_gaps"].summary

    [trace] = read_many([(b.otlp(), "trace.json"), (logs_doc(records), "logs.json")])
    found = _kinds(trace)
    assert found["repeated_tool_call"].numbers["calls"] == 3
    assert "tool arguments" not in found["flight_recorder_gaps"].summary
    tools = [s.gen_ai for s in trace.spans if s.gen_ai and s.gen_ai.operation == "execute_tool"]
    assert [g.tool_call_arguments for g in tools] == [ARGS] * 3
    # Results read back by the next chat call, by call id; the last was never read.
    assert [g.tool_call_result for g in tools][:2] == ["error: order service unavailable"] * 2
    assert not trace.quality


def test_log_records_look_like_span_events_on_their_span() -> None:
    b, records = stuck_agent()
    # Order of the inputs does not matter: logs first.
    [trace] = read_many([(logs_doc(records), "logs.json"), (b.otlp(), "trace.json")])
    chat = next(s for s in trace.spans if s.events)
    [event] = chat.events
    assert event.name == "gen_ai.choice"
    assert event.time_ns == 40 * MS
    assert event.attributes["finish_reason"] == "tool_calls"  # body keys, as a span event
    assert chat.gen_ai is not None and chat.gen_ai.finish_reasons == ("tool_calls",)


def test_log_records_as_json_lines_with_a_malformed_one() -> None:
    b, records = stuck_agent()
    lines = [logs_doc([r]) for r in records]
    bad = json.loads(logs_doc([records[0]]))
    bad["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = {"no": 1}
    lines.insert(1, json.dumps(bad).encode())
    [trace] = read_many([(b.otlp(), "trace.json"), (b"\n".join(lines), "logs.jsonl")])
    assert _kinds(trace)["repeated_tool_call"].numbers["calls"] == 3
    [note] = trace.quality
    assert note.kind == "malformed_log"
    assert note.where == "logs.jsonl:2: resourceLogs[0].scopeLogs[0].logRecords[0]"


def test_malformed_records_are_capped_like_other_notes() -> None:
    b, records = stuck_agent()
    bad = [dict(records[0], timeUnixNano="soon") for _ in range(60)]
    [trace] = read_many([(b.otlp(), "trace.json"), (logs_doc(records + bad), "logs.json")])
    assert "repeated_tool_call" in _kinds(trace)
    notes = [n for n in trace.quality if n.kind == "malformed_log"]
    assert len(notes) == 51
    assert notes[-1].detail == "10 more malformed_log notes not listed"


def test_logs_whose_span_is_absent_are_a_quality_note_not_a_crash() -> None:
    b, records = stuck_agent()
    stray = [
        record(b.trace_id, "ff" * 8, "gen_ai.choice", {"index": 0}, 5),
        record(b.trace_id, "ff" * 8, "gen_ai.user.message", {"content": "hi"}, 6),
        record("cd" * 16, "ee" * 8, "gen_ai.choice", {"index": 0}, 7),
        # A record logged outside any span names no trace: not a stray.
        record("", "", "app.log", "started", 1),
    ]
    [trace] = read_many([(b.otlp(), "trace.json"), (logs_doc(records + stray), "logs.json")])
    assert "repeated_tool_call" in _kinds(trace)  # the rest still attached
    notes = sorted(trace.quality, key=lambda n: n.detail)
    assert [n.kind for n in notes] == ["unattached_events", "unattached_events"]
    # Its own trace's stray span, and the one from a trace not in the input.
    assert notes[0].detail.startswith("1 event (log record) names a span not in the input")
    assert "span eeeeeeeeeeeeeeee of trace " + "cd" * 16 in notes[0].detail
    assert notes[1].detail.startswith("2 events (log records) name a span not in the input")
    assert notes[1].where == f"logs.json: resourceLogs[0].scopeLogs[0].logRecords[{len(records)}]"


def test_logs_alone_give_no_trace_and_say_why_when_asked_for_spans() -> None:
    _, records = stuck_agent()
    assert read_traces(logs_doc(records), source="logs.json") == []
    with pytest.raises(TraceFormatError, match="read them with the trace file"):
        read_many([(logs_doc(records), "logs.json")], need_spans=True)


def test_snake_case_logs_are_read() -> None:
    b, records = stuck_agent()
    doc = msgspec.json.decode(logs_doc(records))
    snake = {"resource_logs": [{"scope_logs": [{"log_records": []}]}]}
    for r in doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
        row = {
            "time_unix_nano": r["timeUnixNano"],
            "trace_id": r["traceId"],
            "span_id": r["spanId"],
            "body": r["body"],
            "attributes": r["attributes"],
        }
        if "eventName" in r:
            row["event_name"] = r["eventName"]
        snake["resource_logs"][0]["scope_logs"][0]["log_records"].append(row)
    [trace] = read_many([(b.otlp(), "trace.json"), (json.dumps(snake).encode(), "logs.json")])
    assert _kinds(trace)["repeated_tool_call"].numbers["calls"] == 3


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_tui", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_reads_a_trace_file_and_its_logs_together(tmp_path, cli_env) -> None:
    b, records = stuck_agent()
    spans, logs = tmp_path / "trace.json", tmp_path / "logs.json"
    spans.write_bytes(b.otlp())
    logs.write_bytes(logs_doc(records))

    proc = run(["trace", "analyze", str(spans), str(logs), "--json"], cli_env)
    assert proc.returncode == 0, proc.stderr
    [analysis] = json.loads(proc.stdout)["traces"]
    assert "repeated_tool_call" in {f["kind"] for f in analysis["findings"]}
    assert run(["trace", "analyze", str(spans), "--json"], cli_env).returncode == 0
    alone = json.loads(run(["trace", "analyze", str(spans), "--json"], cli_env).stdout)
    assert "repeated_tool_call" not in {f["kind"] for f in alone["traces"][0]["findings"]}

    graph = run(["trace", "graph", str(logs), str(spans), "--json"], cli_env)
    assert graph.returncode == 0, graph.stderr
    assert "tool:lookup_order" in json.loads(graph.stdout)["graph"]["nodes"]

    only_logs = run(["trace", "analyze", str(logs)], cli_env)
    assert only_logs.returncode == 2
    err = only_logs.stderr.decode().strip()
    assert len(err.splitlines()) <= 2 and "read them with the trace file" in err


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_log_order_lines_and_id_encoding_do_not_change_the_diagnosis(data: Any) -> None:
    b, records = stuck_agent()
    records = data.draw(st.permutations(records))
    for r in records:
        if len(r["traceId"]) != 32:  # stuck_agent wrote one record in base64
            r["traceId"] = base64.b64decode(r["traceId"]).hex()
            r["spanId"] = base64.b64decode(r["spanId"]).hex()
        if data.draw(st.booleans()):
            r["traceId"], r["spanId"] = b64(r["traceId"]), b64(r["spanId"])
        elif data.draw(st.booleans()):
            r["traceId"], r["spanId"] = r["traceId"].upper(), r["spanId"].upper()
    cut = data.draw(st.integers(0, len(records)))
    body = logs_doc(records[:cut]) + b"\n" + logs_doc(records[cut:])
    [trace] = read_many([(body, "logs.jsonl"), (b.otlp(), "trace.json")])
    assert _kinds(trace)["repeated_tool_call"].numbers["calls"] == 3
    assert not trace.quality
