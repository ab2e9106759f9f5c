"""Traces assembled as real exporters write them: a trace over many JSON lines
or batches is one trace, and a fragment of a trace is never called complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from oncall_tui.cli.main import main
from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import DERIVED_KINDS, merge_fragments
from oncall_tui.core.models import Span
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.core.quality import check
from oncall_tui.sources.detect import read_traces
from tests.builders import TraceBuilder


def _loop() -> TraceBuilder:
    """Agent, model, tool, model, tool: five spans under one root."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.model(agent, 0, 100)
    b.tool("search", agent, 110, 200)
    b.model(agent, 210, 300)
    b.tool("search", agent, 310, 400, args='{"q": 2}')
    return b


def _line(spans: list[Span]) -> bytes:
    return msgspec.json.encode(traces_data(spans)) + b"\n"


def _by_end(spans: list[Span]) -> list[Span]:
    # BatchSpanProcessor exports spans as they end: children before parents.
    return sorted(spans, key=lambda s: s.end_ns)


def test_a_trace_written_one_span_per_line_is_one_whole_trace() -> None:
    b = _loop()
    data = b"".join(_line([s]) for s in _by_end(b.spans))
    [trace] = read_traces(data, source="spans.jsonl")
    assert trace.trace_id == b.trace_id
    assert sorted(s.span_id for s in trace.spans) == sorted(s.span_id for s in b.spans)
    assert trace.completeness == "complete", trace.completeness_reason
    assert not [q for q in trace.quality if q.kind == "orphan"]


def test_batches_over_lines_and_traces_interleaved() -> None:
    a, other = _loop(), TraceBuilder(trace_id="cd" * 16)
    root = other.agent("other", end=50)
    other.model(root, 1, 20)
    lines = (
        _line(a.spans[3:] + other.spans[1:])
        + b"\n"  # a blank line between batches changes nothing
        + _line(a.spans[:3])
        + _line(other.spans[:1])
    )
    traces = read_traces(lines, source="batches.jsonl")
    assert [t.trace_id for t in traces] == [a.trace_id, other.trace_id]
    assert [len(t.spans) for t in traces] == [5, 2]
    assert all(t.completeness == "complete" for t in traces)


def test_one_document_with_several_resource_and_scope_batches() -> None:
    b = _loop()
    doc: dict[str, Any] = {"resourceSpans": []}
    for part in (b.spans[:2], b.spans[2:4], b.spans[4:]):
        rs = traces_data(part)["resourceSpans"][0]
        rs["scopeSpans"] = [
            {"scope": {"name": "one"}, "spans": rs["scopeSpans"][0]["spans"][:1]},
            {"scope": {"name": "two"}, "spans": rs["scopeSpans"][0]["spans"][1:]},
        ]
        doc["resourceSpans"].append(rs)
    [trace] = read_traces(json.dumps(doc).encode())
    assert len(trace.spans) == 5 and trace.completeness == "complete"


def test_mixed_formats_in_one_json_lines_file_are_one_trace() -> None:
    b = _loop()
    otlp_line = traces_data(b.spans[:2])
    tempo_line = {"trace": traces_data(b.spans[2:4]), "status": "COMPLETE"}
    jaeger_line = {"result": traces_data(b.spans[4:])}
    data = b"\n".join(json.dumps(d).encode() for d in (otlp_line, tempo_line, jaeger_line))
    [trace] = read_traces(data, source="mixed.jsonl")
    assert len(trace.spans) == 5 and trace.completeness == "complete"
    assert trace.source == "otlp-json+tempo+jaeger-api-v3"


def test_quality_notes_keep_their_file_and_line_after_joining() -> None:
    b = _loop()
    bad = traces_data(b.spans[4:])
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = {"no": 1}
    data = _line(b.spans[:2]) + b"\n\n" + _line(b.spans[2:4]) + json.dumps(bad).encode()
    [trace] = read_traces(data, source="x.jsonl")
    assert len(trace.spans) == 5, "the malformed span is salvaged, the trace kept"
    [note] = [q for q in trace.quality if q.kind == "malformed_span"]
    # Line 5: the two blank lines count, as an editor shows them.
    assert note.where == "x.jsonl:5: resourceSpans[0].scopeSpans[0].spans[0]"


