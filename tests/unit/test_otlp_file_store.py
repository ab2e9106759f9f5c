"""The otlp-file store over a folder of exports as apps really leave them:
one trace's spans spread over several files, and sub-agents in worker threads
that started traces of their own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.otlp_file import Options, OtlpFileStore

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _split(case: str, folder: Path, parts: int) -> int:
    """Write a recorded case's export lines round-robin into ``parts`` files."""
    lines = (CORPUS / case / "spans.jsonl").read_text().splitlines()
    for n in range(parts):
        (folder / f"export-{n}.jsonl").write_text("\n".join(lines[n::parts]) + "\n")
    return len(lines)


def test_a_trace_spread_over_files_is_one_trace(tmp_path: Path) -> None:
    spans = _split("otel-genai/nested-reentrancy", tmp_path, 3)
    store = OtlpFileStore(Options(path=str(tmp_path)))
    rows = asyncio.run(store.search(TraceQuery(limit=10)))
    assert len(rows) == 1
    trace = asyncio.run(store.get_trace(rows[0].trace_id))
    assert len(trace.spans) == spans
    assert trace.completeness == "complete"


def test_threads_that_started_new_traces_come_back_stitched(tmp_path: Path) -> None:
    _split("otel-genai/thread-subagent", tmp_path, 2)
    store = OtlpFileStore(Options(path=str(tmp_path)))
    rows = asyncio.run(store.search(TraceQuery(limit=10)))
    assert len(rows) == 1
    outer = asyncio.run(store.get_trace(rows[0].trace_id))
    assert outer.linked_trace_ids
    # Asking for an inner trace's id gives the whole story, not a fragment.
    inner = asyncio.run(store.get_trace(outer.linked_trace_ids[-1]))
    assert inner.trace_id == outer.trace_id
    assert len(inner.spans) == len(outer.spans)


def test_genai_events_kept_as_log_records_beside_the_spans_are_read(tmp_path: Path) -> None:
    """Older GenAI instrumentations put tool arguments only in log records;
    a folder holding both files gives the trace its arguments."""
    case = CORPUS / "otel-genai-events" / "stuck-identical"
    (tmp_path / "trace.json").write_bytes((case / "trace.json").read_bytes())
    (tmp_path / "logs.json").write_bytes((case / "logs.json").read_bytes())
    store = OtlpFileStore(Options(path=str(tmp_path)))
    (row,) = asyncio.run(store.search(TraceQuery(limit=10)))
    trace = asyncio.run(store.get_trace(row.trace_id))
    tools = [s for s in trace.spans if s.gen_ai and s.gen_ai.operation == "execute_tool"]
    assert tools
    assert all(s.gen_ai and s.gen_ai.tool_call_arguments for s in tools)
