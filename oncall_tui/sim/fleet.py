"""The simulated AI fleet: routes, providers, and the requests they serve.

Every simulated request is decided once (which tier served it, how many
attempts, refusal, latency, tokens, cost) and recorded; the status endpoint
aggregates those records, and sampled requests are also emitted as OTLP
traces built from the same decision, so metrics and traces always agree.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from oncall_tui.core.gateway import (
    ModelRef,
    Percentiles,
    ProviderRates,
    Quota,
    Route,
    RouteStatus,
    RouteVersion,
    TierShare,
)
from oncall_tui.sim.scenarios import SCENARIOS, Effects, Scenario

BASE_TIME = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
PROVIDER_TZ = {"openai": "America/Los_Angeles", "anthropic": "America/Los_Angeles", "google": "UTC"}
# Tokens per provider day: about twice what the default traffic uses.
QUOTA_LIMIT = {"openai": 4_000_000_000, "anthropic": 4_000_000_000, "google": 4_000_000_000}
#: Median characters per stream chunk when nothing is wrong (a few tokens).
NORMAL_CHUNK_CHARS = 18.0
BASE_REFUSAL = {"openai": 0.01, "anthropic": 0.012, "google": 0.015}
PRICE_PER_1K = {"openai": 0.005, "anthropic": 0.006, "google": 0.002}
RECORD_HORIZON_S = 3600  # records older than this (sim time) are dropped
# Documents retrieval returns on a healthy route: the indexer runs every few
# minutes, so the median document is ~8 min old (p95 ~20 min).
DATA_AGE_MEDIAN_S = 480.0
DATA_AGE_SIGMA = 0.55
# Users mark an answer unhelpful: a baseline, more for a refusal, more for an
# answer built on data older than the route's freshness promise.
FEEDBACK_NEGATIVE = 0.03
FEEDBACK_NEGATIVE_REFUSED = 0.45
FEEDBACK_NEGATIVE_STALE = 0.3


@dataclass
class RouteState:
    name: str
    description: str
    versions: dict[str, RouteVersion]
    version: str
    fallbacks: tuple[ModelRef, ...]
    rps: float
    cache_hit: float
    kill_switch: bool = False
    failover_to: str | None = None  # tier key forced by a failover action
    tier_slo: float = 0.8
    agentic: bool = False  # tools (and a knowledge-base retrieval) inside each request
    structured: bool = False
    tool_cache_hit: float = 0.0  # share of tool results a result cache answers
    freshness_slo_s: float | None = None  # the oldest data its answers may use
    #: The tools an agentic route offers the model, as its traces' definitions show.
    tool_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> ModelRef:
        return self.versions[self.version].primary

    def chain(self) -> list[ModelRef]:
        tiers = [self.primary, *self.fallbacks]
        if self.failover_to:
            forced = [t for t in tiers if t.key == self.failover_to]
            rest = [t for t in tiers if t.key != self.failover_to]
            return forced + rest
        return tiers

    def to_route(self) -> Route:
        return Route(
            name=self.name,
            primary=self.primary,
            version=self.version,
            fallbacks=self.fallbacks,
            kill_switch=self.kill_switch,
            history=tuple(sorted(self.versions.values(), key=lambda v: v.deployed_at)),
            description=self.description,
            failover_to=self.failover_to,
        )


@dataclass(slots=True)
class Record:
    """One client request as the gateway saw it."""

    t: float  # sim seconds since Fleet.start
    route: str
    tier: str  # ModelRef.key that served, "none" when no AI tier did
    provider: str | None
    ok: bool
    attempts: int
    fell_back: bool  # took a fallback hop in this request
    refused: bool
    rate_limited: bool
    errors_by_provider: dict[str, int]
    tries_by_provider: dict[str, int]
    ttft_ms: float
    ttfv_ms: float
    chunk_chars: float
    cache_hit: bool
    cost_usd: float
    tokens: int
    trace_id: str | None = None
    session: str = ""  # the conversation the request belongs to (gen_ai.conversation.id)
    tenant: str = ""
    reasoning_tokens: int = 0
    notable: bool = False  # its trace shows something the numbers do not (a cycle)
    data_age_s: float | None = None  # oldest document retrieval handed the model (None: none)
    tool_cache_hit: bool = False  # its tool results came from the result cache
    negative_feedback: bool = False  # the user marked the answer unhelpful


@dataclass
class Fleet:
    seed: int = 42
    #: Simulated time zero: fixed for tests (reproducible), the wall clock for
    #: ``oncall-tui sim``/``demo`` (so look-backs from "now" find its traces).
    start: datetime = BASE_TIME
    rng: random.Random = field(init=False)
    #: A second stream for the figures added after the scenarios were tuned
    #: (data age, tool cache, feedback): the traffic every other scenario
    #: draws stays the same, draw for draw.
    aux_rng: random.Random = field(init=False)
    t: float = 0.0  # sim seconds since Fleet.start
    routes: dict[str, RouteState] = field(default_factory=dict)
    active: dict[str, float] = field(default_factory=dict)  # scenario -> started at (sim s)
    records: deque[Record] = field(default_factory=deque)
    quota_used: dict[str, float] = field(default_factory=dict)
    last_served: dict[tuple[str, str], float] = field(default_factory=dict)
    sticky: set[str] = field(default_factory=set)  # sessions stuck on a fallback
    quota_reset_seen: dict[str, datetime] = field(default_factory=dict)
    request_counter: int = 0
    changed: set[str] = field(default_factory=set)  # mid-run scenarios whose change was made

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.aux_rng = random.Random(self.seed + 1_000_003)
        self.routes = default_routes(self.start)

    # ----------------------------------------------------------------- time

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    # ------------------------------------------------------------ scenarios

    def enable(self, name: str) -> Scenario:
        scenario = SCENARIOS[name]
        self.active.setdefault(name, self.t)
        for provider in scenario.effects.quota_burn:
            # The launch already ate most of today's quota when we are paged.
            self.quota_used[provider] = 0.93 * QUOTA_LIMIT[provider]
        if name == "bad-model-upgrade":
            route = self.routes[scenario.route]
            route.version = "v4"
            route.versions["v4"] = RouteVersion(
                "v4",
                ModelRef("anthropic", "claude-sonnet-next", "2026-11-20"),
                self.now(),
                "upgrade to claude-sonnet-next",
            )
        return scenario

    def disable(self, name: str) -> None:
        self.active.pop(name, None)
        self.changed.discard(name)

    def apply_changes(self) -> None:
        """Make the change of every mid-run scenario whose time has come."""
        for name, started in self.active.items():
            effects = SCENARIOS[name].effects
            if name in self.changed or self.t - started < effects.change_after_s:
                continue
            self.changed.add(name)
            route = self.routes[SCENARIOS[name].route]
            if effects.tool_description is not None:
                tool, text = effects.tool_description
                route.tool_descriptions[tool] = text
            if effects.model_snapshot is not None:
                current = route.versions[route.version]
                primary = msgspec.structs.replace(current.primary, version=effects.model_snapshot)
                route.versions[route.version] = msgspec.structs.replace(current, primary=primary)

    def effects_for(self, route: RouteState) -> list[tuple[Effects, float]]:
        out = []
        for name, started in self.active.items():
            sc = SCENARIOS[name]
            if sc.route != route.name:
                continue
            if sc.effects.only_version and sc.effects.only_version != route.version:
                continue
            if sc.effects.change_after_s and name not in self.changed:
                continue  # before its change, a mid-run scenario does nothing
            out.append((sc.effects, self.t - started - sc.effects.change_after_s))
        return out

    # ------------------------------------------------------------- traffic

    def simulate(self, route: RouteState, session: str) -> Record:
        """Decide one request end to end."""
        rng = self.rng
        effects = self.effects_for(route)
        self.request_counter += 1
        if route.kill_switch:
            return Record(
                self.t,
                route.name,
                "none",
                None,
                True,
                0,
                False,
                False,
                False,
                {},
                {},
                5.0,
                5.0,
                0.0,
                False,
                0.0,
                0,
            )
        chain = route.chain()
        if any(e.sticky_fallback for e, _ in effects) and session in self.sticky and len(chain) > 1:
            chain = chain[1:]
        retries = max((e.retries for e, _ in effects), default=0)
        errors: dict[str, int] = {}
        tries: dict[str, int] = {}
        attempts = 0
        served: ModelRef | None = None
        rate_limited = False
        fell_back = False
        for hop, tier in enumerate(chain):
            p = tier.provider
            err = 0.004 + sum(e.provider_errors.get(p, 0.0) for e, _ in effects)
            r429 = 0.002 + sum(e.provider_429.get(p, 0.0) for e, _ in effects)
            if self.quota_used.get(p, 0.0) >= QUOTA_LIMIT.get(p, 10**9):
                r429 = 1.0
            success = False
            for _ in range(1 + retries):
                attempts += 1
                tries[p] = tries.get(p, 0) + 1
                roll = rng.random()
                if roll < r429:
                    rate_limited = True
                    errors[p] = errors.get(p, 0) + 1
                elif roll < r429 + err:
                    errors[p] = errors.get(p, 0) + 1
                else:
                    success = True
                    break
            if success:
                served = tier
                fell_back = hop > 0
                if fell_back and any(e.sticky_fallback for e, _ in effects):
                    # Only the first fallback of a session is an "event".
                    fell_back = session not in self.sticky
                    self.sticky.add(session)
                break
        if served is None:
            return Record(
                self.t,
                route.name,
                "none",
                None,
                False,
                attempts,
                False,
                False,
                rate_limited,
                errors,
                tries,
                0.0,
                0.0,
                0.0,
                False,
                0.0,
                0,
            )
        p = served.provider
        self.last_served[(route.name, served.key)] = self.t
        refusal = BASE_REFUSAL.get(p, 0.01)
        for e, age in effects:
            if p in e.provider_refusals:
                refusal = max(refusal, e.provider_refusals[p])
            refusal += e.refusal_drift_per_min.get(p, 0.0) * age / 60.0
        refused = rng.random() < min(refusal, 0.95)
        ttft = rng.lognormvariate(5.9, 0.35)  # ~365 ms median
        reasoning = [e for e, _ in effects if e.only_model in (None, served.model)]
        hidden = sum(e.hidden_reasoning_s for e in reasoning) * 1000.0
        ttfv = ttft + (hidden * rng.uniform(0.85, 1.25) if hidden else rng.uniform(5, 40))
        cache_rate = route.cache_hit
        for e, _ in effects:
            if e.cache_hit is not None:
                cache_rate = e.cache_hit
        cache_hit = rng.random() < cache_rate
        tenant = f"tenant-{rng.randrange(40):02d}"
        for e, _ in effects:
            if e.tenant is not None and rng.random() < 0.6:
                tenant = e.tenant  # the launch: one tenant suddenly sends most traffic
        tokens_in = rng.randint(800, 3000)
        reasoning_tokens = sum(e.reasoning_tokens for e in reasoning)
        tokens_out = rng.randint(80, 500) + reasoning_tokens
        repairs = max((e.structured_repairs for e, _ in effects), default=0)
        calls = attempts + repairs
        price = PRICE_PER_1K.get(p, 0.005)
        billed_in = tokens_in * (0.1 if cache_hit else 1.0)
        cost = (billed_in + tokens_out) / 1000 * price * calls
        burn = max((e.quota_burn.get(p, 1.0) for e, _ in effects), default=1.0)
        self.quota_used[p] = self.quota_used.get(p, 0.0) + (tokens_in + tokens_out) * burn
        chunk = NORMAL_CHUNK_CHARS
        for e in reasoning:  # like latency: only while the affected model serves
            if e.chunk_chars is not None:
                chunk = e.chunk_chars
        rec = Record(
            self.t,
            route.name,
            served.key,
            p,
            True,
            attempts,
            fell_back,
            refused,
            rate_limited,
            errors,
            tries,
            ttft,
            ttfv,
            chunk * rng.uniform(0.8, 1.2),
            cache_hit,
            cost,
            tokens_in + tokens_out,
        )
        rec.session, rec.tenant, rec.reasoning_tokens = session, tenant, reasoning_tokens
        self._retrieval_and_feedback(route, rec, effects)
        return rec

    def _retrieval_and_feedback(
        self, route: RouteState, rec: Record, effects: list[tuple[Effects, float]]
    ) -> None:
        """How old the data the answer used was, and what the user thought of it."""
        aux = self.aux_rng
        stale = False
        if route.agentic:
            age = aux.lognormvariate(math.log(DATA_AGE_MEDIAN_S), DATA_AGE_SIGMA)
            cache_rate = route.tool_cache_hit
            for e, since in effects:
                if e.index_stalled_s:
                    age += e.index_stalled_s + since  # nothing new since the stall
                if e.tool_cache_hit is not None:
                    cache_rate = e.tool_cache_hit
            rec.data_age_s = round(age, 1)
            rec.tool_cache_hit = aux.random() < cache_rate
            stale = route.freshness_slo_s is not None and age > route.freshness_slo_s
        negative = FEEDBACK_NEGATIVE
        negative += FEEDBACK_NEGATIVE_REFUSED if rec.refused else 0.0
        negative += FEEDBACK_NEGATIVE_STALE if stale else 0.0
        rec.negative_feedback = aux.random() < negative

    def reset_quotas(self) -> None:
        """Quotas reset at midnight on each provider's own clock."""
        for provider in list(self.quota_used):
            resets = self.quota_resets_at(provider)
            last = self.quota_reset_seen.get(provider)
            if last is not None and last != resets:
                self.quota_used[provider] = 0.0
            self.quota_reset_seen[provider] = resets

    def prune(self) -> None:
        horizon = self.t - RECORD_HORIZON_S
        while self.records and self.records[0].t < horizon:
            self.records.popleft()

    # -------------------------------------------------------------- status

    def quota_resets_at(self, provider: str) -> datetime:
        tz = ZoneInfo(PROVIDER_TZ.get(provider, "UTC"))
        local = self.now().astimezone(tz)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight

    def status(self, route: RouteState, window_s: int) -> RouteStatus:
        since = self.t - window_s
        # Records are appended in time order: walk back from the newest and
        # stop at the window's start instead of scanning the whole hour.
        recs = []
        for r in reversed(self.records):
            if r.t < since:
                break
            if r.route == route.name:
                recs.append(r)
        recs.reverse()
        n = len(recs)
        tiers: dict[str, int] = {}
        for r in recs:
            tiers[r.tier] = tiers.get(r.tier, 0) + 1
        all_tiers = [route.primary.key, *(f.key for f in route.fallbacks)]
        mix = []
        for key in [*all_tiers, *(k for k in tiers if k not in all_tiers)]:
            last = self.last_served.get((route.name, key))
            mix.append(
                TierShare(
                    tier=key,
                    share=(tiers.get(key, 0) / n) if n else 0.0,
                    requests=tiers.get(key, 0),
                    last_served_at=self.start + timedelta(seconds=last)
                    if last is not None
                    else None,
                )
            )
        providers = sorted(
            {p for r in recs for p in r.tries_by_provider} | {route.primary.provider}
        )
        rates = []
        for p in providers:
            tried = sum(r.tries_by_provider.get(p, 0) for r in recs)
            failed = sum(r.errors_by_provider.get(p, 0) for r in recs)
            served = [r for r in recs if r.provider == p]
            limited = sum(1 for r in recs if r.rate_limited and p in r.errors_by_provider)
            rates.append(
                ProviderRates(
                    provider=p,
                    requests=len(served),
                    error_rate=_ratio(failed, tried),
                    fallback_rate=_ratio(
                        sum(1 for r in recs if r.fell_back and p in r.errors_by_provider), n
                    ),
                    refusal_rate=_ratio(sum(1 for r in served if r.refused), len(served)),
                    refusal_baseline=BASE_REFUSAL.get(p),
                    rate_429=_ratio(limited, tried),
                )
            )
        ok = [r for r in recs if r.ok and r.tier != "none"]
        ttft = sorted(r.ttft_ms for r in ok)
        ttfv = sorted(r.ttfv_ms for r in ok)
        successes = sum(1 for r in ok if not r.refused)
        attempts = sum(r.attempts for r in recs if r.tier != "none" or r.attempts)
        ai_requests = sum(1 for r in recs if r.attempts)
        quotas = tuple(
            Quota(
                provider=p,
                remaining=max(int(QUOTA_LIMIT.get(p, 0) - self.quota_used.get(p, 0.0)), 0),
                limit=QUOTA_LIMIT.get(p),
                resets_at=self.quota_resets_at(p),
                provider_timezone=PROVIDER_TZ.get(p, "UTC"),
            )
            for p in sorted({route.primary.provider, *(f.provider for f in route.fallbacks)})
        )
        notable = tuple(r.trace_id for r in recs[-200:] if r.trace_id and _notable(r))[-5:]
        ages = sorted(r.data_age_s for r in ok if r.data_age_s is not None)
        slo = route.freshness_slo_s
        return RouteStatus(
            route=route.name,
            window_s=window_s,
            requests_per_s=n / window_s if window_s else 0.0,
            tier_mix=tuple(mix),
            tier_slo=route.tier_slo,
            providers=tuple(rates),
            error_rate=_ratio(sum(1 for r in recs if not r.ok), n),
            fallback_rate=_ratio(sum(1 for r in recs if r.fell_back), n),
            refusal_rate=_ratio(sum(1 for r in ok if r.refused), len(ok)),
            rate_429=_ratio(sum(1 for r in recs if r.rate_limited), n),
            ttft=_pct(ttft),
            ttfv=_pct(ttfv),
            chunk_chars_p50=_median([r.chunk_chars for r in ok]),
            cache_hit_rate=_ratio(sum(1 for r in ok if r.cache_hit), len(ok)),
            retry_amplification=(attempts / ai_requests) if ai_requests else None,
            cost_per_success_usd=(sum(r.cost_usd for r in recs) / successes) if successes else None,
            quotas=quotas,
            kill_switch=route.kill_switch,
            serving_version=route.version,
            notable_traces=notable,
            data_age_p50_s=_at(ages, 0.5),
            data_age_p95_s=_at(ages, 0.95),
            data_freshness_slo_s=slo,
            stale_data_rate=_ratio(sum(1 for a in ages if a > slo), len(ages))
            if slo is not None
            else None,
            tool_cache_hit_rate=_ratio(
                sum(1 for r in ok if r.data_age_s is not None and r.tool_cache_hit), len(ages)
            ),
            negative_feedback_rate=_ratio(sum(1 for r in ok if r.negative_feedback), len(ok)),
        )


