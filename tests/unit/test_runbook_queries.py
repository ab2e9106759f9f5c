"""What a check sees: status figures as plain data, with the derived figures a
responder thinks in; and the alert kinds a bare status implies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall_tui.core.data_age import data_age_s
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
from oncall_tui.core.models import Span
from oncall_tui.runbook import expr
from oncall_tui.runbook.queries import status_values
from oncall_tui.runbook.signals import implied_alerts

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
A = ModelRef("anthropic", "claude")
OAI = ModelRef("openai", "gpt")
ROUTE = Route(
    "chat", A, "v4", (OAI,),
    history=(RouteVersion("v3", A, NOW - timedelta(days=9)),
             RouteVersion("v4", A, NOW - timedelta(minutes=30))),
)  # fmt: skip
STATUS = RouteStatus(
    "chat", 300,
    tier_mix=(TierShare(A.key, 0.3), TierShare(OAI.key, 0.7)),
    tier_slo=0.8,
    providers=(ProviderRates("anthropic", 100, error_rate=0.6, refusal_rate=0.09,
                             refusal_baseline=0.01),
               ProviderRates("openai", 70, error_rate=0.01)),
    ttft=Percentiles(200, 400), ttfv=Percentiles(None, 5400),
    quotas=(Quota("openai", remaining=50, limit=1000,
                  resets_at=datetime(2026, 11, 24, 0, 30, tzinfo=UTC) + timedelta(hours=8)),),
    retry_amplification=1.9,
    cache_hit_rate=None,
)  # fmt: skip


def test_status_values_keeps_unknowns_and_derives_figures() -> None:
    v = status_values(STATUS, ROUTE, NOW)
    assert v["cache_hit_rate"] is None  # unknown stays unknown, never 0
    assert v["primary"] == "anthropic/claude" and v["primary_share"] == 0.3
    assert v["top_tier"] == "openai/gpt" and v["top_provider"] == "openai"
    assert v["primary_rates"]["error_rate"] == 0.6
    assert v["fallbacks"] == ["openai/gpt"] and v["fallback_error_rate"] == 0.01
    assert v["version"] == "v4" and v["previous_version"] == "v3"
    assert v["last_deploy_age_s"] == 1800
    assert v["ttfv_gap_ms"] == 5000
    assert v["quotas"][0]["remaining_share"] == 0.05
    assert v["quotas"][0]["resets_in_s"] == 1800
    assert v["ttfv"]["p50_ms"] is None


def test_runbook_style_expressions_over_status_values() -> None:
    v = status_values(STATUS, ROUTE, NOW)
    assert expr.run("primary_share < default(tier_slo, 0.9)", v) is True
    assert expr.run("primary_rates.refusal_rate > 2 * primary_rates.refusal_baseline", v)
    assert expr.run("min(quotas.remaining_share) < 0.1", v)
    assert expr.run("first(fallbacks)", v) == "openai/gpt"


def test_status_without_route_config_says_unknown() -> None:
    v = status_values(STATUS, None, NOW)
    assert v["primary_share"] is None and v["previous_version"] is None


def test_implied_alerts_from_a_bare_status() -> None:
    kinds = implied_alerts(STATUS, ROUTE)
    assert kinds == [
        "hidden_reasoning_latency", "provider_errors", "quota_low", "refusal_drift",
        "retry_amplification", "tier_mix_below_slo",
    ]  # fmt: skip
    healthy = RouteStatus("chat", 300, tier_mix=(TierShare(A.key, 0.99),), tier_slo=0.8)
    assert implied_alerts(healthy, ROUTE) == []
    stale = RouteStatus("rag", 300, stale_data_rate=0.9, data_age_p50_s=11000.0)
    assert implied_alerts(stale, None) == ["stale_data"]
    fresh = RouteStatus("rag", 300, stale_data_rate=0.0, data_age_p50_s=400.0)
    assert implied_alerts(fresh, None) == []


def _span(attrs: dict[str, object], start_s: float = 1_800_000_000.0) -> Span:
    ns = int(start_s * 1e9)
    return Span(trace_id="a" * 32, span_id="b" * 16, parent_id=None, name="execute_tool search",
                start_ns=ns, end_ns=ns + 1, attributes=attrs)  # fmt: skip


def test_data_age_from_the_stated_age_or_openinference_document_metadata() -> None:
    assert data_age_s(_span({"retrieval.document.age_s": 7200.5})) == 7200.5
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    docs = {
        "retrieval.documents.0.document.metadata": '{"indexed_at": "2026-11-24T11:00:00Z"}',
        "retrieval.documents.1.document.metadata": '{"indexed_at": "2026-11-23T12:00:00"}',
    }
    assert data_age_s(_span(docs, start.timestamp())) == 86400.0  # the oldest document
    # Nothing stated, junk, or hostile: no age (never a guess, never a crash).
    for attrs in (
        {},
        {"retrieval.document.age_s": "old"},
        {"retrieval.document.age_s": float("nan")},
        {"retrieval.document.age_s": True},
        {"retrieval.documents.0.document.metadata": "{not json"},
        {"retrieval.documents.0.document.metadata": '{"indexed_at": 12}'},
        {"retrieval.documents.0.document.metadata": "[" * 5000 + "]" * 5000},
    ):
        assert data_age_s(_span(attrs)) is None, attrs
