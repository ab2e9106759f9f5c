"""Every recorded trace-store body under ../shared/fixtures is readable as a
file, or is refused in one line that says what it is instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_tui.errors import TraceFormatError
from oncall_tui.sources.detect import read_traces
from tests.conftest import SHARED_FIXTURES

STORES = ("otlp", "jaeger", "tempo", "phoenix", "langfuse")

#: Bodies that hold no trace, and what the refusal must call them.
NOT_TRACES = {
    "jaeger/apiv3-FindTraceSummaries.json": "trace summary list",
    "jaeger/apiv3-GetOperations.json": "operation list",
    "jaeger/apiv3-GetServices.json": "service or operation list",
    "tempo/docs-api-search-response.json": "Tempo search result",
    "phoenix/projects.json": "Phoenix project list",
    "phoenix/error-project-not-found.txt": "not JSON",
    "phoenix/responses-meta.json": "not a trace format",  # recording metadata
    "langfuse/openapi-v2-observations-excerpt.json": "OpenAPI description",
}


def _bodies() -> list[str]:
    if not SHARED_FIXTURES.is_dir():
        return []
    return sorted(
        str(p.relative_to(SHARED_FIXTURES))
        for store in STORES
        for p in (SHARED_FIXTURES / store).iterdir()
        if p.is_file()
    )


@pytest.mark.parametrize("rel", _bodies())
def test_each_store_body_reads_or_says_why_not(rel: str, shared_fixtures: Path) -> None:
    path = shared_fixtures / rel
    if rel in NOT_TRACES:
        with pytest.raises(TraceFormatError) as err:
            read_traces(path.read_bytes(), source=str(path))
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(path))
        assert NOT_TRACES[rel] in message
        return
    traces = read_traces(path.read_bytes(), source=str(path))
    assert traces and all(t.spans for t in traces)


def test_the_phoenix_trace_list_reads_as_its_trace(shared_fixtures: Path) -> None:
    path = shared_fixtures / "phoenix" / "traces-include-spans.json"
    [trace] = read_traces(path.read_bytes(), source=str(path))
    [same] = read_traces((shared_fixtures / "phoenix" / "spans.json").read_bytes())
    assert trace.trace_id == same.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert {(s.span_id, s.parent_id, s.name) for s in trace.spans} == {
        (s.span_id, s.parent_id, s.name) for s in same.spans
    }
    assert trace.completeness == "complete"
    assert any("span summaries only" in q.detail for q in trace.quality)


def test_every_store_folder_has_bodies() -> None:
    """The parametrised test must not pass by finding nothing."""
    if SHARED_FIXTURES.is_dir():
        assert len(_bodies()) >= 20
