"""What `gateway status` prints beyond the table (cli/gateway_cmd.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall_tui.core.gateway import RouteStatus, StatusResponse, TierShare
from oncall_tui.core.status_notes import atrophy_lines

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _route(name: str, *tiers: TierShare) -> RouteStatus:
    return RouteStatus(route=name, window_s=300, tier_mix=tiers)


def test_fallbacks_that_have_not_served_lately_are_named() -> None:
    """A fallback nobody has exercised for days may be broken when it is
    finally needed: the responder sees it before failing over to it."""
    status = StatusResponse(
        gateway_time=NOW,
        window_s=300,
        routes=(
            _route(
                "support-chat",
                TierShare("anthropic/claude", 1.0, 90, NOW),
                TierShare("openai/gpt-4o", 0.0, 0, NOW - timedelta(days=9)),
                TierShare("openai/gpt-4o-mini", 0.0, 0, None),
            ),
            _route(
                "search",
                TierShare("openai/gpt-4o-mini", 0.9, 90, NOW),
                TierShare("google/gemini-flash", 0.1, 10, NOW),  # serving now
                TierShare("local/llama", 0.0, 0, NOW - timedelta(hours=2)),  # recent enough
            ),
        ),
    )
    assert atrophy_lines(status) == [
        "untested fallback of support-chat: openai/gpt-4o (last served 9 days ago), "
        "openai/gpt-4o-mini (never seen serving)"
    ]


def test_a_primary_that_is_idle_is_not_an_untested_fallback() -> None:
    status = StatusResponse(
        gateway_time=NOW,
        window_s=300,
        routes=(_route("quiet", TierShare("openai/gpt-4o", 0.0, 0, None)),),
    )
    assert atrophy_lines(status) == []


def test_durations_read_as_a_person_says_them() -> None:
    from oncall_tui.core.text import duration_text

    assert [duration_text(s) for s in (2400, 93_600, 5_400, 777_600, 216_000)] == [
        "40 min",
        "26 h",
        "1.5 h",
        "9 days",
        "2.5 days",
    ]


def test_data_age_line_speaks_in_the_units_the_alert_uses() -> None:
    from oncall_tui.core.status_notes import data_age_lines

    row = RouteStatus(
        route="agent-assist",
        window_s=60,
        data_age_p50_s=11_520,
        data_freshness_slo_s=3_600,
        stale_data_rate=1.0,
        tool_cache_hit_rate=0.9,
    )
    status = StatusResponse(gateway_time=NOW, window_s=60, routes=(row,))
    assert data_age_lines(status) == [
        "data age agent-assist: median 3.2 h, promise 1 h, 100% of retrievals older; "
        "tool cache answers 90%"
    ]
