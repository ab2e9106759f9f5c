"""The incidents the simulator can stage, one per failure mode in DESIGN.md.

A scenario is data: which route it hits and how it bends the traffic model
(``Effects``). The fleet applies the effects of every active scenario to each
simulated request, and actions change the route's config, so an action
really changes what the next requests do: a kill switch stops the AI path,
a rollback leaves the bad version's effects behind, a failover skips the
broken provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Effects:
    # provider -> added error probability per attempt (5xx / timeouts)
    provider_errors: dict[str, float] = field(default_factory=dict)
    # provider -> added 429 probability per attempt
    provider_429: dict[str, float] = field(default_factory=dict)
    # provider -> refusal probability (replaces the baseline)
    provider_refusals: dict[str, float] = field(default_factory=dict)
    # refusal rise per simulated minute since the scenario started (drift)
    refusal_drift_per_min: dict[str, float] = field(default_factory=dict)
    sticky_fallback: bool = False  # a session that fell back stays on the fallback
    failover_mid_conversation: bool = False
    quota_burn: dict[str, float] = field(default_factory=dict)  # provider -> x normal burn
    hidden_reasoning_s: float = 0.0  # added time from first token to first visible token
    reasoning_tokens: int = 0
    reentrancy: bool = False  # tools call back into the model and other tools
    retries: int = 0  # extra client retries per request
    structured_repairs: int = 0  # times the model is re-asked to fix its JSON
    cache_hit: float | None = None  # replaces the route's cache hit rate
    tenant: str | None = None
    only_version: str | None = None  # effects apply only while this version serves
    chunk_chars: float | None = None  # median stream chunk size (characters)
    # latency, reasoning and chunking effects apply only when this model
    # serves (a failover or a rollback to another model leaves them behind)
    only_model: str | None = None
    # The retrieval index stopped ingesting this long before the scenario
    # started: every document retrieval returns is at least that old, and
    # older by the minute (routes with retrieval only).
    index_stalled_s: float = 0.0
    tool_cache_hit: float | None = None  # replaces the route's tool-result cache hit rate
    # A change mid-run: nothing of the scenario happens for this many sim
    # seconds after it starts; then its change (below) is made and its
    # effects begin, so ``trace onset`` sees a before and an after.
    change_after_s: float = 0.0
    # The change: a tool's description is rewritten (tool, new description),
    # as the traces' tool definitions show...
    tool_description: tuple[str, str] | None = None
    # ...or the route's primary model alias resolves to this dated snapshot
    # (no deploy on our side: the route's config version stays).
    model_snapshot: str | None = None
    reentrancy_share: float = 1.0  # share of requests whose tools re-enter (with reentrancy)


@dataclass(frozen=True)
class Scenario:
    name: str
    route: str
    summary: str
    effects: Effects
    runbook: str  # the runbook id that covers it (runbooks/)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "provider-outage",
            "support-chat",
            "Anthropic answers 5xx to most calls; the gateway fails over per request",
            Effects(provider_errors={"anthropic": 0.85}),
            "provider-outage",
        ),
        Scenario(
            "fallback-default",
            "support-chat",
            "Primary throttles quietly; sessions stick to the fallback, so the fallback "
            "tier serves a large share while the per-request fallback rate looks low",
            Effects(provider_429={"anthropic": 0.35}, sticky_fallback=True),
            "fallback-became-default",
        ),
        Scenario(
            "failover-refusals",
            "support-chat",
            "A failover mid-conversation moves users to a provider with a stricter "
            "safety policy: refusals jump inside one session",
            Effects(
                provider_errors={"anthropic": 0.5},
                provider_refusals={"openai": 0.14},
                failover_mid_conversation=True,
            ),
            "failover-refusal-shift",
        ),
        Scenario(
            "safety-drift",
            "search-summary",
            "The provider's refusal rate climbs with no deploy on our side",
            Effects(refusal_drift_per_min={"openai": 0.02}),
            "safety-drift",
        ),
        Scenario(
            "quota-exhaustion",
            "search-summary",
            "Quota burns 6x faster after a launch; 429s cluster before the provider's "
            "reset, which is midnight in the provider's timezone",
            Effects(quota_burn={"openai": 6.0}, provider_429={"openai": 0.25}),
            "quota-exhaustion",
        ),
        Scenario(
            "hidden-reasoning",
            "agent-assist",
            "First token is fast, first visible token is 6-9 s later: hidden reasoning",
            Effects(hidden_reasoning_s=7.0, reasoning_tokens=2400, only_model="o3"),
            "hidden-reasoning-latency",
        ),
        Scenario(
            "tool-reentrancy",
            "agent-assist",
            "A tool calls back into the model, which calls the tool again: reentrancy",
            Effects(reentrancy=True),
            "tool-reentrancy-loop",
        ),
        Scenario(
            "retry-storm",
            "search-summary",
            "Clients and gateway both retry the same provider: two upstream attempts per "
            "request on average, up to four, while fallbacks stay rare",
            Effects(provider_errors={"openai": 0.55}, retries=3),
            "retry-storm",
        ),
        Scenario(
            "structured-output-loop",
            "doc-extract",
            "The model's JSON fails validation; it is re-asked to fix it, three times",
            Effects(structured_repairs=3),
            "structured-output-retry-loop",
        ),
        Scenario(
            "cache-thrash",
            "support-chat",
            "A big tenant's launch evicts the prompt cache: hit rate falls, cost rises",
            Effects(cache_hit=0.04, tenant="megacorp"),
            "prompt-cache-thrash",
        ),
        Scenario(
            "stream-chunking",
            "search-summary",
            "The provider's streaming API update sends sub-token deltas: chunks shrink from "
            "~18 to ~3 characters at the same tokens per second, so answers stutter on "
            "slow links while first-token latency, throughput and errors look normal",
            Effects(chunk_chars=3.0, only_model="gpt-4o-mini"),
            "stream-chunking",
        ),
        Scenario(
            "stale-retrieval",
            "agent-assist",
            "The knowledge-base index stopped ingesting 3 h ago and a tool-result cache "
            "answers most calls: documents are older than the 1 h freshness promise and "
            "users mark answers unhelpful, while errors, latency and tier mix stay normal",
            Effects(index_stalled_s=3 * 3600.0, tool_cache_hit=0.9),
            "stale-retrieval",
        ),
        Scenario(
            "tool-description-change",
            "agent-assist",
            "15 min in, tool lookup_order's description is rewritten to invite the model "
            "back in; from then on a quarter of requests loop through it (reentrancy)",
            Effects(
                change_after_s=900.0,
                tool_description=(
                    "lookup_order",
                    "Look up an order by id. When unsure which order, ask the assistant to "
                    "search the knowledge base first and call this tool again.",
                ),
                reentrancy=True,
                reentrancy_share=0.25,
            ),
            "tool-reentrancy-loop",
        ),
        Scenario(
            "model-snapshot-change",
            "doc-extract",
            "15 min in, gpt-4o starts answering as a new dated snapshot (no deploy on our "
            "side); from then on it refuses far more often",
            Effects(
                change_after_s=900.0,
                model_snapshot="2024-11-20",
                provider_refusals={"openai": 0.3},
            ),
            "safety-drift",
        ),
        Scenario(
            "bad-model-upgrade",
            "support-chat",
            "Version v4 moved to a new model that errors and refuses more; roll back to v3",
            Effects(
                provider_errors={"anthropic": 0.09},
                provider_refusals={"anthropic": 0.08},
                only_version="v4",
            ),
            "bad-model-upgrade",
        ),
    )
}
