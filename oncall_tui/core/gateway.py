"""The gateway control protocol's messages (docs/protocol.md), as msgspec Structs.

One set of types for the simulator (server side), the ``native`` adapter
(client side), the CLI's ``--json`` and the TUI. Adapters for other gateways
(LiteLLM, ...) map their system's answers onto the same Structs, filling only
what their system knows: every figure a gateway may not have is optional, and
``None`` means "unknown", never zero.

Times on the wire are RFC 3339 strings with an offset (the gateway's own clock
and zone); msgspec decodes them into aware ``datetime``. ``received_at`` is
stamped by the client on arrival, so the age of every figure is visible.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Literal

import msgspec

PROTOCOL_VERSION = "1"

ActionKind = Literal["kill_switch", "rollback", "failover", "restore"]
ActionState = Literal["accepted", "applied", "failed", "rejected"]


class ModelRef(msgspec.Struct, frozen=True, omit_defaults=True):
    """One serving tier: a provider's model at a version."""

    provider: str
    model: str
    version: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


class RouteVersion(msgspec.Struct, frozen=True, omit_defaults=True):
    """One entry of a route's serving history; rollback targets one of these."""

    version: str  # the route's config version id, e.g. "v12"
    primary: ModelRef
    deployed_at: datetime
    note: str | None = None


class Route(msgspec.Struct, frozen=True, omit_defaults=True):
    """An AI route (a product feature) and how it is configured to serve."""

    name: str
    primary: ModelRef
    version: str  # current config version (an entry of ``history``)
    fallbacks: tuple[ModelRef, ...] = ()
    kill_switch: bool = False  # True: the AI path is off, the route serves its non-AI fallback
    history: tuple[RouteVersion, ...] = ()
    description: str | None = None
    failover_to: str | None = None  # a tier (ModelRef.key) a failover action forced first


class RoutesResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    gateway_time: datetime
    routes: tuple[Route, ...]
    protocol: str = PROTOCOL_VERSION


class TierShare(msgspec.Struct, frozen=True, omit_defaults=True):
    """Share of the window's requests that one tier actually served."""

    tier: str  # ModelRef.key, or "none" for requests no tier served
    share: float  # 0..1
    requests: int = 0
    last_served_at: datetime | None = None  # fallback atrophy: when this path last served


class ProviderRates(msgspec.Struct, frozen=True, omit_defaults=True):
    provider: str
    requests: int = 0
    error_rate: float | None = None
    fallback_rate: float | None = None  # share of requests that fell back away from it
    refusal_rate: float | None = None
    refusal_baseline: float | None = None  # its own rate over the trailing baseline window
    rate_429: float | None = None


class Percentiles(msgspec.Struct, frozen=True, omit_defaults=True):
    p50_ms: float | None = None
    p95_ms: float | None = None


class Quota(msgspec.Struct, frozen=True, omit_defaults=True):
    provider: str
    remaining: int | None = None
    limit: int | None = None
    resets_at: datetime | None = None  # in the provider's own zone (offset kept)
    provider_timezone: str | None = None  # IANA name, e.g. "America/Los_Angeles"


