"""Route status derived from gateway traces (core/trace_metrics.py)."""

from __future__ import annotations

from oncall_tui.core.assemble import assemble
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import Span, StatusCode, Trace
from oncall_tui.core.trace_metrics import route_stats


def _request(n: int, attempts: list[tuple[str, str, StatusCode]], ms: int = 100) -> Trace:
    tid = f"{n:032x}"
    spans = [Span(tid, f"{n:08x}00000000", None, "Received Proxy Server Request", 0, ms * 10**6)]
    for i, (group, model, status) in enumerate(attempts, start=1):
        attrs = {"litellm.model_group": group, "gen_ai.response.model": model}
        spans.append(
            Span(
                tid,
                f"{n:08x}{i:08x}",
                spans[0].span_id,
                "litellm_request",
                i * 10**6,
                (i + 1) * 10**6,
                status=status,
                attributes=attrs,
                gen_ai=genai_view(attrs),
            )
        )
    [trace] = assemble(spans, source="test")
    return trace


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
