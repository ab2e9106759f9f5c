"""What the engine needs to act, and the two ways it can.

``ActionRunner`` is the seam: ``plan`` says in words what would change,
``execute`` applies it once (the request id is derived from the incident and
the step, so a resumed session repeating an interrupted action gets the
first result back instead of a second change) and verifies it.

``LifecycleActions`` is the real one: the action lifecycle of
``oncall_tui.actions`` (capture, plan, execute once, read-back verify, undo,
every stage in the hash-chained audit log). The engine's ``confirm(yes=True)``
is the person's confirmation (the CLI's ``--yes``; the console asks for the
typed route name on dangerous steps before it calls it), so the executor is
told ``assume_yes``. ``DirectActions`` calls the capability Protocols and
reads ``/v1/status`` back without an audit log; it is kept for adapters that
cannot read back (no ``Verifiable``) and for tests of the engine alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import msgspec

from oncall_tui.actions import ActionResult as LifecycleResult
from oncall_tui.actions import ActionSpec as LifecycleSpec
from oncall_tui.actions import Confirmation, Executor, Plan
from oncall_tui.actions.model import describe_spec
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
    action_id: str | None = None  # the audit log's id for it (oncall-tui audit show)


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


async def next_tier(gateway: GatewayStatus, route_name: str) -> str:
    """The first fallback of a route: what "fail over to the next tier" means.

    Resolved here, explicitly, because the protocol reads a failover with no
    tier as "clear the forced tier", the opposite of what the runbook asked."""
    routes = await gateway.routes()
    route = next((r for r in routes.routes if r.name == route_name), None)
    if route is None:
        raise ActionError(f"gateway has no route {route_name!r}")
    if not route.fallbacks:
        raise ActionError(f"route {route_name!r} has no fallback tier to fail over to")
    return route.fallbacks[0].key


async def previous_version(gateway: GatewayStatus, route_name: str) -> str:
    """The version a route served before its current one: what "roll back" means
    when no version is named (the console's rollback key)."""
    routes = await gateway.routes()
    route = next((r for r in routes.routes if r.name == route_name), None)
    if route is None:
        raise ActionError(f"gateway has no route {route_name!r}")
    history = sorted(route.history, key=lambda h: h.deployed_at)
    current = next((i for i, h in enumerate(history) if h.version == route.version), len(history))
    earlier = [h.version for h in history[:current] if h.version != route.version]
    if not earlier:
        raise ActionError(f"route {route_name!r} has no earlier version to roll back to")
    return earlier[-1]


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
                failover = self._adapter(Failover)
                to_tier = spec.to_tier
                if spec.kind == "failover" and to_tier is None:
                    to_tier = await next_tier(self._adapter(GatewayStatus), spec.route)
                    spec = msgspec.structs.replace(spec, to_tier=to_tier)
                if spec.kind == "restore":
                    # Restore is a failover to the configured primary, named explicitly.
                    routes = await self._adapter(GatewayStatus).routes()
                    route = next((r for r in routes.routes if r.name == spec.route), None)
                    if route is None:
                        raise ActionError(f"gateway has no route {spec.route!r} to restore")
                    to_tier = route.primary.key
                    spec = msgspec.structs.replace(spec, to_tier=to_tier)
                record = await failover.failover(spec.route, to_tier=to_tier, **common)
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


class LifecycleActions:
    """``ActionRunner`` over the audited action lifecycle.

    Besides the runner seam (``plan`` in words, ``execute`` with the engine's
    yes) it gives a console what it shows and asks: the executor's ``Plan``
    (``dry_run``), running exactly that plan on a typed confirmation (``run``),
    the recorded inverse of a finished action (``undo_spec``), and which kinds
    any adapter here can do with read-back (``offers``).
    """

    def __init__(self, executor: Executor):
        self.executor = executor

    def offers(self, kind: str) -> bool:
        """Can an adapter of this environment do ``kind`` and read it back?"""
        return bool(self.executor.capable("failover" if kind == "restore" else kind))

    def _spec(self, spec: ActionSpec) -> LifecycleSpec:
        # The lifecycle has no "restore": clearing a forced tier is its restore.
        restore = spec.kind == "restore"
        kind: Literal["kill_switch", "rollback", "failover"] = (
            "failover" if spec.kind == "restore" else spec.kind
        )
        return LifecycleSpec(
            kind=kind,
            route=spec.route,
            reason=spec.reason,
            env=self.executor.env,
            enabled=spec.enabled,
            to_version=spec.to_version,
            to_tier=None if restore else spec.to_tier,
            request_id=spec.idempotency_key,
        )

    async def _resolved(self, spec: ActionSpec) -> ActionSpec:
        """A failover without a tier means the next one; a rollback without a
        version, the one before: both named here, explicitly, before planning."""
        unnamed = (spec.kind == "failover" and spec.to_tier is None) or (
            spec.kind == "rollback" and spec.to_version is None
        )
        if not unnamed:
            return spec
        gateway = next(
            (a for a in self.executor.adapters.values() if isinstance(a, GatewayStatus)), None
        )
        if gateway is None:
            raise UnsupportedError(f"no gateway here can say what a {spec.kind} goes to")
        if spec.kind == "rollback":
            return msgspec.structs.replace(
                spec, to_version=await previous_version(gateway, spec.route)
            )
        return msgspec.structs.replace(spec, to_tier=await next_tier(gateway, spec.route))

    async def dry_run(self, spec: ActionSpec | LifecycleSpec) -> Plan:
        """The executor's plan: the prior state captured from the target, each change."""
        if isinstance(spec, LifecycleSpec):
            return await self.executor.plan(spec)
        return await self.executor.plan(self._spec(await self._resolved(spec)))

    async def plan(self, spec: ActionSpec) -> str:
        return "\n".join((await self.dry_run(spec)).describe())

    async def execute(self, spec: ActionSpec) -> ActionResult:
        try:
            plan = await self.dry_run(spec)
            result = await self.executor.execute(plan, confirm=Confirmation(assume_yes=True))
        except ActionError as exc:
            return ActionResult("refused", str(exc))
        except OncallError as exc:
            return ActionResult("failed", str(exc))
        return _result(result)

    async def run(self, plan: Plan, *, typed: str) -> ActionResult:
        """Run the plan a person saw, confirmed by what they typed (the executor checks it)."""
        try:
            result = await self.executor.execute(plan, confirm=Confirmation(typed=typed))
        except ActionError as exc:
            return ActionResult("refused", str(exc), action_id=plan.action_id)
        except OncallError as exc:
            return ActionResult("failed", str(exc), action_id=plan.action_id)
        return _result(result)

    def undo_spec(self, action_id: str) -> LifecycleSpec | None:
        """The inverse the audit log recorded when ``action_id`` verified, if any."""
        try:
            return self.executor.undo_spec(action_id)
        except OncallError:
            return None


def _result(result: LifecycleResult) -> ActionResult:
    if result.verified:
        outcome: Outcome = "verified"
    elif result.applied:
        outcome = "not_verified"
    else:
        outcome = "failed"
    return ActionResult(
        outcome,
        result.detail,
        result.record,
        result.verify_polls,
        describe_spec(result.undo) if result.undo is not None else None,
        result.action_id,
    )
