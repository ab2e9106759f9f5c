"""Tempo's onset window: counts from TraceQL metrics (query_range, answers
written from Tempo's response definition: tests/fixtures/tempo/README.md),
reentrancy candidates from a structural query (the documented search answer,
tests/fixtures/tempo/docs-api-search-response.json) fetched and confirmed here
against recorded corpus traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncall_tui.core.onset_model import OnsetQuery
from oncall_tui.errors import TraceFormatError
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import FleetCounts
from oncall_tui.sources.tempo import Q_ERRORS, Q_MODELS, Q_NESTED_TOOLS, Q_TRACES
from tests.support.clickhouse_rows import shifted

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures" / "tempo"
CORPUS = ROOT / "corpus"
T0_NS = 1_764_576_000_000 * 1_000_000
STEP_NS = 300 * 1_000_000_000
REENTRANT = "otel-genai/nested-reentrancy"  # a tool re-entered below itself
NOT_REENTRANT = "openinference-agents/agents-as-tools"  # tools below tools, all different


def corpus_trace(case: str) -> tuple[str, dict[str, Any]]:
    """A recorded corpus trace moved into the window's second step."""
    doc = json.loads((CORPUS / case / "trace.json").read_text())
    spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    tid = spans[0]["traceId"]
    first = min(int(s["startTimeUnixNano"]) for s in spans)
    return tid, shifted(doc, trace_id=tid, delta_ns=T0_NS + STEP_NS + 1 - first)


def query(**kw: Any) -> OnsetQuery:
    return OnsetQuery(since_ns=T0_NS, until_ns=T0_NS + 4 * STEP_NS, bucket_ns=STEP_NS, **kw)


class FakeTempo:
    def __init__(self, candidates: list[str], *, more: int = 0) -> None:
        self.traces = dict(corpus_trace(c) for c in candidates)
        self.more = more
        self.seen: list[httpx.Request] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.seen.append(req)
        if req.url.path == "/api/metrics/query_range":
            q = req.url.params["q"]
            name = {Q_TRACES: "traces", Q_ERRORS: "errors", Q_MODELS: "models"}[q]
            return httpx.Response(200, content=(FIX / f"query_range-{name}.json").read_bytes())
        if req.url.path == "/api/search":
            assert req.url.params["q"] == Q_NESTED_TOOLS
            # The documented search answer, its one hit repeated per candidate.
            doc = json.loads((FIX / "docs-api-search-response.json").read_text())
            [template] = doc["traces"]
            ids = [*self.traces, *(f"{i:032x}" for i in range(self.more))]
            doc["traces"] = [
                {**template, "traceID": tid, "startTimeUnixNano": str(T0_NS + STEP_NS + n)}
                for n, tid in enumerate(ids)
            ]
            return httpx.Response(200, json=doc)
        tid = req.url.path.rsplit("/", 1)[-1]
        if req.url.path.startswith("/api/v2/traces/") and tid in self.traces:
            return httpx.Response(200, json={"trace": self.traces[tid]})
        return httpx.Response(404, text="trace not found")


def tempo(fake: FakeTempo, **options: Any) -> Any:
    ctx = PluginContext(environ={}, transport=httpx.MockTransport(fake), timeout_s=2)
    return build("tempo", {"url": "http://127.0.0.1:3200", **options}, ctx)


async def test_counts_come_from_traceql_metrics_per_route_and_step() -> None:
    fake = FakeTempo([])
    st = tempo(fake)
    assert isinstance(st, FleetCounts)
    w = await st.onset_window(query(finding="error"))
    assert w.method == "pushdown"
    metrics = [r for r in fake.seen if r.url.path == "/api/metrics/query_range"]
    assert {r.url.params["step"] for r in metrics} == {"300s"}
    assert {r.url.params["start"] for r in metrics} == {str(T0_NS // 1_000_000_000)}
    agent = [b for b in w.buckets if b.route == "agent-assist"]
    assert [b.traces for b in agent] == [40, 38, 41, 39]
    assert [b.with_kind.get("error", 0) for b in agent] == [1, 0, 5, 7]
    assert [b.start_ns for b in agent] == [T0_NS + i * STEP_NS for i in range(4)]
    # No route attribute: the service name is the route; an empty step is no bucket.
    assert [b.traces for b in w.buckets if b.route == "search-svc"] == [20, 22, 21]
    assert w.method_note == "counted by Tempo's TraceQL metrics over 223 traces"


async def test_a_snapshot_change_behind_an_alias_is_a_change_event() -> None:
    w = await tempo(FakeTempo([])).onset_window(query(finding="error"))
    [c] = w.changes
    assert (c.kind, c.route, c.subject) == ("model_version", "search-svc", "gpt-4o")
    assert (c.before, c.after) == ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
    assert c.at_ns == T0_NS + 3 * STEP_NS and c.source == "tempo"


async def test_nested_tool_candidates_are_confirmed_here_and_only_reentrant_ones_count() -> None:
    fake = FakeTempo([REENTRANT, NOT_REENTRANT])
    w = await tempo(fake).onset_window(query(finding="reentrancy"))
    reentrant_id, _ = corpus_trace(REENTRANT)
    assert w.candidates == {"reentrancy_cycle": [reentrant_id]}
    counted = {(b.route, b.start_ns): b.with_kind for b in w.buckets if b.with_kind}
    # Counted in the step and on the route (its service: no route attribute) it ran in.
    assert counted == {("corpus-agent", T0_NS + STEP_NS): {"reentrancy_cycle": 1}}
    fetched = [r.url.path for r in fake.seen if r.url.path.startswith("/api/v2/traces/")]
    assert len(fetched) == 2
    assert "reentrancy from 1 structural-query candidates confirmed here" in w.method_note


async def test_past_the_candidate_cap_the_note_says_the_count_is_a_lower_bound() -> None:
    fake = FakeTempo([REENTRANT], more=5)
    w = await tempo(fake, max_candidates=3).onset_window(query(finding="reentrancy"))
    assert "only the newest 3 fetched: reentrancy counts are a lower bound" in w.method_note
    assert "unreadable" in w.method_note  # two made-up ids Tempo cannot serve


async def test_a_route_filter_keeps_one_route() -> None:
    w = await tempo(FakeTempo([])).onset_window(query(route="agent-assist", finding="error"))
    assert {b.route for b in w.buckets} == {"agent-assist"}
    assert w.changes == []


async def test_a_malformed_metrics_answer_is_one_line_naming_the_query() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"series": [{"samples": "x"}]}')

    ctx = PluginContext(environ={}, transport=httpx.MockTransport(handler), timeout_s=2)
    st = build("tempo", {"url": "http://127.0.0.1:3200"}, ctx)
    with pytest.raises(TraceFormatError, match=r"tempo: /api/metrics/query_range \(traces\)"):
        await st.onset_window(query())
