"""A generated fleet for ``trace onset`` tests: agent requests on two
routes, where one route's tool description is rewritten mid-window and a
share of its requests loop through that tool afterwards (reentrancy)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec

from oncall_tui.core.models import Span
from oncall_tui.core.otlp_write import traces_data
from tests.builders import MS, TraceBuilder

T0_MS = 1_764_000_000_000 - 1_764_000_000_000 % 300_000  # a 5-minute boundary
BUCKET_MS = 300_000
OLD_DESCRIPTION = "Look up an order."
NEW_DESCRIPTION = "Look up an order; when unsure, ask the model and call this again."


def _defs(description: str) -> str:
    return json.dumps(
        [
            {
                "type": "function",
                "name": "search_kb",
                "description": "Search the KB.",
                "parameters": {"type": "object"},
            },
            {
                "type": "function",
                "name": "lookup_order",
                "description": description,
                "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}},
            },
        ]
    )


def fleet_trace(n: int, at_ms: int, *, route: str, loops: bool, description: str) -> list[Span]:
    """One agent request of ``route`` at ``at_ms``; ``loops``: lookup_order
    asks the model, which calls lookup_order again (a reentrancy cycle)."""
    b = TraceBuilder(trace_id=f"{n:032x}")
    agent = b.agent("assistant", start=at_ms, end=at_ms + 900, attrs={"gen_ai.route": route})
    m1 = b.model(
        agent,
        at_ms + 1,
        at_ms + 100,
        model="gpt-4o",
        attrs={"gen_ai.tool.definitions": _defs(description)},
    )
    del m1
    t1 = b.tool("lookup_order", agent, at_ms + 110, at_ms + 800)
    if loops:
        m2 = b.model(t1, at_ms + 120, at_ms + 700, model="gpt-4o")
        b.tool("lookup_order", m2, at_ms + 130, at_ms + 600, args='{"id": 43}')
    return b.spans


def fleet(
    *,
    buckets: int = 24,
    per_bucket: int = 40,
    change_bucket: int | None = 14,
    change_offset_ms: int = 120_000,
    rate_after: float = 0.25,
    seed: int = 3,
    t0_ms: int = T0_MS,
    rewrite: bool = True,
) -> tuple[list[list[Span]], int]:
    """The spans of every request (both routes, ``per_bucket`` each per
    5-min bucket from ``t0_ms``), and the change time (ns). ``rewrite``
    False: the loops start with no description change in the traces."""
    rng = random.Random(seed)
    change_ms = t0_ms + (change_bucket or 0) * BUCKET_MS + change_offset_ms
    out = []
    n = 0
    for b in range(buckets):
        for i in range(per_bucket):
            at = t0_ms + b * BUCKET_MS + int(i * BUCKET_MS / per_bucket)
            after = change_bucket is not None and at >= change_ms
            for route in ("agent-assist", "billing"):
                n += 1
                changed = after and route == "agent-assist"
                loops = changed and rng.random() < rate_after
                text = NEW_DESCRIPTION if changed and rewrite else OLD_DESCRIPTION
                out.append(fleet_trace(n, at, route=route, loops=loops, description=text))
    return out, change_ms * MS


def write_fleet(path: Path, **kw: Any) -> int:
    """The fleet as OTLP/JSON lines, one trace a line; returns the change time (ns)."""
    requests, change_ns = fleet(**kw)
    path.write_text(
        "".join(msgspec.json.encode(traces_data(spans)).decode() + "\n" for spans in requests)
    )
    return change_ns
