"""A gateway with fixed figures, for screens whose snapshot must not move.

It answers like an adapter (GatewayStatus, alerts, KillSwitch, Rollback,
Failover, and the read-back the action lifecycle needs) but holds its state
in memory; the live behaviour is tested against the real simulator. Actions
always go through a real ``Executor`` with an audit log (``lifecycle``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from oncall_tui.actions import AuditLog, Executor
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
    RouteVersion,
    StatusResponse,
    TierShare,
)
from oncall_tui.runbook.acting import LifecycleActions
from oncall_tui.sources.capabilities import ActionIntent, Observation
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
        self.version = dict.fromkeys(self.kill, "v3")
        self.forced: dict[str, str | None] = dict.fromkeys(self.kill)
        self.hostile = hostile
        self.calls: list[tuple[str, object]] = []

    async def routes(self) -> RoutesResponse:
        ref = ModelRef("openai", "gpt-x")
        history = tuple(
            RouteVersion(v, ModelRef("openai", f"gpt-{v}"), CLOCK - timedelta(days=9 - i))
            for i, v in enumerate(("v2", "v3"))
        )
        return RoutesResponse(
            gateway_time=CLOCK,
            routes=tuple(
                Route(
                    name=n,
                    primary=ref,
                    version=self.version[n],
                    fallbacks=(ModelRef("anthropic", "c"),),
                    history=history,
                    failover_to=self.forced[n],
                )
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
            serving_version=self.version[name],
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

    def _record(self, kind: str, route: str, actor: str, reason: str, key: str) -> ActionRecord:
        return ActionRecord(
            id=f"gw-{len(self.calls)}",
            kind=kind,
            route=route,
            state="applied",
            actor=actor,
            reason=reason,
            idempotency_key=key,
            requested_at=CLOCK,
        )

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append((route, enabled))
        self.kill[route] = enabled
        return self._record("kill_switch", route, actor, reason, idempotency_key)

    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append((route, to_version))
        self.version[route] = to_version
        return self._record("rollback", route, actor, reason, idempotency_key)

    async def failover(
        self, route: str, *, to_tier: str | None, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append((route, to_tier))
        self.forced[route] = to_tier
        return self._record("failover", route, actor, reason, idempotency_key)

    # Read-back for the action lifecycle (Verifiable): the state above, as is.
    target = "fixed gateway (in memory)"

    def repeat_safe(self, kind: str) -> bool:
        return True

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
        r = intent.route
        return {
            "kill_switch": self.kill[r],
            "version": self.version[r],
            "failover_to": self.forced[r],
        }

    async def observe(self, intent: ActionIntent) -> Observation:
        r = intent.route
        holds = {
            "kill_switch": lambda: self.kill[r] == intent.enabled,
            "rollback": lambda: self.version[r] == intent.to_version,
            "failover": lambda: self.forced[r] == intent.to_tier,
        }[intent.kind]()
        return Observation(
            holds=holds, detail=f"{intent.kind} reads back {'as asked' if holds else 'unchanged'}"
        )


def lifecycle(gateway: object, folder: Path, *, clock=None) -> LifecycleActions:
    """The real action lifecycle over ``gateway``, its audit log in ``folder``."""
    audit = AuditLog(folder / "audit.jsonl", clock=clock)
    executor = Executor(audit=audit, adapters={"fixed": gateway}, actor="me@here", env="test")
    return LifecycleActions(executor)


class StatusOnlyGateway(FixedGateway):
    """A gateway that can report but not act: no action is offered."""

    set_kill_switch = None  # type: ignore[assignment]
    rollback = None  # type: ignore[assignment]
    failover = None  # type: ignore[assignment]


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
