"""What the engine needs to act, and a direct implementation over the capability
Protocols until the action lifecycle (``oncall_tui.actions``) takes over.

``ActionRunner`` is the seam: ``plan`` says in words what would change,
``execute`` applies it once (the idempotency key is derived from the incident
and the step, so a resumed session repeating an interrupted action gets the
first result back instead of a second change) and verifies it by reading the
gateway's status back until it holds or a deadline passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import msgspec

from oncall_tui.core.gateway import ActionRecord, RouteStatus
from oncall_tui.errors import ActionError, OncallError, UnsupportedError
from oncall_tui.runbook.queries import Sources
from oncall_tui.sources.capabilities import Failover, GatewayStatus, KillSwitch, Rollback

Outcome = Literal["verified", "not_verified", "failed", "refused"]


class ActionSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: Literal["kill_switch", "rollback", "failover", "restore"]
    route: str
    reason: str
    actor: str
    idempotency_key: str
    enabled: bool | None = None
    to_version: str | None = None
    to_tier: str | None = None


class ActionResult(msgspec.Struct, frozen=True, omit_defaults=True):
    outcome: Outcome
    detail: str
    record: ActionRecord | None = None
    verify_attempts: int = 0
    undo: str | None = None  # how to take it back, in words


class ActionRunner(Protocol):
    async def plan(self, spec: ActionSpec) -> str: ...

    async def execute(self, spec: ActionSpec) -> ActionResult: ...


def _describe(spec: ActionSpec) -> str:
    if spec.kind == "kill_switch":
        state = "ON (the AI path stops; the route serves its non-AI fallback)"
        return f"turn the kill switch of route {spec.route!r} " + (
            state if spec.enabled else "OFF (AI serving resumes)"
        )
    if spec.kind == "rollback":
        return f"roll route {spec.route!r} back to config version {spec.to_version!r}"
    if spec.kind == "failover":
        return f"fail route {spec.route!r} over to tier {spec.to_tier or 'the next in its chain'!r}"
    return f"restore route {spec.route!r} to its configured primary"


def verified(spec: ActionSpec, status: RouteStatus) -> bool:
    """Does the gateway's own status show the action took effect?"""
    if spec.kind == "kill_switch":
        return status.kill_switch == bool(spec.enabled)
    if spec.kind == "rollback":
        return status.serving_version == spec.to_version
    if spec.kind in ("failover", "restore") and spec.to_tier is not None:
        top = max(status.tier_mix, key=lambda t: t.share, default=None)
        return top is not None and top.tier == spec.to_tier
    return True  # failover to "next": applied is all the gateway can say


class DirectActions:
    """Calls the gateway adapter's action Protocols and verifies through status."""

    def __init__(
        self,
        sources: Sources,
        *,
        verify_every_s: float = 1.0,
        verify_deadline_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.sources = sources
        self.monotonic = monotonic
        self.verify_every_s = verify_every_s
        self.verify_deadline_s = verify_deadline_s
        self.sleep = sleep

    def _adapter(self, capability: type[Any]) -> Any:
        for adapter in self.sources.gateways.values():
            if isinstance(adapter, capability):
                return adapter
        raise UnsupportedError(
            f"no gateway in this environment can {capability.__name__} "
            f"(have: {', '.join(self.sources.gateways) or 'none configured'})"
        )

    async def plan(self, spec: ActionSpec) -> str:
        return f"{_describe(spec)}; reason: {spec.reason}"

    async def execute(self, spec: ActionSpec) -> ActionResult:
        common = {
            "reason": spec.reason,
            "actor": spec.actor,
            "idempotency_key": spec.idempotency_key,
        }
        try:
            if spec.kind == "kill_switch":
                record = await self._adapter(KillSwitch).set_kill_switch(
                    spec.route, enabled=bool(spec.enabled), **common
                )
                undo = f"turn the kill switch {'off' if spec.enabled else 'on'} again"
            elif spec.kind == "rollback":
                if spec.to_version is None:
                    raise ActionError("a rollback needs a version to roll back to")
                record = await self._adapter(Rollback).rollback(
                    spec.route, to_version=spec.to_version, **common
                )
                undo = f"roll forward to {record.before.get('version') or 'the prior version'}"
            else:
                to_tier = spec.to_tier
                if spec.kind == "restore":
                    # Restore is a failover to the configured primary, named explicitly.
                    routes = await self._adapter(GatewayStatus).routes()
                    route = next((r for r in routes.routes if r.name == spec.route), None)
                    if route is None:
                        raise ActionError(f"gateway has no route {spec.route!r} to restore")
                    to_tier = route.primary.key
                    spec = msgspec.structs.replace(spec, to_tier=to_tier)
                record = await self._adapter(Failover).failover(
                    spec.route, to_tier=to_tier, **common
                )
                undo = (
                    "fail over again if the primary misbehaves"
                    if spec.kind == "restore"
                    else "restore the route to its configured primary"
                )
        except ActionError as exc:
            return ActionResult("refused", str(exc))
        except OncallError as exc:
            return ActionResult("failed", str(exc))
        if record.state in ("failed", "rejected"):
            return ActionResult(
                "refused" if record.state == "rejected" else "failed",
                record.detail or f"the gateway answered {record.state}",
                record,
            )
        return await self._verify(spec, record, undo)

    async def _verify(self, spec: ActionSpec, record: ActionRecord, undo: str) -> ActionResult:
        gateway = self._adapter(GatewayStatus)
        deadline = self.monotonic() + self.verify_deadline_s
        attempts = 0
        last = "no status read yet"
        while True:
            attempts += 1
            try:
                status = await gateway.status(60)
                route = next((r for r in status.routes if r.route == spec.route), None)
                if route is not None and verified(spec, route):
                    return ActionResult(
                        "verified",
                        f"{_describe(spec)}: confirmed by status",
                        record,
                        attempts,
                        undo,
                    )
                last = (
                    "route missing from status" if route is None else "status does not show it yet"
                )
            except OncallError as exc:
                last = str(exc)
            if self.monotonic() >= deadline:
                return ActionResult(
                    "not_verified",
                    f"applied, but {attempts} status reads later it does not show: {last}",
                    record,
                    attempts,
                    undo,
                )
            await self.sleep(self.verify_every_s)
