"""A runbook check can ask when a finding started (query ``source: onset``)."""

from __future__ import annotations

import time

from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.summary import summarize
from oncall_tui.runbook.format import Query
from oncall_tui.runbook.queries import Sources, run_query
from oncall_tui.sources.capabilities import TraceQuery
from tests.onset_fleet import BUCKET_MS, fleet_trace

MS = 1_000_000


class Store:
    def __init__(self, traces: list[Trace]) -> None:
        self.by_id = {t.trace_id: t for t in traces}

    async def search(self, q: TraceQuery) -> list[TraceSummary]:
        rows = [summarize(t) for t in self.by_id.values()]
        rows = [r for r in rows if q.start_ns <= (r.start_ns or 0) < q.end_ns]  # type: ignore[operator]
        return [r for r in rows if q.route in (None, r.route)][: q.limit]

    async def get_trace(self, trace_id: str) -> Trace:
        return self.by_id[trace_id]


def _recent_fleet(change_bucket: int | None) -> list[Trace]:
    """The last hour, ending now: 12 buckets of 10 requests a route."""
    now_ms = time.time_ns() // MS
    end = now_ms - now_ms % BUCKET_MS + BUCKET_MS
    traces = []
    n = 0
    for b in range(12):
        for i in range(10):
            n += 1
            at = end - (12 - b) * BUCKET_MS + i * BUCKET_MS // 10
            changed = change_bucket is not None and b >= change_bucket
            spans = fleet_trace(n, at, route="agent-assist", loops=changed and i % 3 == 0,
                                description="new" if changed else "old")  # fmt: skip
            traces.append(assemble(spans, source="test")[0])
    return traces


async def test_the_onset_query_names_the_change_before_the_loops() -> None:
    sources = Sources(trace_stores={"s": Store(_recent_fleet(change_bucket=7))})
    q = Query(source="onset", route="agent-assist", window_s=3600, limit=10)
    values = await run_query(sources, q, "agent-assist")
    assert values["onsets"] == 1 and values["caused"] == 1
    assert values["onset_kinds"] == ["reentrancy_cycle"]
    assert "tool lookup_order's description changed" in values["first_line"]
    assert values["method_note"].startswith("sampled up to 10 traces per route per 5m bucket")


async def test_no_rise_no_onset() -> None:
    sources = Sources(trace_stores={"s": Store(_recent_fleet(change_bucket=None))})
    q = Query(source="onset", route="agent-assist", window_s=3600, limit=10)
    values = await run_query(sources, q, "agent-assist")
    assert (values["onsets"], values["first_line"]) == (0, "")