def test_a_bad_line_is_named_by_its_line_number() -> None:
    b = _loop()
    data = _line(b.spans[:2]) + b"\n" + b"{oops\n"
    with pytest.raises(Exception, match=r"x\.jsonl:3: not JSON"):
        read_traces(data, source="x.jsonl")


def test_a_fragment_is_partial_and_says_how_many_parents_are_missing() -> None:
    b = _loop()
    agent = b.spans[0]
    data = b"".join(_line([s]) for s in b.spans[1:3])  # two children, no root
    [trace] = read_traces(data, source="part.jsonl")
    assert trace.completeness == "partial"
    first = b.spans[1]
    assert trace.completeness_reason == (
        f"2 spans' parents are not in the input "
        f"(first: span {first.span_id} under parent {agent.span_id})"
    )
    # The orphan notes are the same facts, span by span.
    assert {q.span_id for q in trace.quality if q.kind == "orphan"} == {
        s.span_id for s in b.spans[1:3]
    }


def test_one_missing_parent_reads_in_the_singular() -> None:
    b = _loop()
    [trace] = read_traces(_line(b.spans[1:2]))
    assert trace.completeness_reason is not None
    assert trace.completeness_reason.startswith("1 span's parent is not in the input")


def test_a_trace_with_no_root_is_partial() -> None:
    b = TraceBuilder()
    b.span("a", span_id="1" * 16, parent_id="2" * 16)
    b.span("b", span_id="2" * 16, parent_id="1" * 16)
    [trace] = read_traces(b.otlp())
    assert trace.completeness == "partial"
    assert trace.completeness_reason is not None and "no root span" in trace.completeness_reason


def _flagged(flags: int) -> bytes:
    b = TraceBuilder()
    root = b.span("GET /chat", parent_id="9" * 16, end=100)
    b.span("work", root, 10, 20)
    doc = traces_data(b.spans)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["flags"] = flags
    return json.dumps(doc).encode()


def test_a_root_whose_parent_is_marked_remote_is_a_root_not_an_orphan() -> None:
    # 0x300: "is-remote is known" and "the parent is remote" (OTLP SpanFlags).
    [trace] = read_traces(_flagged(0x301))
    assert trace.completeness == "complete", trace.completeness_reason
    kinds = [q.kind for q in trace.quality]
    assert "orphan" not in kinds and kinds.count("remote_parent") == 1


def test_a_missing_local_parent_is_still_missing() -> None:
    [trace] = read_traces(_flagged(0x101))  # known, and not remote
    assert trace.completeness == "partial"


def test_a_store_verdict_survives_joining_and_a_healed_fragment_is_complete() -> None:
    b = _loop()
    tempo = {"trace": traces_data(b.spans[:2]), "status": "PARTIAL", "message": "size limit"}
    partial_line = json.dumps(tempo).encode() + b"\n"
    [cut] = read_traces(partial_line + _line(b.spans[2:]))
    assert cut.completeness == "partial" and cut.completeness_reason == "size limit"
    # Each line alone is a fragment; together they are whole.
    healed = read_traces(_line(b.spans[2:]) + _line(b.spans[:2]))
    assert [(t.completeness, t.completeness_reason) for t in healed] == [("complete", None)]


def test_joining_checks_quality_again_over_the_whole() -> None:
    b = _loop()
    dup = msgspec.structs.replace(b.spans[2], name="again")
    traces = read_traces(_line(b.spans[:3]) + _line([*b.spans[3:], dup]))
    [trace] = traces
    assert [q.kind for q in trace.quality] == ["duplicate_id"]
    assert merge_fragments(traces) is traces  # one piece each: nothing to do


def test_derived_kinds_cover_every_kind_the_quality_check_makes() -> None:
    b = TraceBuilder()
    root = b.span("root", end=100)
    b.span("orphan", parent_id="f" * 16)
    b.span("dup", root, span_id=b.spans[0].span_id)
    b.span("neg", root, 50, 10, attrs={"long": "x" * 4096})
    b.span("l1", span_id="1" * 16, parent_id="2" * 16)
    b.span("l2", span_id="2" * 16, parent_id="1" * 16)
    kinds = {q.kind for q in check(b.trace())}
    assert kinds == DERIVED_KINDS


