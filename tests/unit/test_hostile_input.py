"""Hostile and broken trace input (issue 14, items 1-3): numbers sent as text,
encodings, gzip bombs, every span dropped, and trace text that tries to forge
lines of the headless output."""

from __future__ import annotations

import codecs
import gzip
import json
import re
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from oncall_tui.cli import exit_codes
from oncall_tui.cli.main import main
from oncall_tui.core.text import inert
from oncall_tui.errors import TraceFormatError, UsageError
from oncall_tui.sources import detect
from oncall_tui.sources.detect import read_traces
from tests.builders import TraceBuilder

ROOT, CHILD = "cd" * 8, "ef" * 8


def _doc(
    value: dict[str, Any] | None = None,
    *,
    resource: dict[str, Any] | None = None,
    event_time: Any = "5",
    root_name: str = "root",
) -> dict[str, Any]:
    """A two-span trace whose root carries ``value`` as attribute ``k``."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "svc"}},
                        {"key": "r", "value": resource or {"stringValue": "fine"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "ab" * 16,
                                "spanId": ROOT,
                                "name": root_name,
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "9",
                                "attributes": [
                                    {"key": "k", "value": value or {"stringValue": "fine"}}
                                ],
                                "events": [{"name": "ev", "timeUnixNano": event_time}],
                            },
                            {
                                "traceId": "ab" * 16,
                                "spanId": CHILD,
                                "parentSpanId": ROOT,
                                "name": "child",
                                "startTimeUnixNano": "2",
                                "endTimeUnixNano": "3",
                            },
                        ]
                    }
                ],
            }
        ]
    }


def _read(doc: dict[str, Any]) -> Any:
    [trace] = read_traces(json.dumps(doc).encode(), source="t.json")
    return trace


# ------------------------------------------------- 1. numbers sent as text


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"intValue": "notanint"}, "attribute 'k': intValue 'notanint'"),
        ({"intValue": "1e400"}, "attribute 'k': intValue '1e400'"),
        ({"intValue": "9,00"}, "attribute 'k': intValue '9,00'"),
        ({"doubleValue": "abc"}, "attribute 'k': doubleValue 'abc'"),
        (
            {"arrayValue": {"values": [{"intValue": "1"}, {"doubleValue": "abc"}]}},
            "attribute 'k[1]': doubleValue 'abc'",
        ),
        (
            {"kvlistValue": {"values": [{"key": "in", "value": {"intValue": "1.5"}}]}},
            "attribute 'k.in': intValue '1.5'",
        ),
    ],
)
def test_a_number_that_is_not_one_is_a_note_naming_span_and_field(value, field) -> None:
    trace = _read(_doc(value))
    assert {s.span_id for s in trace.spans} == {ROOT, CHILD}
    [note] = [q for q in trace.quality if q.kind == "malformed_span"]
    assert note.span_id == ROOT
    assert f"span 'root' ({ROOT}): {field}" in note.detail
    assert note.where == "t.json: resourceSpans[0].scopeSpans[0].spans[0]"


def test_a_bad_number_in_a_resource_attribute_is_a_note_and_the_service_is_kept() -> None:
    trace = _read(_doc(resource={"intValue": "notanint"}))
    assert len(trace.spans) == 2 and trace.spans[0].service == "svc"
    [note] = [q for q in trace.quality if q.kind == "malformed_span"]
    assert "resource: attribute 'r': intValue 'notanint'" in note.detail
    assert note.where == "t.json: resourceSpans[0].resource"


@pytest.mark.parametrize("at", ["abc", "1.5"])
def test_an_event_time_that_is_not_an_integer_is_a_note_and_the_event_is_kept(at) -> None:
    trace = _read(_doc(event_time=at))
    root = next(s for s in trace.spans if s.span_id == ROOT)
    [event] = root.events
    assert event.name == "ev" and event.time_ns == root.start_ns
    [note] = [q for q in trace.quality if q.kind == "malformed_span"]
    assert f"event 'ev': timeUnixNano '{at}' is not an integer" in note.detail


def test_a_timestamp_and_flags_given_as_junk_text_keep_the_span() -> None:
    doc = _doc()
    root, child = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    root["endTimeUnixNano"] = "9,5"
    child["flags"] = "²"  # str.isdigit() says yes; int() says no
    trace = _read(doc)
    assert len(trace.spans) == 2
    [note] = [q for q in trace.quality if q.kind == "malformed_span"]
    assert "endTimeUnixNano '9,5'" in note.detail and note.span_id == ROOT


def test_numbers_as_text_in_analyze_exit_0_not_a_crash(tmp_path, capsys) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_doc({"intValue": "notanint"}, event_time="abc")))
    assert main(["trace", "analyze", str(path)]) == exit_codes.OK
    out = capsys.readouterr().out
    assert "2 spans" in out and "intValue 'notanint'" in out


def test_an_unexpected_error_exits_70_with_one_line_not_1(monkeypatch, tmp_path, capsys) -> None:
    from oncall_tui.cli import trace_cmd

    def boom(*_: Any) -> Any:
        raise ValueError("invalid literal for int() with base 10: 'x'\nsecond line")

    monkeypatch.setattr(trace_cmd, "load_traces", boom)
    code = main(["trace", "analyze", str(tmp_path / "t.json"), "--fail-on", "low"])
    assert code == exit_codes.INTERNAL == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("oncall-tui: error: internal error: ValueError: invalid literal")


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_receiver_answers_every_body_and_never_drops_the_connection(monkeypatch) -> None:
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

    got: list[Any] = []
    receiver = OtlpReceiver(lambda traces, body: got.extend(traces), port=0)
    receiver.start()
    try:
        ok = _post(receiver.url, json.dumps(_doc({"intValue": "notanint"})).encode())
        assert ok[0] == 200 and len(got[0].spans) == 2
        doc = _doc()
        for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span["spanId"] = "not an id"
        status, text = _post(receiver.url, json.dumps(doc).encode())
        assert status == 400
        message = json.loads(text)["message"]
        assert "no span could be read" in message and "neither 16-digit hex" in message
        # A reader bug is still an answer naming it.
        from oncall_tui.core import otlp

        monkeypatch.setattr(otlp, "decode", _raise_value_error)
        status, text = _post(receiver.url, json.dumps(_doc()).encode())
        assert status == 400 and "ValueError" in json.loads(text)["message"]
    finally:
        receiver.close()


def _raise_value_error(*_: Any, **__: Any) -> Any:
    raise ValueError("invalid literal for int()")


def test_the_receiver_refuses_a_gzip_bomb_with_400(monkeypatch) -> None:
    from oncall_tui.sources import otlp_receiver

    monkeypatch.setattr(otlp_receiver, "MAX_UNPACKED", 1 << 20)
    receiver = otlp_receiver.OtlpReceiver(lambda traces, body: None, port=0)
    receiver.start()
    try:
        bomb = gzip.compress(b" " * (8 << 20))
        status, text = _post(receiver.url, bomb, {"Content-Encoding": "gzip"})
    finally:
        receiver.close()
    assert status == 400 and "unpacks to more than 1 MiB" in json.loads(text)["message"]


async def test_the_simulator_keeps_spans_with_numbers_as_text_and_400s_unreadable() -> None:
    import httpx

    from oncall_tui.sim.server import running_sim

    async with (
        running_sim(seed=7, warmup_s=0) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=5.0) as http,
    ):
        ok = await http.post(
            "/v1/traces",
            content=json.dumps(_doc({"doubleValue": "abc"}, event_time="1.5")).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert ok.status_code == 200
        partial = ok.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "0" and "doubleValue 'abc'" in (partial["errorMessage"])
        stored = await http.get(f"/api/v3/traces/{'ab' * 16}")
        assert stored.status_code == 200
        doc = _doc()
        for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span["traceId"] = "zz"
        bad = await http.post(
            "/v1/traces",
            content=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 400
        assert "no span could be read" in bad.text and "\\n" not in bad.text


# ------------------------------------------------- 2. clearer trace errors


def test_when_every_span_is_dropped_the_error_shows_why(tmp_path, capsys) -> None:
    doc = _doc()
    for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["traceId"] = "not-hex"
    with pytest.raises(TraceFormatError) as err:
        _read(doc)
    message = str(err.value)
    assert message.startswith("t.json: no span could be read: ")
    assert "id 'not-hex' is neither 32-digit hex nor base64" in message
    assert "spans[0]" in message and "spans[1]" in message
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["trace", "analyze", str(path)]) == exit_codes.USAGE
    assert "not-hex" in capsys.readouterr().err


def test_a_json_line_whose_spans_all_fail_lends_its_notes_to_the_other_lines() -> None:
    bad = _doc()
    for span in bad["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["spanId"] = "??"
    data = (json.dumps(_doc()) + "\n" + json.dumps(bad) + "\n").encode()
    [trace] = read_traces(data, source="t.jsonl")
    assert len(trace.spans) == 2
    assert any(
        "'??'" in q.detail and (q.where or "").startswith("t.jsonl:2") for q in trace.quality
    )


def test_a_utf8_byte_order_mark_is_read() -> None:
    [trace] = read_traces(codecs.BOM_UTF8 + json.dumps(_doc()).encode(), source="bom.json")
    assert len(trace.spans) == 2


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-16", "UTF-16 (little-endian)"),  # with a byte-order mark
        ("utf-16-le", "UTF-16 (little-endian)"),
        ("utf-16-be", "UTF-16 (big-endian)"),
        ("utf-32", "UTF-32 (little-endian)"),
        ("utf-32-be", "UTF-32 (big-endian)"),
    ],
)
def test_utf16_and_utf32_files_are_named(encoding, name) -> None:
    data = json.dumps(_doc()).encode(encoding)
    expected = re.escape(f"x.json: file is {name}; convert it to UTF-8 (iconv -f {name[:6]}")
    with pytest.raises(TraceFormatError, match="^" + expected):
        read_traces(data, source="x.json")


@pytest.mark.parametrize("where", ["name", "attribute", "second line"])
def test_invalid_utf8_gives_the_byte_offset(where) -> None:
    indent = 1 if where == "second line" else None
    text = json.dumps(_doc(root_name="ÿ-root"), indent=indent, ensure_ascii=False)
    if where == "attribute":
        text = text.replace("ÿ-root", "root").replace('"fine"}}]', '"ÿ"}}]', 1)
        assert "ÿ" in text
    data = text.encode()
    at = data.index("\u00ff".encode())
    data = data[:at] + b"\xff" + data[at + 2 :]
    line = data.count(b"\n", 0, at) + 1
    with pytest.raises(TraceFormatError) as err:
        read_traces(data, source="u.json")
    assert str(err.value) == f"u.json: not UTF-8 text at byte {at} (line {line})"


def test_bad_utf8_offset_is_right_across_chunk_boundaries(monkeypatch) -> None:
    monkeypatch.setattr(detect, "_CHUNK", 4)
    data = "aé€€bb".encode() + b"\xe2\x82"  # a character cut at the very end
    assert detect.bad_utf8_at(data) == len(data) - 2
    assert detect.bad_utf8_at("aé€😀bb".encode()) is None
    assert detect.bad_utf8_at(b"abc\x80def") == 3


def test_absurd_timestamps_are_quality_notes() -> None:
    doc = _doc()
    root, child = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    root["endTimeUnixNano"] = str(10**25 * 10**6)  # 10^25 ms
    child["startTimeUnixNano"] = child["endTimeUnixNano"] = str(9 * 10**18)  # year 2255
    trace = _read(doc)
    notes = {q.span_id: q.detail for q in trace.quality if q.kind == "absurd_time"}
    assert "lasts" in notes[ROOT] and "days" in notes[ROOT]
    assert notes[CHILD] == f"span {CHILD} starts after the year 2200"
    # Times from 0 (tests, hand-written files) up to a year long are not absurd.
    b = TraceBuilder()
    b.span("year", start=0, end=365 * 86_400_000)
    assert not [q for q in b.trace().quality if q.kind == "absurd_time"]


def test_a_gzip_bomb_fails_fast_without_unpacking_it() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    tracemalloc.start()
    try:
        with pytest.raises(TraceFormatError, match=r"^b.gz: gzip unpacks to more than 4 MiB"):
            read_traces(bomb, source="b.gz", max_unpacked=4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # the limit plus a chunk or two, not 64 MiB


def test_the_unpacked_size_limit_comes_from_the_environment(monkeypatch) -> None:
    data = gzip.compress(json.dumps(_doc()).encode())
    monkeypatch.setenv(detect.MAX_UNPACKED_ENV, "100")
    with pytest.raises(TraceFormatError, match="ONCALL_TUI_MAX_UNPACKED_BYTES"):
        read_traces(data, source="small.gz")
    monkeypatch.setenv(detect.MAX_UNPACKED_ENV, "lots")
    with pytest.raises(UsageError, match="expected a positive number of bytes"):
        read_traces(data, source="small.gz")
    monkeypatch.delenv(detect.MAX_UNPACKED_ENV)
    assert len(read_traces(data, source="small.gz")[0].spans) == 2


def test_gzip_members_padding_and_breakage() -> None:
    a, b = TraceBuilder(trace_id="a" * 32), TraceBuilder(trace_id="b" * 32)
    a.span("one")
    b.span("two")
    two_members = gzip.compress(a.otlp() + b"\n") + gzip.compress(b.otlp() + b"\n")
    assert len(read_traces(two_members + b"\0" * 8, source="m.gz")) == 2
    with pytest.raises(TraceFormatError, match=r"broken gzip \(the data ends early\)"):
        read_traces(two_members[:-12], source="m.gz")
    with pytest.raises(TraceFormatError, match=r"broken gzip \(other data after"):
        read_traces(two_members + b"junk", source="m.gz")
    with pytest.raises(TraceFormatError, match="broken gzip"):
        read_traces(b"\x1f\x8b" + b"\0" * 20, source="m.gz")


# ------------------------------------------------- 3. no line forgery

FORGED = "support\n  no findings\ntrace " + "0" * 32 + "  1 spans  0 errors  0.0 ms"
ALL_CONTROLS = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))


def _forged_file(tmp_path) -> str:
    b = TraceBuilder()
    agent = b.agent(FORGED, end=100)
    model = b.model(agent, 0, 50)
    b.tool("look\nup\x9b2J\x85" + ALL_CONTROLS, model, 10, 20)
    path = tmp_path / "forged.json"
    path.write_bytes(b.otlp())
    return str(path)


def _no_raw_controls(text: str) -> None:
    bad = [c for c in text if c in ALL_CONTROLS and c != "\n"]
    assert not bad, [hex(ord(c)) for c in bad]


def test_trace_text_cannot_forge_lines_of_analyze_or_graph(tmp_path, capsys) -> None:
    path = _forged_file(tmp_path)
    assert main(["trace", "analyze", path, "--fail-on", "critical"]) == exit_codes.OK
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("trace ") for line in lines) == 1
    assert lines[1].startswith("  root: invoke_agent support\\n  no findings\\ntrace 000")
    _no_raw_controls("\n".join(lines))
    assert main(["trace", "graph", path]) == exit_codes.OK
    graph = capsys.readouterr().out
    assert graph.count("\ntrace ") == 0 and graph.startswith("trace ")
    assert "look\\nup\\x9b2J\\x85" in graph
    _no_raw_controls(graph)


def test_trace_get_output_cannot_be_forged(tmp_path, capsys) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "t.json").write_bytes(Path(_forged_file(tmp_path)).read_bytes())
    config = tmp_path / "c.yaml"
    config.write_text(
        "environments:\n  local:\n    trace_stores:\n      files:\n"
        f"        plugin: otlp-file\n        path: {store}\n"
    )
    assert main(["--config", str(config), "trace", "get", "ab" * 16]) == exit_codes.OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert sum(line.startswith("trace ") for line in lines) == 1
    _no_raw_controls(out)


def _strings(value: Any) -> list[str]:
    out, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend([*item, *item.values()])
        elif isinstance(item, list):
            stack.extend(item)
    return out


@pytest.mark.parametrize(
    "command", [["trace", "analyze", "--fail-on", "critical"], ["trace", "graph"]]
)
def test_json_output_escapes_c1_controls(tmp_path, capsysbinary, command) -> None:
    main([*command, _forged_file(tmp_path), "--json"])
    text = capsysbinary.readouterr().out.decode()
    _no_raw_controls(text.replace("\n", ""))  # JSON's own newlines are formatting
    assert "\\u009b" in text and "\\u0085" in text and "\\u007f" in text
    # Escaped, not lost: a JSON reader gets the name back as it was.
    assert any("look\nup\x9b2J\x85" in s for s in _strings(json.loads(text)))


def test_inert_escapes_every_c0_and_c1_control() -> None:
    shown = inert(ALL_CONTROLS + "\u2028\u2029\u202e", single_line=True)
    assert all(c.isprintable() for c in shown), shown
    assert "\\x9b" in shown and "\\x85" in shown and "\\n" in shown and "\\u2028" in shown


def test_config_show_keeps_its_lines(tmp_path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("environments:\n  local:\n    description: x\n")
    assert main(["--config", str(config), "config", "show"]) == exit_codes.OK
    out = capsys.readouterr().out
    assert "\\n" not in out and len(out.splitlines()) > 2


def test_half_an_emoji_from_a_javascript_exporter_keeps_the_trace() -> None:
    # JSON.stringify writes a lone surrogate as an escape; an SDK that cut a
    # value by UTF-16 length leaves one. msgspec refuses it; the trace stays.
    data = json.dumps(_doc({"stringValue": "cut \ud83d"}, root_name="ok \ud83d\ude00")).encode()
    trace = read_traces(data, source="js.json")[0]
    root = next(s for s in trace.spans if s.span_id == ROOT)
    assert root.attributes["k"] == "cut \ufffd" and root.name == "ok \U0001f600"
    assert any("1 half UTF-16 character" in q.detail for q in trace.quality)