class RouteStatus(msgspec.Struct, frozen=True, omit_defaults=True):
    route: str
    window_s: int
    requests_per_s: float = 0.0
    tier_mix: tuple[TierShare, ...] = ()
    tier_slo: float | None = None  # wanted minimum share of the primary tier
    providers: tuple[ProviderRates, ...] = ()
    error_rate: float | None = None
    fallback_rate: float | None = None
    refusal_rate: float | None = None
    rate_429: float | None = None
    ttft: Percentiles = Percentiles()  # time to first token (any token, reasoning included)
    ttfv: Percentiles = Percentiles()  # time to first visible token: what users feel
    chunk_chars_p50: float | None = None  # stream chunk size
    cache_hit_rate: float | None = None
    retry_amplification: float | None = None  # upstream attempts per client request
    cost_per_success_usd: float | None = None
    quotas: tuple[Quota, ...] = ()
    kill_switch: bool = False
    serving_version: str | None = None
    notable_traces: tuple[str, ...] = ()  # trace ids worth opening
    # Stale retrieval: how old the data retrieval/tool calls handed the model
    # was (seconds, over answered requests that retrieved), against the
    # route's freshness promise; and how answers landed with users.
    data_age_p50_s: float | None = None
    data_age_p95_s: float | None = None
    data_freshness_slo_s: float | None = None  # the oldest data the route's answers may use
    stale_data_rate: float | None = None  # share of retrievals older than that promise
    tool_cache_hit_rate: float | None = None  # share of tool results a result cache answered
    negative_feedback_rate: float | None = None  # share of answers users marked unhelpful


class StatusResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    gateway_time: datetime
    window_s: int
    routes: tuple[RouteStatus, ...]
    protocol: str = PROTOCOL_VERSION
    received_at: datetime | None = None  # stamped by the client, never sent


class Alert(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    route: str
    kind: str  # e.g. "tier_mix_below_slo", "refusal_drift", "quota_low", "cycle"
    severity: Literal["info", "low", "medium", "high", "critical"]
    summary: str
    started_at: datetime
    resolved_at: datetime | None = None
    trace_ids: tuple[str, ...] = ()
    value: float | None = None  # the figure the summary quotes (a share, seconds, a count)
    updated_at: datetime | None = None  # set when summary/value moved while firing


class ActionRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """Body of POST /v1/routes/{route}/{kill-switch|rollback|failover}.

    The idempotency key travels in the ``Idempotency-Key`` header.
    """

    reason: str
    actor: str
    enabled: bool | None = None  # kill-switch: True turns the switch on (AI off)
    to_version: str | None = None  # rollback
    to_tier: str | None = None  # failover: a ModelRef.key from the fallback chain, or None


class ActionRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    kind: ActionKind
    route: str
    state: ActionState
    actor: str
    reason: str
    idempotency_key: str
    requested_at: datetime
    applied_at: datetime | None = None
    before: dict[str, str | bool | None] = {}  # the prior state the action replaced
    after: dict[str, str | bool | None] = {}
    detail: str | None = None


class Event(msgspec.Struct, frozen=True, omit_defaults=True):
    """One message on WS /v1/events. ``seq`` increases by one per event;
    a client reconnects with ``?since=SEQ`` and gets everything after it
    (or a ``reset`` event when the server no longer holds that far back)."""

    seq: int
    type: Literal["hello", "status", "alert", "action", "trace", "reset"]
    gateway_time: datetime
    status: StatusResponse | None = None
    alert: Alert | None = None
    action: ActionRecord | None = None
    trace_id: str | None = None
    route: str | None = None
    detail: str | None = None
    #: On ``hello``: names the run of the sequence; a new one means the
    #: gateway restarted and counts from 1 again (resync from its start).
    epoch: str | None = None


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every non-2xx answer: ``{"error": {"code": ..., "message": ...}}``."""

    code: str  # "unauthorized", "forbidden", "not_found", "conflict", "invalid"
    message: str
    field: str | None = None


class ErrorResponse(msgspec.Struct, frozen=True):
    error: ErrorBody


def schema() -> dict[str, object]:
    """JSON Schema of every message, published in docs/protocol.schema.json."""
    _, defs = msgspec.json.schema_components(
        [RoutesResponse, StatusResponse, Event, ActionRequest, ActionRecord, ErrorResponse],
        ref_template="#/$defs/{name}",
    )
    # Descriptions come from docstrings, which msgspec releases pass on either
    # cleaned or raw; cleaned here so the published file does not depend on it.
    for body in defs.values():
        if isinstance(body.get("description"), str):
            body["description"] = inspect.cleandoc(body["description"])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs}