def _notable(r: Record) -> bool:
    return r.notable or (not r.ok) or r.refused or r.fell_back or r.attempts > 1


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[len(values) // 2]


def _at(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def _pct(sorted_ms: list[float]) -> Percentiles:
    if not sorted_ms:
        return Percentiles()
    n = len(sorted_ms)
    return Percentiles(
        p50_ms=round(sorted_ms[n // 2], 1), p95_ms=round(sorted_ms[min(n - 1, int(n * 0.95))], 1)
    )


def default_routes(start: datetime = BASE_TIME) -> dict[str, RouteState]:
    def versions(*items: tuple[str, ModelRef, int, str]) -> dict[str, RouteVersion]:
        return {
            v: RouteVersion(v, ref, start - timedelta(days=days), note)
            for v, ref, days, note in items
        }

    sonnet = ModelRef("anthropic", "claude-sonnet", "2025-05-14")
    return {
        "support-chat": RouteState(
            "support-chat",
            "Customer support assistant",
            versions(
                ("v1", ModelRef("openai", "gpt-4o", "2024-08-06"), 120, "launch"),
                ("v2", ModelRef("anthropic", "claude-sonnet", "2024-10-22"), 60, "switch provider"),
                ("v3", sonnet, 14, "model refresh"),
            ),
            "v3",
            (ModelRef("openai", "gpt-4o", "2024-08-06"), ModelRef("openai", "gpt-4o-mini")),
            rps=8.0,
            cache_hit=0.62,
        ),
        "search-summary": RouteState(
            "search-summary",
            "Summaries on the search page",
            versions(("v7", ModelRef("openai", "gpt-4o-mini", "2024-07-18"), 30, "cheaper tier")),
            "v7",
            (ModelRef("google", "gemini-flash", "2.0"),),
            rps=12.0,
            cache_hit=0.4,
        ),
        "agent-assist": RouteState(
            "agent-assist",
            "Agentic assistant with tools",
            versions(
                ("v1", ModelRef("anthropic", "claude-sonnet", "2025-05-14"), 90, "launch"),
                ("v2", ModelRef("openai", "o3", "2025-04-16"), 20, "reasoning model"),
            ),
            "v2",
            (ModelRef("anthropic", "claude-sonnet", "2025-05-14"),),
            rps=3.0,
            cache_hit=0.5,
            agentic=True,
            tool_cache_hit=0.2,
            freshness_slo_s=3600.0,
            tool_descriptions={
                "search_kb": "Search the support knowledge base; returns matching articles.",
                "lookup_order": "Look up an order by id; returns its status and items.",
            },
        ),
        "doc-extract": RouteState(
            "doc-extract",
            "Structured extraction from uploaded documents",
            versions(("v5", ModelRef("openai", "gpt-4o", "2024-08-06"), 45, "json schema mode")),
            "v5",
            (ModelRef("anthropic", "claude-haiku"),),
            rps=2.0,
            cache_hit=0.3,
            structured=True,
        ),
    }
