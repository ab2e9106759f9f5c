"""Findings of many traces, one line per kind: what the overview shows beside
the gateway's alerts (a gateway alerts on rates; a cycle or a swallowed error
only shows in traces). Pure: analyses in, groups out."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from oncall_tui.core.analysis import Analysis
from oncall_tui.core.models import SEVERITY_ORDER, Severity


class FindingGroup(msgspec.Struct, frozen=True):
    kind: str
    severity: Severity  # the worst seen
    traces: int  # how many traces have it
    routes: tuple[str, ...]  # the routes of those traces (when known), busiest first
    example: str  # one trace id to open
    summary: str  # the worst instance's one line


def digest(analyses: Iterable[Analysis], *, at_least: Severity = "medium") -> list[FindingGroup]:
    """Group findings by kind, keeping those at or above ``at_least``, worst first."""
    floor = SEVERITY_ORDER[at_least]
    worst: dict[str, tuple[int, str, str]] = {}  # kind -> (rank, trace id, summary)
    traces: dict[str, int] = {}
    routes: dict[str, dict[str, int]] = {}
    for analysis in analyses:
        seen: set[str] = set()
        route = analysis.summary.route
        for f in analysis.findings:
            rank = SEVERITY_ORDER[f.severity]
            if rank < floor:
                continue
            if f.kind not in worst or rank > worst[f.kind][0]:
                worst[f.kind] = (rank, analysis.summary.trace_id, f.summary)
            if f.kind in seen:
                continue
            seen.add(f.kind)
            traces[f.kind] = traces.get(f.kind, 0) + 1
            if route:
                by_route = routes.setdefault(f.kind, {})
                by_route[route] = by_route.get(route, 0) + 1
    by_rank: dict[int, Severity] = {v: k for k, v in SEVERITY_ORDER.items()}  # type: ignore[misc]
    groups = [
        FindingGroup(
            kind=kind,
            severity=by_rank[rank],
            traces=traces[kind],
            routes=tuple(sorted(routes.get(kind, {}), key=lambda r: -routes[kind][r])),
            example=trace_id,
            summary=summary,
        )
        for kind, (rank, trace_id, summary) in worst.items()
    ]
    groups.sort(key=lambda g: (-SEVERITY_ORDER[g.severity], -g.traces, g.kind))
    return groups