# ------------------------------------------------------------------ the CLI


def _analyze(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["trace", "analyze", *args])
    return code, capsys.readouterr().out


def test_analyze_shows_a_fragment_as_partial(tmp_path: Path, capsys: Any) -> None:
    b = _loop()
    path = tmp_path / "part.jsonl"
    path.write_bytes(b"".join(_line([s]) for s in b.spans[1:]))
    code, out = _analyze(capsys, str(path))
    assert code == 0
    assert "PARTIAL: 4 spans' parents are not in the input" in out
    code, out = _analyze(capsys, str(path), "--json")
    [a] = json.loads(out)["traces"]
    assert a["completeness"] == "partial"
    assert a["completeness_reason"].startswith("4 spans' parents are not in the input")


def test_trace_id_picks_the_whole_trace_from_lines(tmp_path: Path, capsys: Any) -> None:
    a, other = _loop(), TraceBuilder(trace_id="cd" * 16)
    other.agent("other", end=50)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        _line(a.spans[:1]) + _line(other.spans) + _line(a.spans[1:3]) + _line(a.spans[3:])
    )
    code, out = _analyze(capsys, str(path), "--json", "--trace-id", a.trace_id.upper())
    assert code == 0
    [only] = json.loads(out)["traces"]
    assert only["summary"]["trace_id"] == a.trace_id
    assert only["summary"]["span_count"] == 5 and only["completeness"] == "complete"


def test_analyze_json_keys_are_only_added_to(tmp_path: Path, capsys: Any) -> None:
    """docs/cli.md promises additions only: the documented keys stay."""
    path = tmp_path / "t.json"
    path.write_bytes(_loop().otlp())
    _, out = _analyze(capsys, str(path), "--json")
    doc = json.loads(out)
    assert {"traces", "fail_on", "failed", "linked_trace_ids"} <= set(doc)
    assert doc["linked_trace_ids"] == {}
    documented = {"summary", "completeness", "completeness_reason", "graph", "cycles"}
    assert documented | {"findings", "quality", "skew", "adjusted"} <= set(doc["traces"][0])


# ---------------------------------------------------------- trace listen


def test_listen_joins_a_trace_sent_in_three_requests_and_saves_it_whole(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    import httpx

    b = _loop()
    saved = tmp_path / "got.jsonl"
    args = ["trace", "listen", "--port", "0", "--count", "1", "--seconds", "60"]
    args += ["--quiet-s", "0.5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", *args, "--save", str(saved)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split()[2]
        with httpx.Client(timeout=10) as client:
            # Children first, the root last: as BatchSpanProcessor flushes.
            for part in (b.spans[3:], b.spans[1:3], b.spans[:1]):
                body = msgspec.json.encode(traces_data(part))
                resp = client.post(url, content=body, headers={"content-type": "application/json"})
                assert resp.status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    # Printed once, whole: it settles only after the three requests.
    [line] = [ln for ln in out.splitlines() if ln.startswith("trace ")]
    assert "5 spans" in line and "(3 requests)" in line
    assert "PARTIAL" not in line and "UPDATED" not in line
    [trace] = read_traces(saved.read_bytes(), source=str(saved))
    assert len(trace.spans) == 5 and trace.completeness == "complete"
    live, again = analyze(b.trace()), analyze(trace)
    assert [f.kind for f in again.findings] == [f.kind for f in live.findings]
    assert again.cycles == live.cycles


def test_a_batch_saved_twice_is_read_once_and_noted() -> None:
    """`trace listen --save` writes every request, a retried one too: reading
    the file back keeps each span once, as the live view did, and says so."""
    b = _loop()
    ordered = _by_end(b.spans)
    data = _line(ordered[:3]) + _line(ordered[:3]) + _line(ordered[3:])
    [trace] = read_traces(data, source="saved.jsonl")
    assert len(trace.spans) == len(b.spans)
    kinds = [q.kind for q in trace.quality]
    assert "resent" in kinds and "duplicate_id" not in kinds
    findings = analyze(trace).findings
    assert [f.kind for f in findings] == [f.kind for f in analyze(read_traces(
        _line(ordered), source="once.jsonl")[0]).findings]  # fmt: skip
