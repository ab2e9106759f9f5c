"""Where an action lands: capture the prior state, apply, read back.

``ActionTarget`` is what the executor needs from a system. ``GatewayTarget``
serves any adapter with the gateway capabilities (the native protocol, the
simulator): it captures from ``/v1/routes``, applies through KillSwitch /
Rollback / Failover, and verifies through ``/v1/status``, the path real
traffic takes: the route's AI traffic really stops, the old model's tier
really serves again. Flag services (Unleash, LaunchDarkly) provide their own
targets that read back through the SDK path.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from oncall_tui.actions.models import ActionSpec, Change
from oncall_tui.core.gateway import ActionRecord, Route, RouteStatus
from oncall_tui.errors import ActionError, NotFoundError, UnsupportedError
from oncall_tui.sources.capabilities import Failover, GatewayStatus, KillSwitch, Rollback

VERIFY_WINDOW_S = 10  # judge "traffic stopped" on this many seconds of gateway time
STOPPED_SHARE = 0.9  # share of requests served by no AI tier that counts as stopped


@runtime_checkable
class ActionTarget(Protocol):
    name: str

    async def capture(self, spec: ActionSpec) -> dict[str, str | bool | None]: ...

    def changes(
        self, spec: ActionSpec, prior: dict[str, str | bool | None]
    ) -> tuple[Change, ...]: ...

    def inverse(
        self, spec: ActionSpec, prior: dict[str, str | bool | None]
    ) -> ActionSpec | None: ...

    def verify_text(self, spec: ActionSpec) -> str: ...

    async def apply(self, spec: ActionSpec) -> ActionRecord: ...

    async def check(self, spec: ActionSpec) -> tuple[bool, str]: ...


class GatewayTarget:
    def __init__(self, adapter: Any, name: str) -> None:
        if not isinstance(adapter, GatewayStatus):
            raise UnsupportedError(
                f"gateway {name} cannot report status, so actions cannot be verified"
            )
        self.adapter = adapter
        self.name = name

    async def _route(self, route: str) -> Route:
        routes = await self.adapter.routes()
        for r in routes.routes:
            if r.name == route:
                return r
        known = ", ".join(r.name for r in routes.routes)
        raise NotFoundError(f"gateway {self.name} has no route {route!r} (routes: {known})")

    async def capture(self, spec: ActionSpec) -> dict[str, str | bool | None]:
        route = await self._route(spec.route)
        if spec.kind == "rollback" and spec.to_version not in {v.version for v in route.history}:
            known = ", ".join(v.version for v in route.history)
            raise ActionError(
                f"route {spec.route} has no version {spec.to_version!r} (known: {known})"
            )
        return {
            "kill_switch": route.kill_switch,
            "version": route.version,
            "primary": route.primary.key,
            "chain": ",".join([route.primary.key, *(f.key for f in route.fallbacks)]),
        }

    def changes(self, spec: ActionSpec, prior: dict[str, str | bool | None]) -> tuple[Change, ...]:
        if spec.kind == "kill_switch":
            return (Change("kill switch (AI off)", prior.get("kill_switch"), bool(spec.enabled)),)
        if spec.kind == "rollback":
            return (Change("serving version", prior.get("version"), spec.to_version),)
        if spec.kind == "restore":
            return (Change("forced tier", "(failover)", prior.get("primary")),)
        return (Change("forced tier", prior.get("primary"), spec.to_tier or "next in chain"),)

    def inverse(self, spec: ActionSpec, prior: dict[str, str | bool | None]) -> ActionSpec | None:
        base = {"route": spec.route, "reason": f"undo: {spec.reason}", "actor": spec.actor}
        if spec.kind == "kill_switch":
            return ActionSpec(kind="kill_switch", enabled=not bool(spec.enabled), **base)
        if spec.kind == "rollback" and isinstance(prior.get("version"), str):
            return ActionSpec(kind="rollback", to_version=str(prior["version"]), **base)  # type: ignore[arg-type]
        if spec.kind == "failover":
            return ActionSpec(kind="restore", to_tier=str(prior.get("primary")), **base)  # type: ignore[arg-type]
        return None

    def verify_text(self, spec: ActionSpec) -> str:
        if spec.kind == "kill_switch":
            if spec.enabled:
                return (
                    "gateway status shows the kill switch on and "
                    f">= {STOPPED_SHARE:.0%} of requests served without AI"
                )
            return "gateway status shows the kill switch off and an AI tier serving again"
        if spec.kind == "rollback":
            return f"gateway status serves {spec.to_version} and its primary model carries traffic"
        return "gateway status shows the chosen tier carrying most traffic"

    async def apply(self, spec: ActionSpec) -> ActionRecord:
        common = {
            "reason": spec.reason,
            "actor": spec.actor,
            "idempotency_key": spec.idempotency_key,
        }
        a = self.adapter
        if spec.kind == "kill_switch":
            if not isinstance(a, KillSwitch):
                raise UnsupportedError(f"gateway {self.name} has no kill switch")
            return await a.set_kill_switch(spec.route, enabled=bool(spec.enabled), **common)
        if spec.kind == "rollback":
            if not isinstance(a, Rollback):
                raise UnsupportedError(f"gateway {self.name} cannot roll back")
            return await a.rollback(spec.route, to_version=str(spec.to_version), **common)
        if not isinstance(a, Failover):
            raise UnsupportedError(f"gateway {self.name} cannot fail over")
        return await a.failover(spec.route, to_tier=spec.to_tier, **common)

    async def _status(self, route: str) -> RouteStatus:
        status = await self.adapter.status(VERIFY_WINDOW_S)
        for r in status.routes:
            if r.route == route:
                return r
        raise NotFoundError(f"gateway {self.name} reports no status for route {route!r}")

    async def check(self, spec: ActionSpec) -> tuple[bool, str]:
        rs = await self._status(spec.route)
        shares = {t.tier: t.share for t in rs.tier_mix}
        total = sum(t.requests for t in rs.tier_mix)
        if spec.kind == "kill_switch":
            none = shares.get("none", 0.0)
            if spec.enabled:
                ok = rs.kill_switch and total > 0 and none >= STOPPED_SHARE
                state = "on" if rs.kill_switch else "off"
                return ok, f"kill switch {state}, {none:.0%} of {total} requests without AI"
            ok = (not rs.kill_switch) and total > 0 and none < 1 - STOPPED_SHARE
            state = "on" if rs.kill_switch else "off"
            return ok, f"kill switch {state}, {1 - none:.0%} of {total} requests served by AI"
        top = max(rs.tier_mix, key=lambda t: t.share, default=None)
        if spec.kind == "rollback":
            route = await self._route(spec.route)
            share = shares.get(route.primary.key, 0.0)
            ok = rs.serving_version == spec.to_version and share > 0.5
            return ok, f"serving {rs.serving_version}; {route.primary.key} carries {share:.0%}"
        want = spec.to_tier
        ok = top is not None and total > 0 and (want is None or top.tier == want)
        return ok, f"top tier {top.tier if top else '-'} ({top.share if top else 0:.0%})"
