"""The console's onset window: the last hour in whole buckets, ending at the
later of our clock and the gateway's (a simulator at speed runs ahead)."""

from __future__ import annotations

from datetime import timedelta

from oncall_tui.core.gateway import ModelRef, Route, RoutesResponse, RouteVersion
from oncall_tui.sources.onset_recent import recent_window, window_query
from tests.tui.fakes import CLOCK
from tests.tui.onset_fleet import OnsetStore, fleet

NS = 1_000_000_000
MIN = 60 * NS


def test_the_window_is_whole_buckets_the_last_holding_now() -> None:
    now = int(CLOCK.timestamp() * NS) + 2 * MIN + 7 * NS  # 08:02:07
    q = window_query(now)
    assert q.until_ns == int(CLOCK.timestamp() * NS) + 5 * MIN  # 08:05
    assert q.until_ns - q.since_ns == 60 * MIN and q.bucket_ns == 5 * MIN
    assert q.sample_per_bucket == 20


class AheadGateway:
    """A gateway whose clock reads 08:00 and whose route went v1 -> v2 at 07:30
    (and v0 -> v1 a week before: outside any look-back)."""

    async def status(self, window_s: int = 300):  # pragma: no cover - not read here
        raise AssertionError

    async def routes(self) -> RoutesResponse:
        ref = ModelRef("openai", "gpt-x")
        history = (
            RouteVersion("v0", ref, CLOCK - timedelta(days=8)),
            RouteVersion("v1", ref, CLOCK - timedelta(days=7)),
            RouteVersion("v2", ref, CLOCK - timedelta(minutes=30)),
        )
        return RoutesResponse(
            gateway_time=CLOCK,
            routes=(Route(name="support-chat", primary=ref, version="v2", history=history),),
        )


async def test_the_gateway_clock_ahead_of_ours_ends_the_window() -> None:
    ours = int((CLOCK - timedelta(hours=3)).timestamp() * NS)  # we are 3 h behind the sim
    window, warnings = await recent_window(OnsetStore(fleet()), ours, gateway=AheadGateway())
    assert warnings == []
    assert window.query.until_ns == int(CLOCK.timestamp() * NS) + 5 * MIN
    serving = [c for c in window.changes if c.kind == "serving_version"]
    assert [(c.before, c.after) for c in serving] == [("v1", "v2")]  # last week's left out
    assert any(c.kind == "tool_definition" for c in window.changes)
    assert window.method == "sampled"
