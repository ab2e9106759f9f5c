"""A gateway with fixed figures, for screens whose snapshot must not move.

It answers like an adapter (GatewayStatus, alerts, KillSwitch) but holds its
state in memory; the live behaviour is tested against the real simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from oncall_tui.core.gateway import (
    ActionRecord,
    Alert,
    ModelRef,
    Percentiles,
    ProviderRates,
    Quota,
    Route,
    RoutesResponse,
    RouteStatus,
    StatusResponse,
    TierShare,
)
from oncall_tui.tui.overview import REPAINT_S

CLOCK = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
EVIL = "\x1b]0;pwned\x07\x1b[31m[bold]boom[/bold]"


class FixedGateway:
    def __init__(
        self,
        *,
        hostile: bool = False,
        stamp: datetime | None = None,
        alerting: bool = True,
        primary_share: float = 0.41,
    ) -> None:
        self.primary_share = primary_share
        self.alerting = alerting
        self.stamp = stamp  # received_at to report; None: now
        self.kill = {"support-chat": False, "search-summary": False}
        self.hostile = hostile
        self.calls: list[tuple[str, bool]] = []

    async def routes(self) -> RoutesResponse:
        ref = ModelRef("openai", "gpt-x")
        return RoutesResponse(
            gateway_time=CLOCK,
            routes=tuple(
                Route(name=n, primary=ref, version="v3", fallbacks=(ModelRef("anthropic", "c"),))
                for n in self.kill
            ),
        )

    def _route(self, name: str, share: float, refusal: float) -> RouteStatus:
        la = timezone(timedelta(hours=-8))
        return RouteStatus(
            route=name,
            window_s=60,
            requests_per_s=12.5,
            tier_mix=(TierShare("openai/gpt-x", share), TierShare("anthropic/c", 1 - share)),
            tier_slo=0.9,
            providers=(ProviderRates("openai", 100, refusal_rate=refusal, refusal_baseline=0.01),),
            error_rate=0.02,
            fallback_rate=1 - share,
            refusal_rate=refusal,
            rate_429=0.05,
            ttft=Percentiles(400, 900),
            ttfv=Percentiles(600, 1200),
            cache_hit_rate=0.7,
            retry_amplification=1.3,
            quotas=(
                Quota(
                    "openai",
                    remaining=50,
                    limit=1000,
                    resets_at=datetime(2026, 11, 24, 1, 0, tzinfo=la),
                    provider_timezone="America/Los_Angeles",
                ),
            ),
            kill_switch=self.kill[name],
            serving_version="v3",
        )

    async def status(self, window_s: int = 300) -> StatusResponse:
        return StatusResponse(
            gateway_time=CLOCK,
            window_s=window_s,
            routes=(
                self._route("support-chat", self.primary_share, 0.02),
                self._route("search-summary", 0.97, 0.08),
            ),
            received_at=self.stamp or datetime.now(UTC),
        )

    async def alerts(self) -> list[Alert]:
        if not self.alerting:
            return []
        summary = "support-chat: primary tier 41% < SLO 90%"
        if self.hostile:
            summary += EVIL
        return [
            Alert(
                id="a1",
                route="support-chat",
                kind="tier_mix_below_slo",
                severity="high",
                summary=summary,
                started_at=CLOCK,
            )
        ]

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append((route, enabled))
        before = self.kill[route]
        self.kill[route] = enabled
        return ActionRecord(
            id=f"act-{len(self.calls)}",
            kind="kill_switch",
            route=route,
            state="applied",
            actor=actor,
            reason=reason,
            idempotency_key=idempotency_key,
            requested_at=CLOCK,
            before={"kill_switch": before},
            after={"kill_switch": enabled},
        )


class StatusOnlyGateway(FixedGateway):
    """A gateway that can report but not act: no kill switch is offered."""

    set_kill_switch = None  # type: ignore[assignment]


async def overview_painted(pilot, tries: int = 60) -> None:
    """Wait until the overview's table shows routes (it repaints on a timer)."""
    for _ in range(tries):
        await pilot.pause(0.05)
        tables = pilot.app.screen.query("#routes")
        # Painted, and the runbook library loaded (the alert line names a runbook).
        if tables and tables.first().row_count and getattr(pilot.app.screen, "runbooks", None):
            await pilot.pause(REPAINT_S + 0.1)
            return
    raise AssertionError("the overview never painted its routes")


async def trace_shown(pilot, tries: int = 400) -> None:
    """Wait until the trace screen is up: the trace is analysed in a thread first."""
    from oncall_tui.tui.trace_screen import TraceScreen

    for _ in range(tries):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, TraceScreen):
            await pilot.pause()
            return
    raise AssertionError("the trace screen never opened")
