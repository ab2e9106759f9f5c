"""Each scenario's signature, in the metrics AND in the traces, read the way a
responder's tools read them: status over the protocol, traces over the Jaeger
api_v3 endpoints, analysed by the trace engine (``core.analysis.analyze``).
Then the scenario must react to the action its runbook takes.

The simulator runs on an ephemeral loopback port, stepped: a fixed seed and a
stepped clock make every figure reproducible, and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.gateway import RouteStatus
from oncall_tui.core.models import Trace
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.engine import SimEngine
from oncall_tui.sim.scenarios import SCENARIOS
from oncall_tui.sim.server import SimServer, running_sim
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.native import NativeGateway, Options

SEED = 11
WARMUP_S = 180.0
WINDOW_S = 120
TRACES_PER_ROUTE = 12


@dataclass
class Seen:
    server: SimServer
    gw: NativeGateway
    route: str

    async def status(self) -> RouteStatus:
        status = await self.gw.status(WINDOW_S)
        return next(r for r in status.routes if r.route == self.route)

    async def traces(self, limit: int = TRACES_PER_ROUTE) -> list[Trace]:
        rows = await self.gw.search(TraceQuery(route=self.route, limit=limit))
        return [await self.gw.get_trace(r.trace_id) for r in rows]

    async def analyses(self, limit: int = TRACES_PER_ROUTE) -> list[Analysis]:
        return [analyze(t) for t in await self.traces(limit)]


@asynccontextmanager
async def staged(scenario: str | None, route: str) -> AsyncIterator[Seen]:
    scenarios = (scenario,) if scenario else ()
    async with running_sim(scenarios=scenarios, seed=SEED, warmup_s=WARMUP_S) as server:
        gw = NativeGateway(
            Options(url=server.url, token_env="T", timeout_s=5),
            PluginContext(environ={"T": server.token}),
        )
        try:
            yield Seen(server, gw, route)
        finally:
            await gw.aclose()


_baseline: dict[str, RouteStatus] = {}


def baseline(route: str) -> RouteStatus:
    """The same route, same seed and clock, with no incident staged."""
    if not _baseline:
        engine = SimEngine(seed=SEED)
        engine.step(WARMUP_S)
        _baseline.update({r.route: r for r in engine.status(WINDOW_S).routes})
    return _baseline[route]


def kinds(analyses: list[Analysis]) -> set[str]:
    return {f.kind for a in analyses for f in a.findings}


def model_spans(trace: Trace) -> list[object]:
    return [s for s in trace.spans if s.gen_ai and s.gen_ai.operation == "chat"]


def provider(rs: RouteStatus, name: str) -> object:
    return next(p for p in rs.providers if p.provider == name)


def primary_share(rs: RouteStatus) -> float:
    return rs.tier_mix[0].share


async def _act(seen: Seen, kind: str, **kw: object) -> None:
    common = {"reason": "test", "actor": "test@sim", "idempotency_key": f"{kind}-{seen.route}"}
    if kind == "kill":
        await seen.gw.set_kill_switch(seen.route, enabled=True, **common)  # type: ignore[arg-type]
    elif kind == "rollback":
        await seen.gw.rollback(seen.route, **kw, **common)  # type: ignore[arg-type]
    else:
        await seen.gw.failover(seen.route, **kw, **common)  # type: ignore[arg-type]
    seen.server.step(WINDOW_S + 5)  # a whole window of traffic after the action


# ------------------------------------------------------------ every scenario


def test_fifteen_scenarios_each_name_a_route_and_a_runbook() -> None:
    assert len(SCENARIOS) == 15
    engine = SimEngine()
    for s in SCENARIOS.values():
        assert s.route in engine.fleet.routes, s.name
        assert s.summary and s.runbook


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_only_the_reentrancy_scenario_yields_a_call_cycle(name: str) -> None:
    route = SCENARIOS[name].route
    async with staged(name, route) as seen:
        analyses = await seen.analyses()
    assert analyses, f"{name}: no traces of {route} in the store"
    with_cycles = [a for a in analyses if a.cycles]
    if name == "tool-reentrancy":
        assert len(with_cycles) == len(analyses)
        cycle = with_cycles[0].cycles[0]
        nodes = {n for n in cycle.nodes} if hasattr(cycle, "nodes") else set()
        assert not nodes or any(str(n).startswith("tool:") for n in nodes)
        assert "reentrancy_cycle" in kinds(analyses)
    else:
        # (tool-description-change loops only after its change, 15 sim min in:
        # tests/unit/test_onset_sim.py stages that.)
        assert with_cycles == [], f"{name} must not look like reentrancy"


@pytest.mark.parametrize("scenario", [None, "tool-reentrancy", "structured-output-loop"])
async def test_no_simulated_caller_returns_before_its_callees(scenario: str | None) -> None:
    """Every span ends no earlier than its children (the agent's tool steps
    used to run on after the agent and the gateway span had ended)."""
    route = SCENARIOS[scenario].route if scenario else "agent-assist"
    async with staged(scenario, route) as seen:
        traces = await seen.traces()
    assert traces
    for trace in traces:
        ends = {s.span_id: s.end_ns for s in trace.spans}
        late = [s.name for s in trace.spans if s.parent_id and s.end_ns > ends[s.parent_id]]
        assert late == [], (trace.trace_id, late)


async def test_scenarios_switch_at_run_time_over_http() -> None:
    async with running_sim(seed=SEED, warmup_s=30) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=5) as http:
            listed = (await http.get("/v1/sim/scenarios")).json()
            assert listed["active"] == []
            assert {s["name"] for s in listed["available"]} == set(SCENARIOS)
            on = await http.post("/v1/sim/scenarios", json={"enable": ["cache-thrash"]})
            assert on.json()["active"] == ["cache-thrash"]
            await http.post("/v1/sim/step", json={"seconds": WINDOW_S + 5})
            rs = next(
                r
                for r in (await http.get("/v1/status", params={"window": WINDOW_S})).json()[
                    "routes"
                ]
                if r["route"] == "support-chat"
            )
            assert rs["cache_hit_rate"] < 0.15
            off = await http.post("/v1/sim/scenarios", json={"disable": ["cache-thrash"]})
            assert off.json()["active"] == []
            bad = await http.post("/v1/sim/scenarios", json={"enable": ["no-such-incident"]})
            assert bad.status_code == 422
            await http.post("/v1/sim/step", json={"seconds": WINDOW_S + 5})
            rs = next(
                r
                for r in (await http.get("/v1/status", params={"window": WINDOW_S})).json()[
                    "routes"
                ]
                if r["route"] == "support-chat"
            )
            assert rs["cache_hit_rate"] > 0.45, "the tenant's launch is over"


# ------------------------------------------------------- signatures + actions


async def test_provider_outage_fails_over_per_request_and_failover_ends_it() -> None:
    async with staged("provider-outage", "support-chat") as seen:
        rs = await seen.status()
        assert provider(rs, "anthropic").error_rate > 0.5  # type: ignore[attr-defined]
        assert primary_share(rs) < 0.5
        assert (rs.error_rate or 0) < 0.05, "fallbacks still answer users"
        assert rs.fallback_rate and rs.fallback_rate > 0.5
        found = kinds(await seen.analyses())
        assert {"tier_demotion", "error_swallowed"} & found
        fallback = rs.tier_mix[1].tier
        await _act(seen, "failover", to_tier=fallback)
        after = await seen.status()
        assert dict((t.tier, t.share) for t in after.tier_mix)[fallback] > 0.95
        assert (after.fallback_rate or 0) < 0.05
        anthropic = [t for t in after.tier_mix if t.tier.startswith("anthropic/")]
        assert sum(t.share for t in anthropic) < 0.02, "the broken provider is only a last resort"


async def test_fallback_became_default_hides_behind_a_low_fallback_rate() -> None:
    async with staged("fallback-default", "support-chat") as seen:
        seen.server.step(300)  # sessions settle on the fallback
        rs = await seen.status()
        share = primary_share(rs)
        assert rs.tier_slo is not None and share < rs.tier_slo
        served_by_fallback = 1 - share
        assert (rs.fallback_rate or 0) < served_by_fallback / 3, "the rate looks rare"
        traces = await seen.traces(30)
        quiet = [
            t
            for t in traces
            if model_spans(t)
            and all(s.status != "error" for s in model_spans(t))  # type: ignore[attr-defined]
            and all(s.gen_ai.provider == "openai" for s in model_spans(t))  # type: ignore[attr-defined]
        ]
        assert quiet, "fallback-served requests with no failed attempt: no fallback event"


async def test_failover_mid_conversation_changes_the_refusal_rate() -> None:
    base = baseline("support-chat")
    async with staged("failover-refusals", "support-chat") as seen:
        rs = await seen.status()
        openai = provider(rs, "openai")
        assert openai.refusal_rate > 5 * openai.refusal_baseline  # type: ignore[attr-defined]
        assert (rs.refusal_rate or 0) > 3 * (base.refusal_rate or 0.01)
        traces = await seen.traces(40)
        by_conversation: dict[str, set[str]] = {}
        refused = 0
        for t in traces:
            for s in model_spans(t):
                g = s.gen_ai  # type: ignore[attr-defined]
                if g.conversation_id and s.status != "error":  # type: ignore[attr-defined]
                    by_conversation.setdefault(g.conversation_id, set()).add(g.provider)
                refused += "content_filter" in g.finish_reasons
        assert refused, "refusals show in the traces' finish reasons"
        assert any(len(p) > 1 for p in by_conversation.values()), "one conversation, two providers"
        await _act(seen, "kill")
        after = await seen.status()
        assert after.kill_switch and after.refusal_rate is None
        assert dict((t.tier, t.share) for t in after.tier_mix)["none"] == 1.0


async def test_safety_drift_raises_refusals_with_no_deploy() -> None:
    base = baseline("search-summary")
    async with staged("safety-drift", "search-summary") as seen:
        seen.server.step(300)
        rs = await seen.status()
        openai = provider(rs, "openai")
        assert openai.refusal_rate > 3 * openai.refusal_baseline  # type: ignore[attr-defined]
        assert rs.serving_version == base.serving_version, "nothing was deployed"
        assert "refusal" in kinds(await seen.analyses(30))


async def test_quota_exhaustion_429s_before_a_reset_on_the_providers_clock() -> None:
    async with staged("quota-exhaustion", "search-summary") as seen:
        rs = await seen.status()
        quota = next(q for q in rs.quotas if q.provider == "openai")
        assert quota.limit and quota.remaining is not None
        assert quota.remaining < 0.1 * quota.limit
        assert quota.provider_timezone == "America/Los_Angeles"
        assert quota.resets_at is not None
        local = quota.resets_at.astimezone(ZoneInfo(quota.provider_timezone))
        assert (local.hour, local.minute) == (0, 0), "midnight on the provider's clock"
        assert (rs.rate_429 or 0) > 0.1
        limited = [
            s
            for t in await seen.traces(30)
            for s in t.spans
            if s.attributes.get("error.type") == "rate_limited"
        ]
        assert limited
        await _act(seen, "failover", to_tier=rs.tier_mix[1].tier)
        after = await seen.status()
        assert (after.rate_429 or 0) < 0.02


async def test_stream_chunking_shrinks_chunks_and_moves_nothing_else() -> None:
    """Tiny chunks at the same pace: only the chunk size says so; failing over
    to a model that streams normally restores it."""
    base = baseline("search-summary")
    async with staged("stream-chunking", "search-summary") as seen:
        rs = await seen.status()
        assert base.chunk_chars_p50 is not None and base.chunk_chars_p50 > 12
        assert rs.chunk_chars_p50 is not None and rs.chunk_chars_p50 < 5
        assert rs.ttft.p50_ms and base.ttft.p50_ms
        assert abs(rs.ttft.p50_ms - base.ttft.p50_ms) < 0.2 * base.ttft.p50_ms
        assert rs.ttfv.p50_ms and rs.ttfv.p50_ms - rs.ttft.p50_ms < 500
        assert (rs.error_rate or 0) < 0.05 and primary_share(rs) > 0.9
        alerts = {a.kind for a in await seen.gw.alerts() if a.route == "search-summary"}
        assert alerts == {"chunking_changed"}
        assert not kinds(await seen.analyses()) & {"hidden_reasoning_latency", "refusal"}
        await _act(seen, "failover", to_tier="google/gemini-flash")
        after = await seen.status()
        assert after.chunk_chars_p50 is not None and after.chunk_chars_p50 > 12
        other = next(
            r for r in (await seen.gw.status(WINDOW_S)).routes if r.route == "support-chat"
        )
        assert other.chunk_chars_p50 and other.chunk_chars_p50 > 12  # one route only


async def test_hidden_reasoning_fast_first_token_slow_first_visible_token() -> None:
    async with staged("hidden-reasoning", "agent-assist") as seen:
        rs = await seen.status()
        assert rs.ttft.p50_ms and rs.ttfv.p50_ms
        assert rs.ttft.p50_ms < 1000 and rs.ttfv.p50_ms - rs.ttft.p50_ms > 3000
        traces = await seen.traces()
        g = [s.gen_ai for t in traces for s in model_spans(t)]  # type: ignore[attr-defined]
        assert any(x.reasoning_tokens for x in g)
        assert any(
            x.time_to_first_visible_s - x.time_to_first_chunk_s > 3
            for x in g
            if x.time_to_first_visible_s and x.time_to_first_chunk_s
        )
        assert "hidden_reasoning_latency" in kinds([analyze(t) for t in traces])
        await _act(seen, "rollback", to_version="v1")
        after = await seen.status()
        assert after.ttfv.p50_ms is not None and after.ttft.p50_ms is not None
        assert after.ttfv.p50_ms - after.ttft.p50_ms < 500


async def test_tool_reentrancy_stops_with_the_kill_switch() -> None:
    async with staged("tool-reentrancy", "agent-assist") as seen:
        assert any(a.cycles for a in await seen.analyses(5))
        alerts = [a for a in await seen.gw.alerts() if a.route == "agent-assist"]
        cycle = next(a for a in alerts if a.kind == "cycle")
        assert cycle.trace_ids, "the alert names traces to open"
        assert analyze(await seen.gw.get_trace(cycle.trace_ids[-1])).cycles
        status = await seen.status()
        notable = [analyze(await seen.gw.get_trace(t)) for t in status.notable_traces]
        assert any(a.cycles for a in notable), "status points at traces with the cycle"
        await _act(seen, "kill")
        assert "cycle" not in {a.kind for a in await seen.gw.alerts() if a.route == "agent-assist"}
        after = await seen.status()
        assert after.kill_switch
        fresh = [
            t
            for t in await seen.traces(40)
            if min(s.start_ns for s in t.spans) > _ns(seen.server) - WINDOW_S * 10**9 // 2
        ]
        assert fresh and all(not model_spans(t) for t in fresh), "no AI path after the switch"
        assert not any(analyze(t).cycles for t in fresh)


async def test_retry_storm_multiplies_attempts_and_cost() -> None:
    base = baseline("search-summary")
    async with staged("retry-storm", "search-summary") as seen:
        rs = await seen.status()
        assert rs.retry_amplification and rs.retry_amplification > 1.8
        assert rs.retry_amplification - 1 > 2 * (rs.fallback_rate or 0), "not explained by failover"
        assert rs.cost_per_success_usd and base.cost_per_success_usd
        assert rs.cost_per_success_usd > 1.5 * base.cost_per_success_usd
        assert "retry_amplification" in kinds(await seen.analyses(30))


async def test_structured_output_loop_repeats_schema_repairs() -> None:
    base = baseline("doc-extract")
    async with staged("structured-output-loop", "doc-extract") as seen:
        rs = await seen.status()
        assert rs.cost_per_success_usd and base.cost_per_success_usd
        assert rs.cost_per_success_usd > 2 * base.cost_per_success_usd
        assert (rs.retry_amplification or 1) < 1.2, "repairs are not transport retries"
        analyses = await seen.analyses()
        assert "structured_output_retry" in kinds(analyses)


async def test_cache_thrash_after_a_big_tenants_launch() -> None:
    base = baseline("support-chat")
    async with staged("cache-thrash", "support-chat") as seen:
        rs = await seen.status()
        assert base.cache_hit_rate and base.cache_hit_rate > 0.5
        assert rs.cache_hit_rate is not None and rs.cache_hit_rate < 0.15
        assert rs.cost_per_success_usd and base.cost_per_success_usd
        assert rs.cost_per_success_usd > 1.3 * base.cost_per_success_usd
        traces = await seen.traces(30)
        tenants = [t.spans[0].attributes.get("tenant.id") for t in traces]
        assert tenants.count("megacorp") > len(tenants) / 3, "one tenant dominates"
        writes = [
            s.gen_ai
            for t in traces
            for s in model_spans(t)
            if s.gen_ai.cache_creation_tokens  # type: ignore[attr-defined]
        ]
        assert len(writes) > len(traces) / 2, "misses write the prefix again"


async def test_bad_model_upgrade_is_undone_by_a_rollback() -> None:
    base = baseline("support-chat")
    async with staged("bad-model-upgrade", "support-chat") as seen:
        routes = await seen.gw.routes()
        chat = next(r for r in routes.routes if r.name == "support-chat")
        assert chat.version == "v4" and "v4" in {v.version for v in chat.history}
        rs = await seen.status()
        assert rs.serving_version == "v4"
        assert (rs.refusal_rate or 0) > 3 * (base.refusal_rate or 0.01)
        anth = provider(rs, "anthropic")
        assert anth.error_rate > 0.05  # type: ignore[attr-defined]
        models = {
            s.gen_ai.response_model  # type: ignore[attr-defined]
            for t in await seen.traces()
            for s in model_spans(t)
            if s.gen_ai.response_model  # type: ignore[attr-defined]
        }
        assert any("claude-sonnet-next" in m for m in models)
        await _act(seen, "rollback", to_version="v3")
        after = await seen.status()
        assert after.serving_version == "v3"
        assert (after.refusal_rate or 0) < 2.5 * (base.refusal_rate or 0.01)
        assert (provider(after, "anthropic").error_rate or 0) < 0.03  # type: ignore[attr-defined]


def search_spans(traces: list[Trace]) -> list[object]:
    return [
        s
        for t in traces
        for s in t.spans
        if s.gen_ai and s.gen_ai.tool_name == "search_kb"  # the retrieval
    ]


async def test_stale_retrieval_serves_old_data_while_nothing_else_moves() -> None:
    base = baseline("agent-assist")
    async with staged("stale-retrieval", "agent-assist") as seen:
        rs = await seen.status()
        slo = rs.data_freshness_slo_s
        assert slo == base.data_freshness_slo_s == 3600
        # Metrics: the data is hours old, the tool cache answers most calls,
        # users mark more answers unhelpful ...
        assert base.data_age_p95_s is not None and base.data_age_p95_s < slo
        assert base.stale_data_rate == 0
        assert rs.data_age_p50_s is not None and rs.data_age_p50_s > 2 * slo
        assert rs.stale_data_rate is not None and rs.stale_data_rate > 0.9
        assert base.tool_cache_hit_rate is not None and base.tool_cache_hit_rate < 0.4
        assert rs.tool_cache_hit_rate is not None and rs.tool_cache_hit_rate > 0.8
        assert base.negative_feedback_rate is not None and rs.negative_feedback_rate is not None
        assert rs.negative_feedback_rate > 3 * base.negative_feedback_rate
        # ... while no error, latency, tier, refusal, prompt-cache or cost figure moves.
        assert (rs.error_rate or 0) <= (base.error_rate or 0) + 0.01
        assert rs.tier_slo is not None and primary_share(rs) >= rs.tier_slo
        assert rs.ttfv.p50_ms and base.ttfv.p50_ms
        assert abs(rs.ttfv.p50_ms - base.ttfv.p50_ms) < 0.25 * base.ttfv.p50_ms
        assert (rs.refusal_rate or 0) < 0.05
        assert rs.cache_hit_rate and base.cache_hit_rate
        assert abs(rs.cache_hit_rate - base.cache_hit_rate) < 0.1
        assert rs.cost_per_success_usd and base.cost_per_success_usd
        assert rs.cost_per_success_usd < 1.25 * base.cost_per_success_usd
        alerts = {a.kind for a in await seen.gw.alerts() if a.route == "agent-assist"}
        assert alerts == {"stale_data"}
        # Traces: each retrieval says how old its documents were, and the cache answered.
        traces = await seen.traces(20)
        spans = search_spans(traces)
        assert spans, "the retrieval is in the traces"
        ages = [s.attributes["retrieval.document.age_s"] for s in spans]  # type: ignore[attr-defined]
        assert all(a > slo for a in ages), ages
        assert all("indexed_at" in s.attributes["retrieval.documents.0.document.metadata"]  # type: ignore[attr-defined]
                   for s in spans)  # fmt: skip
        cached = [s.attributes["tool.result.cache_hit"] for s in spans]  # type: ignore[attr-defined]
        assert sum(cached) > 0.7 * len(cached)
        analyses = [analyze(t) for t in traces]
        assert not kinds(analyses) & {"tier_demotion", "error_swallowed", "retry_amplification",
                                      "refusal", "hidden_reasoning_latency"}  # fmt: skip
        # The trace engine says it too: each trace whose retrieval ran carries stale_data.
        assert "stale_data" in kinds(analyses)
        # The data keeps ageing: nothing is ingested until someone fixes the indexer.
        seen.server.step(300)
        later = await seen.status()
        assert later.data_age_p50_s is not None and later.data_age_p50_s > rs.data_age_p50_s + 200
        # A failover changes the model, not the index: still stale.
        await _act(seen, "failover", to_tier=rs.tier_mix[1].tier)
        assert ((await seen.status()).stale_data_rate or 0) > 0.9
        # The kill switch stops the AI path: no retrieval, no data age.
        await _act(seen, "kill")
        after = await seen.status()
        assert after.kill_switch and after.data_age_p50_s is None and after.stale_data_rate is None


async def test_a_healthy_retrieval_route_is_fresh_in_metrics_and_traces() -> None:
    async with staged(None, "agent-assist") as seen:
        rs = await seen.status()
        assert rs.stale_data_rate == 0 and rs.data_age_p95_s is not None
        assert rs.data_freshness_slo_s is not None
        assert rs.data_age_p95_s < rs.data_freshness_slo_s
        traces = await seen.traces(40)
        ages = [s.attributes["retrieval.document.age_s"] for s in search_spans(traces)]  # type: ignore[attr-defined]
        assert ages and max(ages) < rs.data_freshness_slo_s
        # A request misses the prompt cache once: its later model calls read
        # the prefix the first one wrote, so a healthy route shows no thrash.
        assert "cache_thrash" not in kinds([analyze(t) for t in traces])
        assert "stale_data" not in kinds([analyze(t) for t in traces])
        assert "stale_data" not in {a.kind for a in await seen.gw.alerts()}
        other = next(
            r for r in (await seen.gw.status(WINDOW_S)).routes if r.route == "support-chat"
        )
        assert other.data_age_p50_s is None, "a route with no retrieval has no data age"


def _ns(server: SimServer) -> int:
    return int(server.engine.gateway_time().timestamp() * 10**9)
