"""What a check step can read: gateway status, route config, analysed traces.

``run_query`` asks the configured adapters through their capability
Protocols (read-only ones only) and turns the answer into plain data for the
expression language: every Struct field present (``None`` kept, meaning
unknown), plus a few derived figures a responder thinks in ("share of the
primary tier", "seconds until the quota resets"). The derivations are pure
functions so they are tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from oncall_tui.core.analysis import analyze
from oncall_tui.core.data_age import data_age_s
from oncall_tui.core.gateway import Route, RoutesResponse, RouteStatus, StatusResponse
from oncall_tui.errors import NotFoundError, OncallError, UnsupportedError
from oncall_tui.runbook.format import Query
from oncall_tui.sources.capabilities import GatewayStatus, TraceQuery, TraceSearch, TraceStore

#: How many findings a traces check keeps as evidence (all are counted).
EVIDENCE_FINDINGS = 10
CACHE_HIT_ATTR = "tool.result.cache_hit"


@dataclass
class Sources:
    """The adapters one environment offers, by config name."""

    gateways: dict[str, object] = field(default_factory=dict)
    trace_stores: dict[str, object] = field(default_factory=dict)

    def gateway(self, name: str | None) -> GatewayStatus:
        for adapter_name, adapter in self.gateways.items():
            if name is not None and adapter_name != name:
                continue
            if isinstance(adapter, GatewayStatus):
                return adapter
        raise UnsupportedError(
            f"no gateway{f' named {name!r}' if name else ''} in this environment can report "
            f"status (have: {', '.join(self.gateways) or 'none configured'})"
        )

    def trace_store(self, name: str | None) -> tuple[TraceSearch, TraceStore]:
        for adapter_name, adapter in self.trace_stores.items():
            if name is not None and adapter_name != name:
                continue
            if isinstance(adapter, TraceSearch) and isinstance(adapter, TraceStore):
                return adapter, adapter
        raise UnsupportedError(
            f"no trace store{f' named {name!r}' if name else ''} in this environment can "
            f"search traces (have: {', '.join(self.trace_stores) or 'none configured'})"
        )


def plain(value: Any) -> Any:
    """Structs to dicts with EVERY field (``omit_defaults`` would hide unknowns)."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _previous_version(route: Route) -> str | None:
    versions = [h.version for h in route.history]
    if route.version in versions:
        i = versions.index(route.version)
        return versions[i - 1] if i > 0 else None
    return versions[-1] if versions else None


