"""Route status derived from gateway traces (core/trace_metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall_tui.core.gateway import RouteStatus, StatusResponse, TierShare
from oncall_tui.core.models import Trace
from oncall_tui.core.trace_metrics import fill_status, route_stats
from tests.builders import gateway_request

_request = gateway_request


def test_fallback_error_and_tier_mix_per_requested_route() -> None:
    traces = [
        _request(1, [("primary", "m-09", "error"), ("secondary", "m-11", "ok")], ms=300),
        _request(2, [("primary", "m-09", "ok")], ms=100),
        _request(3, [("primary", "m-09", "error")], ms=200),
        _request(4, [("secondary", "m-11", "unset")]),
        Trace("f" * 32, []),  # no attempts: not a gateway request
    ]
    stats = {r.route: r for r in route_stats(traces)}
    p = stats["primary"]
    assert (p.requests, p.fallbacks, p.errors) == (3, 1, 1)
    assert abs(p.fallback_rate - 1 / 3) < 1e-9 and abs(p.error_rate - 1 / 3) < 1e-9
    assert [(t.tier, t.requests) for t in p.served_by] == [
        ("primary/m-09", 1),
        ("secondary/m-11", 1),
    ]
    assert p.latency_p50_ms == 200.0 and p.latency_p95_ms == 300.0
    s = stats["secondary"]
    assert (s.requests, s.fallbacks, s.errors) == (1, 0, 0)
    assert list(stats) == ["primary", "secondary"]  # busiest first


def _status(*rows: RouteStatus) -> StatusResponse:
    return StatusResponse(gateway_time=datetime(2026, 11, 24, tzinfo=UTC), window_s=0, routes=rows)


def test_traces_fill_only_what_the_gateway_cannot_say() -> None:
    """LiteLLM knows deployment health (its error_rate), not which tier served:
    the traces fill the tier mix and fallback rate and leave its figures alone."""
    stats = route_stats(
        [
            _request(1, [("primary", "m-09", "error"), ("secondary", "m-11", "ok")]),
            _request(2, [("primary", "m-09", "ok")]),
            _request(3, [("primary", "m-09", "error")]),
            _request(4, [("other", "m-1", "ok")]),
        ]
    )
    status = _status(
        RouteStatus(route="primary", window_s=0, error_rate=0.5),
        RouteStatus(
            route="secondary",
            window_s=0,
            tier_mix=(TierShare("secondary/m-11", 1.0, 3),),
            fallback_rate=0.0,
        ),
    )
    out, filled = fill_status(status, stats, window_s=60)
    primary, secondary = out.routes
    assert filled == ["primary"]
    assert primary.error_rate == 0.5  # the gateway's own figure wins
    assert primary.fallback_rate == 1 / 3
    assert [(t.tier, t.requests) for t in primary.tier_mix] == [
        ("primary/m-09", 1),
        ("secondary/m-11", 1),
        ("none", 1),  # one request no tier served
    ]
    assert abs(sum(t.share for t in primary.tier_mix) - 1.0) < 1e-9
    assert primary.requests_per_s == 3 / 60
    assert secondary == status.routes[1]  # had everything: untouched
    assert [r.route for r in out.routes] == ["primary", "secondary"]  # "other" is not listed


def test_no_traces_for_a_route_leaves_it_as_the_gateway_said() -> None:
    status = _status(RouteStatus(route="quiet", window_s=0))
    out, filled = fill_status(status, [], window_s=60)
    assert filled == [] and out == status


def test_the_routes_own_tier_comes_first_even_when_it_served_nothing() -> None:
    """Readers take tier_mix[0] as the primary: a route whose every request
    fell back must show its primary at 0%, not the busiest fallback."""
    stats = route_stats(
        [
            _request(1, [("chat", "m-09", "error"), ("backup", "m-11", "ok")]),
            _request(2, [("chat", "m-09", "error"), ("backup", "m-11", "ok")]),
        ]
    )
    out, _ = fill_status(_status(RouteStatus(route="chat", window_s=0)), stats, window_s=60)
    assert [(t.tier, t.share) for t in out.routes[0].tier_mix] == [
        ("chat", 0.0),
        ("backup/m-11", 1.0),
    ]
