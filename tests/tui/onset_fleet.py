"""A trace store whose agent-assist traces show a rise after a tool
description change: 8 traces per 5 min bucket from 07:05 to 07:55 UTC on
2026-11-24 (the console's fixed clock is 08:00). From 07:37:30 the agent
is offered a rewritten lookup_order description; from 07:40 half its traces
loop through the tool (a reentrancy cycle)."""

from __future__ import annotations

import json
from datetime import timedelta

from oncall_tui.core.models import Trace
from oncall_tui.sources.capabilities import TraceQuery
from tests.builders import TraceBuilder
from tests.tui.fakes import CLOCK

ROUTE = "support-chat"  # a route of the fixed gateway: its row opens the timeline
CHANGE_AT = CLOCK - timedelta(minutes=22, seconds=30)  # 07:37:30
ONSET_AT = CLOCK - timedelta(minutes=20)  # 07:40
BUCKETS = 11
PER_BUCKET = 8
OLD = "Look up an order by id."
NEW = "Look up an order by id. When unsure, ask the assistant and call this tool again."


def _definitions(tool: str, description: str) -> str:
    return json.dumps(
        [{"type": "function", "name": tool, "description": description,
          "parameters": {"type": "object"}}]
    )  # fmt: skip


def agent_trace(
    n: int, start_ms: int, *, description: str, loops: bool, route: str, tool: str
) -> Trace:
    b = TraceBuilder(trace_id=f"{n:032x}")
    attrs = {"gen_ai.route": route, "gen_ai.tool.definitions": _definitions(tool, description)}
    agent = b.agent("planner", start=start_ms, end=start_ms + 1000, attrs=attrs)
    m1 = b.model(agent, start_ms, start_ms + 900)
    t1 = b.tool(tool, m1, start_ms + 10, start_ms + 890)
    if loops:
        m2 = b.model(t1, start_ms + 20, start_ms + 880)
        b.tool(tool, m2, start_ms + 30, start_ms + 870)
    return b.trace()


def fleet(route: str = ROUTE, tool: str = "lookup_order", buckets: int = BUCKETS) -> list[Trace]:
    """``buckets`` of 5 min ending at 07:55; the change at 07:37:30 either way."""
    out: list[Trace] = []
    first_ms = int((CLOCK - timedelta(minutes=5 * buckets)).timestamp() * 1000)
    change_ms = int(CHANGE_AT.timestamp() * 1000)
    onset_ms = int(ONSET_AT.timestamp() * 1000)
    for b in range(buckets):
        for i in range(PER_BUCKET):
            at = first_ms + b * 300_000 + i * 30_000
            out.append(
                agent_trace(
                    len(out) + 1,
                    at,
                    description=NEW if at >= change_ms else OLD,
                    loops=at >= onset_ms and i % 2 == 0,
                    route=route,
                    tool=tool,
                )
            )
    return out


class OnsetStore:
    """RecentTraces over a fixed list: every read returns them all (the
    sampler keeps each bucket's own); ``fail`` makes every read raise."""

    def __init__(self, traces: list[Trace], *, fail: Exception | None = None) -> None:
        self.traces = traces
        self.fail = fail
        self.queries: list[TraceQuery] = []

    async def recent_traces(self, query: TraceQuery) -> list[Trace]:
        self.queries.append(query)
        if self.fail is not None:
            raise self.fail
        return self.traces
