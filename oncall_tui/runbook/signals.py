"""Alert kinds a gateway status implies, for ``runbook suggest --live``.

Gateways with ``GatewayAlerts`` say so themselves; for one that only answers
``/v1/status`` these thresholds name the same kinds (the simulator's) from the figures,
so the console can still point at a runbook. Pure: status in, kinds out.
"""

from __future__ import annotations

from oncall_tui.core.gateway import Route, RouteStatus

REFUSAL_FACTOR = 2.0
REFUSAL_MARGIN = 0.02
STALE_SHARE = 0.5  # retrievals older than the route's freshness promise
RETRY_LIMIT = 1.5  # upstream attempts per request
RATE_429_LIMIT = 0.05


def implied_alerts(status: RouteStatus, route: Route | None) -> list[str]:
    kinds: list[str] = []
    if route is not None and status.tier_mix:
        share = next((t.share for t in status.tier_mix if t.tier == route.primary.key), 0.0)
        if share < (status.tier_slo if status.tier_slo is not None else 0.9):
            kinds.append("tier_mix_below_slo")
    for p in status.providers:
        if p.error_rate is not None and p.error_rate >= 0.2:
            kinds.append("provider_errors")
        if p.refusal_rate is not None and p.refusal_baseline is not None:
            limit = max(REFUSAL_FACTOR * p.refusal_baseline, p.refusal_baseline + REFUSAL_MARGIN)
            if p.refusal_rate > limit:
                kinds.append("refusal_drift")
    if status.rate_429 is not None and status.rate_429 >= RATE_429_LIMIT:
        kinds.append("rate_limited")
    for q in status.quotas:
        if q.remaining is not None and q.limit and q.remaining / q.limit < 0.1:
            kinds.append("quota_low")
    if status.retry_amplification is not None and status.retry_amplification > RETRY_LIMIT:
        kinds.append("retry_amplification")
    ttft, ttfv = status.ttft.p95_ms, status.ttfv.p95_ms
    if ttft is not None and ttfv is not None and ttfv - ttft > 2000:
        kinds.append("hidden_reasoning_latency")
    if status.cache_hit_rate is not None and status.cache_hit_rate < 0.5:
        kinds.append("cache_hit_low")
    if status.stale_data_rate is not None and status.stale_data_rate > STALE_SHARE:
        kinds.append("stale_data")
    return sorted(set(kinds))
