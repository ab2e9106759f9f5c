"""Per-route gateway status derived from traces, for gateways with no metrics
endpoint (LiteLLM's Prometheus export is enterprise-only).

Each trace is one request through the gateway. Its *attempts* are the spans
that name a route (model group): LiteLLM's ``litellm_request`` spans carry
``litellm.model_group``; others may carry ``gen_ai.route``. The first attempt
names the route the caller asked for; the last successful one says which
route and model really served it. A request served by another route than the
one asked for is a fallback; one with no successful attempt is an error.
Pure: the caller fetches the traces (sources/) and passes them in.
"""

from __future__ import annotations

import msgspec

from oncall_tui.core.gateway import StatusResponse
from oncall_tui.core.gateway import TierShare as GwTierShare
from oncall_tui.core.models import Trace
from oncall_tui.core.summary import route_of


class TierShare(msgspec.Struct, frozen=True):
    tier: str  # the route (model group) that served, then "/" and the model
    requests: int
    share: float


class RouteTraceStats(msgspec.Struct, frozen=True):
    route: str
    requests: int
    errors: int
    fallbacks: int
    error_rate: float
    fallback_rate: float
    served_by: tuple[TierShare, ...]
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def _pct(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


class _Acc:
    __slots__ = ("errors", "fallbacks", "ms", "requests", "tiers")

    def __init__(self) -> None:
        self.requests = self.errors = self.fallbacks = 0
        self.tiers: dict[str, int] = {}
        self.ms: list[float] = []


def route_stats(traces: list[Trace]) -> list[RouteTraceStats]:
    """One row per requested route, busiest first. Traces without attempts are skipped."""
    per: dict[str, _Acc] = {}
    for trace in traces:
        attempts = sorted(
            (s for s in trace.spans if route_of(s) is not None), key=lambda s: s.start_ns
        )
        if not attempts:
            continue
        asked = route_of(attempts[0]) or ""
        acc = per.setdefault(asked, _Acc())
        acc.requests += 1
        start = min(s.start_ns for s in trace.spans)
        acc.ms.append((max(s.end_ns for s in trace.spans) - start) / 1e6)
        ok = [s for s in attempts if s.status != "error"]
        if not ok:
            acc.errors += 1
            continue
        served = ok[-1]
        served_route = route_of(served) or asked
        g = served.gen_ai
        model = (g.response_model or g.request_model) if g else None
        tier = f"{served_route}/{model}" if model else served_route
        acc.tiers[tier] = acc.tiers.get(tier, 0) + 1
        if served_route != asked:
            acc.fallbacks += 1
    out = []
    for route, acc in per.items():
        n = acc.requests
        ms = sorted(acc.ms)
        out.append(
            RouteTraceStats(
                route=route,
                requests=n,
                errors=acc.errors,
                fallbacks=acc.fallbacks,
                error_rate=acc.errors / n,
                fallback_rate=acc.fallbacks / n,
                served_by=tuple(
                    TierShare(t, c, c / n)
                    for t, c in sorted(acc.tiers.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                latency_p50_ms=_pct(ms, 0.5),
                latency_p95_ms=_pct(ms, 0.95),
            )
        )
    out.sort(key=lambda r: (-r.requests, r.route))
    return out


def fill_status(
    status: StatusResponse, stats: list[RouteTraceStats], window_s: int
) -> tuple[StatusResponse, list[str]]:
    """Fill what a gateway's own status leaves empty with figures from its traces.

    The gateway's own numbers win: only an empty tier mix, a missing error or
    fallback rate and a zero request rate are filled (LiteLLM's status knows
    deployment health, not which tier served). Routes the gateway does not
    list are ignored. Returns the new status and the routes that were filled.
    """
    by_route = {s.route: s for s in stats}
    filled: list[str] = []
    rows = []
    for row in status.routes:
        got = by_route.get(row.route)
        if got is None or got.requests == 0:
            rows.append(row)
            continue
        changes: dict[str, object] = {}
        if not row.tier_mix:
            # The route's own tier first, even when it served nothing: readers
            # (tables, alerts, atrophy) take tier_mix[0] as the primary.
            own = [t for t in got.served_by if t.tier.split("/", 1)[0] == row.route]
            rest = [t for t in got.served_by if t not in own]
            mix = [GwTierShare(t.tier, t.share, t.requests) for t in own + rest]
            if not own:
                mix.insert(0, GwTierShare(row.route, 0.0, 0))
            if got.errors:
                mix.append(GwTierShare("none", got.errors / got.requests, got.errors))
            changes["tier_mix"] = tuple(mix)
        if row.error_rate is None:
            changes["error_rate"] = got.error_rate
        if row.fallback_rate is None:
            changes["fallback_rate"] = got.fallback_rate
        if not row.requests_per_s and window_s > 0:
            changes["requests_per_s"] = got.requests / window_s
        if changes:
            filled.append(row.route)
        rows.append(msgspec.structs.replace(row, **changes) if changes else row)
    return msgspec.structs.replace(status, routes=tuple(rows)), filled