def route_values(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = plain(route)
    out["primary"] = route.primary.key
    out["fallbacks"] = [f.key for f in route.fallbacks]
    out["previous_version"] = _previous_version(route)
    return out


def status_values(
    status: RouteStatus, route: Route | None, gateway_time: datetime
) -> dict[str, Any]:
    """A route's status as expression data, with the derived figures."""
    out: dict[str, Any] = plain(status)
    shares = {t.tier: t.share for t in status.tier_mix}
    top = max(status.tier_mix, key=lambda t: t.share, default=None)
    out["top_tier"] = top.tier if top else None
    out["top_share"] = top.share if top else None
    if route is not None:
        out["primary"] = route.primary.key
        out["primary_share"] = shares.get(route.primary.key, 0.0) if status.tier_mix else None
        out["fallbacks"] = [f.key for f in route.fallbacks]
        out["version"] = route.version
        out["previous_version"] = _previous_version(route)
        out["history"] = [h.version for h in route.history]
    else:
        for name in ("primary", "primary_share", "version", "previous_version"):
            out[name] = None
        out["fallbacks"] = []
        out["history"] = []
    by_provider = {p["provider"]: p for p in out["providers"]}
    primary_provider = route.primary.provider if route is not None else None
    out["primary_provider"] = primary_provider
    out["primary_rates"] = by_provider.get(primary_provider or "")
    top_provider = top.tier.split("/", 1)[0] if top else None
    out["top_provider"] = top_provider
    out["top_rates"] = by_provider.get(top_provider or "")
    fallback_providers = [f.provider for f in route.fallbacks] if route is not None else []
    out["fallback_rates"] = [by_provider[p] for p in fallback_providers if p in by_provider]
    known = [r["error_rate"] for r in out["fallback_rates"] if r["error_rate"] is not None]
    out["fallback_error_rate"] = min(known) if known else None
    out["last_deploy_age_s"] = None
    if route is not None:
        current = next((h for h in route.history if h.version == route.version), None)
        if current is not None:
            out["last_deploy_age_s"] = (gateway_time - current.deployed_at).total_seconds()
    ttft, ttfv = status.ttft.p95_ms, status.ttfv.p95_ms
    out["ttfv_gap_ms"] = ttfv - ttft if ttft is not None and ttfv is not None else None
    quotas = []
    for quota, data in zip(status.quotas, out["quotas"], strict=True):
        q = dict(data)
        q["remaining_share"] = (
            quota.remaining / quota.limit if quota.remaining is not None and quota.limit else None
        )
        q["resets_in_s"] = (
            (quota.resets_at - gateway_time).total_seconds() if quota.resets_at else None
        )
        quotas.append(q)
    out["quotas"] = quotas
    out["gateway_time"] = gateway_time.isoformat()
    return out


def _find_route(routes: RoutesResponse, name: str) -> Route | None:
    return next((r for r in routes.routes if r.name == name), None)


def _find_status(status: StatusResponse, name: str) -> RouteStatus:
    for rs in status.routes:
        if rs.route == name:
            return rs
    known = ", ".join(r.route for r in status.routes) or "none"
    raise NotFoundError(f"gateway reports no route {name!r} (has: {known})")


async def gateway_status(sources: Sources, query: Query, route: str) -> dict[str, Any]:
    gw = sources.gateway(query.gateway)
    routes = await gw.routes()
    status = await gw.status(query.window_s)
    return status_values(
        _find_status(status, route), _find_route(routes, route), status.gateway_time
    )


async def route_config(sources: Sources, query: Query, route: str) -> dict[str, Any]:
    gw = sources.gateway(query.gateway)
    found = _find_route(await gw.routes(), route)
    if found is None:
        raise NotFoundError(f"gateway has no route {route!r}")
    return route_values(found)


def _data_figures(trace_ages: list[tuple[str, float]], cache: list[bool]) -> dict[str, Any]:
    """What the traces say about data age and the tool-result cache."""
    oldest = max(trace_ages, key=lambda t: t[1], default=None)
    ages = sorted(round(a, 1) for _, a in trace_ages)
    return {
        "data_age_traces": len(trace_ages),  # traces whose retrieval states a data age
        # per trace, the oldest data any of its retrievals used
        "median_data_age_s": ages[len(ages) // 2] if ages else None,
        "max_data_age_s": ages[-1] if ages else None,
        "oldest_data_trace": oldest[0] if oldest else None,
        "data_ages_s": ages,
        "tool_results": len(cache),  # tool results that say whether a cache answered
        "tool_cache_hit_rate": (sum(cache) / len(cache)) if cache else None,
    }


async def traces(sources: Sources, query: Query, route: str | None) -> dict[str, Any]:
    search, store = sources.trace_store(query.trace_store)
    rows = await search.search(TraceQuery(route=route, limit=query.limit))
    findings: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    traces_with: dict[str, int] = {}
    cycles = 0
    max_laps = 0
    trace_ages: list[tuple[str, float]] = []
    cache: list[bool] = []
    for row in rows[: query.limit]:
        try:
            trace = await store.get_trace(row.trace_id)
        except OncallError:
            continue  # a trace that vanished between search and get is not evidence
        analysis = analyze(trace)
        ages = [a for a in map(data_age_s, trace.spans) if a is not None]
        if ages:
            trace_ages.append((row.trace_id, max(ages)))
        cache += [s.attributes[CACHE_HIT_ATTR] for s in trace.spans
                  if isinstance(s.attributes.get(CACHE_HIT_ATTR), bool)]  # fmt: skip
        cycles += len(analysis.cycles)
        max_laps = max([max_laps, *(c.laps for c in analysis.cycles)])
        kinds = set()
        for f in analysis.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
            kinds.add(f.kind)
            findings.append(
                {
                    "kind": f.kind,
                    "severity": f.severity,
                    "summary": f.summary,
                    "trace_id": row.trace_id,
                }
            )
        for kind in kinds:
            traces_with[kind] = traces_with.get(kind, 0) + 1
    return {
        "traces": len(rows[: query.limit]),
        "trace_ids": [r.trace_id for r in rows[: query.limit]],
        "cycles": cycles,
        "max_laps": max_laps,
        "findings": findings,
        "finding_counts": counts,
        "traces_with": traces_with,
        **_data_figures(trace_ages, cache),
    }


async def all_routes(sources: Sources, query: Query) -> dict[str, Any]:
    """No route named: the gateway as a whole (is it there, what does it serve)."""
    status = await sources.gateway(query.gateway).status(query.window_s)
    return {
        "routes": [plain(r) for r in status.routes],
        "gateway_time": status.gateway_time.isoformat(),
    }


async def onset(sources: Sources, query: Query, route: str | None) -> dict[str, Any]:
    """``trace onset`` over the last ``window_s`` in 12 buckets, sampling at
    most ``limit`` traces per route and bucket (or the store's own counts):
    when each finding kind rose, and the change named before it."""
    import time

    from oncall_tui.core.changes import changes_from_routes
    from oncall_tui.core.onset import DEFAULT_RULE, onsets
    from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery
    from oncall_tui.sources.capabilities import FleetCounts
    from oncall_tui.sources.onset_sampling import can_sample, in_window, onset_window

    store = next(
        (
            s
            for n, s in sources.trace_stores.items()
            if (query.trace_store is None or n == query.trace_store)
            and (isinstance(s, FleetCounts) or can_sample(s))
        ),
        None,
    )
    if store is None:
        raise UnsupportedError(
            "no trace store in this environment can count or list a time window "
            f"(have: {', '.join(sources.trace_stores) or 'none configured'})"
        )
    now = time.time_ns()
    side: list[ChangeEvent] = []
    try:
        routes = await sources.gateway(query.gateway).routes()
        side = changes_from_routes(routes)
        # A simulator at speed > 1 runs ahead of our clock, its traces too.
        now = max(now, int(routes.gateway_time.timestamp() * 1e9))
    except OncallError:
        pass  # no gateway: the traces' own changes still count
    bucket = max(60, query.window_s // 12) * 1_000_000_000
    end = now - now % bucket + bucket
    q = OnsetQuery(
        since_ns=end - 12 * bucket,
        until_ns=end,
        bucket_ns=bucket,
        route=route,
        sample_per_bucket=query.limit,
    )
    window = await onset_window(store, q, changes=in_window(side, q, DEFAULT_RULE.lookback_ns))
    found = onsets(window)
    return {
        "onsets": len(found),
        "onset_kinds": [o.kind for o in found],
        "caused": sum(1 for o in found if o.cause is not None),
        "lines": [o.line for o in found],
        "first_line": found[0].line if found else "",
        "changes": len(window.changes),
        "method_note": window.method_note,
    }


async def run_query(sources: Sources, query: Query, route: str | None) -> dict[str, Any]:
    if query.source == "traces":
        return await traces(sources, query, route or None)
    if query.source == "onset":
        return await onset(sources, query, route or None)
    if not route:
        if query.source == "gateway_status":
            return await all_routes(sources, query)
        raise UnsupportedError(f"a {query.source} query needs a route")
    if query.source == "routes":
        return await route_config(sources, query, route)
    return await gateway_status(sources, query, route)


def evidence(source: str, values: dict[str, Any]) -> dict[str, Any]:
    """What a check keeps of its data: small and enough to judge it later."""
    if source == "traces":
        kept = dict(values)
        kept["findings"] = values["findings"][:EVIDENCE_FINDINGS]
        return kept
    return values
