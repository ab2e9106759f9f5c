"""``unleash``: an Unleash feature-flag server as the place a route's AI is switched.

Capabilities: KillSwitch, Rollback, Verifiable, FlagEvents (nothing else: Unleash has no
traffic figures). Per route the config names up to two flags:

- ``kill_switch``: a flag whose ON means "the AI path serves". Turning the
  kill switch on is ``POST .../environments/{env}/off``; undo is ``/on``.
- ``model``: a release flag whose strategy variants are model versions.
  Rollback to ``V`` gives ``V`` the whole weight (the other variants stay,
  at weight 0, payloads kept); a mix such as ``a:500,b:500`` restores a split.

Flag changes for ``trace onset`` (``flag_events``) come from Unleash's event
log: the event search API Unleash 6 serves, or the older ``/api/admin/events``
when the server answers 404 to the first (sources/unleash_events.py). A flag
that a route names above lands on that route.

Read-back goes through the client API SDKs read (``/api/client/features``)
with a client token for the environment: the admin API alone would not show
what traffic gets. Unleash's write calls set a state and take no body, so a
repeat cannot double-apply; they accept no reason, which stays in our audit
log. Tokens go in ``Authorization`` bare, no ``Bearer``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from oncall_tui.core.gateway import ActionKind, ActionRecord
from oncall_tui.core.onset_model import ChangeEvent
from oncall_tui.errors import ConfigError, NotFoundError, UsageError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import ActionIntent, Observation
from oncall_tui.sources.records import applied_record
from oncall_tui.sources.unleash_events import (
    FLAG_EVENT_TYPES,
    EventsPage,
    SearchPage,
    UnleashEvent,
    event_ns,
    flag_changes,
)

SYSTEM = "unleash"
FULL = 1000  # Unleash variant weights sum to 1000
SEARCH_PATH = "/api/admin/search/events"
EVENTS_PATH = "/api/admin/events"  # deprecated in Unleash 6; all of a project's events
PAGE = 1000  # the event search's largest page
#: At most this many events are read per window (newest first): a window
#: busier than that is cut at its older end.
MAX_EVENTS = 10_000


class RouteFlags(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kill_switch: str | None = None  # flag: ON = the AI path serves
    model: str | None = None  # release flag: strategy variants = model versions


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    admin_token_env: str  # env var holding an admin API token
    client_token_env: str  # env var holding a client token for `environment` (read-back)
    project: str = "default"
    environment: str = "development"
    timeout_s: float = 10.0
    routes: dict[str, RouteFlags] = {}


def parse_mix(version: str) -> dict[str, int]:
    """``"a"`` -> {a: 1000}; ``"a:500,b:500"`` -> {a: 500, b: 500}."""
    if ":" not in version:
        return {version: FULL}
    mix: dict[str, int] = {}
    for part in version.split(","):
        name, _, weight = part.strip().partition(":")
        if not name or not weight.isdigit():
            raise UsageError(f"version mix {version!r}: expected name:weight,name:weight")
        mix[name] = int(weight)
    if sum(mix.values()) != FULL:
        raise UsageError(f"version mix {version!r}: weights must add up to {FULL}")
    return mix


def format_mix(variants: list[dict[str, Any]]) -> str | None:
    weights = {str(v.get("name")): int(v.get("weight") or 0) for v in variants}
    live = {k: w for k, w in weights.items() if w > 0}
    if not live:
        return None
    if len(live) == 1:
        return next(iter(live))
    return ",".join(f"{k}:{w}" for k, w in live.items())


def _check_known(flag: str, mix: dict[str, int], strategy: dict[str, Any]) -> None:
    known = [str(v.get("name")) for v in strategy["variants"]]
    unknown = [name for name in mix if name not in known]
    if unknown:
        raise UsageError(
            f"unleash: flag {flag!r} has no variant {unknown[0]!r}",
            hint=f"known versions: {', '.join(known)}",
        )


class UnleashFlags:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        if not options.url.startswith(("http://", "https://")):
            raise ConfigError(f"unleash url {options.url!r} must start with http:// or https://")
        self.options = options
        self.base_url = options.url.rstrip("/")
        admin = ctx.secret(options.admin_token_env) or ""
        client = ctx.secret(options.client_token_env) or ""
        self._admin = http.client(
            ctx, self.base_url, headers={"Authorization": admin}, timeout_s=options.timeout_s
        )
        self._client = http.client(
            ctx, self.base_url, headers={"Authorization": client}, timeout_s=options.timeout_s
        )

    async def aclose(self) -> None:
        await self._admin.aclose()
        await self._client.aclose()

    @property
    def target(self) -> str:
        opts = self.options
        return f"unleash at {self.base_url} (project {opts.project}, env {opts.environment})"

    def repeat_safe(self, kind: str) -> bool:
        return True  # on/off and a strategy PUT set a state: a resend changes nothing

    def _flag(self, route: str, which: str) -> str:
        flags = self.options.routes.get(route)
        name = getattr(flags, which, None) if flags is not None else None
        if name is None:
            known = ", ".join(r for r, f in self.options.routes.items() if getattr(f, which))
            raise NotFoundError(
                f"unleash: no {which.replace('_', ' ')} flag configured for route {route!r}",
                hint=f"routes with one: {known or 'none'} (config routes.<route>.{which})",
            )
        return str(name)

    def _feature_path(self, flag: str) -> str:
        return f"/api/admin/projects/{self.options.project}/features/{flag}"

    async def _admin_env(self, flag: str) -> dict[str, Any]:
        resp = await http.request(self._admin, "GET", self._feature_path(flag), SYSTEM)
        doc = resp.json()
        for env in doc.get("environments", []):
            if env.get("name") == self.options.environment:
                return dict(env)
        raise NotFoundError(
            f"unleash: flag {flag!r} has no environment {self.options.environment!r}"
        )

    async def _client_feature(self, flag: str) -> dict[str, Any]:
        resp = await http.request(self._client, "GET", f"/api/client/features/{flag}", SYSTEM)
        return dict(resp.json())

    @staticmethod
    def _variant_strategy(env: dict[str, Any], flag: str) -> dict[str, Any]:
        for strategy in env.get("strategies", []):
            if strategy.get("variants"):
                return dict(strategy)
        raise NotFoundError(
            f"unleash: flag {flag!r} has no strategy with variants (model versions)"
        )

    # ------------------------------------------------------------ capture

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
        if intent.kind == "kill_switch":
            flag = self._flag(intent.route, "kill_switch")
            env = await self._admin_env(flag)
            return {"kill_switch": not bool(env.get("enabled")), "flag": flag}
        if intent.kind == "rollback":
            flag = self._flag(intent.route, "model")
            env = await self._admin_env(flag)
            strategy = self._variant_strategy(env, flag)
            _check_known(flag, parse_mix(intent.to_version or ""), strategy)
            return {"version": format_mix(strategy["variants"]), "flag": flag}
        raise NotFoundError(f"unleash cannot {intent.kind}")

    # ------------------------------------------------------------ actions

    def _record(
        self,
        *,
        kind: ActionKind,
        route: str,
        reason: str,
        actor: str,
        key: str,
        detail: str,
        after: dict[str, str | bool | None],
    ) -> ActionRecord:
        return applied_record(
            "unleash",
            kind=kind,
            route=route,
            key=key,
            reason=reason,
            actor=actor,
            detail=detail,
            after=after,
        )

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        flag = self._flag(route, "kill_switch")
        verb = "off" if enabled else "on"
        path = f"{self._feature_path(flag)}/environments/{self.options.environment}/{verb}"
        await http.request(self._admin, "POST", path, SYSTEM)
        return self._record(
            kind="kill_switch",
            route=route,
            reason=reason,
            actor=actor,
            key=idempotency_key,
            detail=f"flag {flag} turned {verb} in {self.options.environment}",
            after={"kill_switch": enabled},
        )

    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        flag = self._flag(route, "model")
        mix = parse_mix(to_version)
        env = await self._admin_env(flag)
        strategy = self._variant_strategy(env, flag)
        _check_known(flag, mix, strategy)
        # Unleash wants at least one "variable" variant (it gets what the fixed
        # ones leave): the last live version is variable, every other is fixed.
        variable = [name for name, weight in mix.items() if weight > 0][-1]
        variants = []
        for v in strategy["variants"]:
            item = {k: v[k] for k in ("name", "payload", "stickiness") if k in v}
            item["weight"] = mix.get(str(v["name"]), 0)
            item["weightType"] = "variable" if v["name"] == variable else "fix"
            variants.append(item)
        body = {
            "name": strategy["name"],
            "title": strategy.get("title") or "",
            "constraints": strategy.get("constraints", []),
            "parameters": strategy.get("parameters", {}),
            "segments": strategy.get("segments", []),
            "disabled": strategy.get("disabled", False),
            "variants": variants,
        }
        path = (
            f"{self._feature_path(flag)}/environments/{self.options.environment}"
            f"/strategies/{strategy['id']}"
        )
        await http.request(self._admin, "PUT", path, SYSTEM, json=body)
        return self._record(
            kind="rollback",
            route=route,
            reason=reason,
            actor=actor,
            key=idempotency_key,
            detail=f"flag {flag} variants now {to_version}",
            after={"version": to_version},
        )

    # ------------------------------------------------------------ flag events

    def _routes_of(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for route, flags in self.options.routes.items():
            for role in ("kill_switch", "model"):
                name = getattr(flags, role)
                if name:
                    out.setdefault(name, []).append((route, role))
        return out

    async def flag_events(self, since_ns: int, until_ns: int) -> list[ChangeEvent]:
        """Flag changes in ``[since_ns, until_ns)`` in the configured project
        and environment, oldest first."""
        try:
            events = await self._search_events(since_ns, until_ns)
        except NotFoundError:
            events = await self._old_events()
        return flag_changes(
            events,
            since_ns=since_ns,
            until_ns=until_ns,
            environment=self.options.environment,
            routes_of=self._routes_of(),
        )

    async def _search_events(self, since_ns: int, until_ns: int) -> list[UnleashEvent]:
        """Pages of the event search, newest first, until the window's start
        is passed, the events run out, or ``MAX_EVENTS`` were read."""

        def day(ns: int) -> str:
            return datetime.fromtimestamp(ns / 1e9, UTC).date().isoformat()

        params: dict[str, str | int] = {
            "from": f"IS:{day(since_ns)}",  # whole UTC days, both ends kept
            "to": f"IS:{day(until_ns)}",
            "project": f"IS:{self.options.project}",
            "type": "IS_ANY_OF:" + ",".join(FLAG_EVENT_TYPES),
            "limit": PAGE,
        }
        out: list[UnleashEvent] = []
        while len(out) < MAX_EVENTS:
            params["offset"] = len(out)
            resp = await http.request(self._admin, "GET", SEARCH_PATH, SYSTEM, params=params)
            page: SearchPage = http.decode_page(resp.content, SearchPage, SYSTEM, SEARCH_PATH)
            out += page.events
            oldest = event_ns(page.events[-1].createdAt) if page.events else None
            done = len(page.events) < PAGE or len(out) >= page.total
            if done or (oldest is not None and oldest < since_ns):
                break
        return out[:MAX_EVENTS]

    async def _old_events(self) -> list[UnleashEvent]:
        """The pre-search API: every event of the project in one answer."""
        params = {"project": self.options.project}
        resp = await http.request(self._admin, "GET", EVENTS_PATH, SYSTEM, params=params)
        page: EventsPage = http.decode_page(resp.content, EventsPage, SYSTEM, EVENTS_PATH)
        return page.events[:MAX_EVENTS]

    # ------------------------------------------------------------ read-back

    async def observe(self, intent: ActionIntent) -> Observation:
        """What an SDK with a client token for the environment is served."""
        if intent.kind == "kill_switch":
            flag = self._flag(intent.route, "kill_switch")
            feature = await self._client_feature(flag)
            on = bool(feature.get("enabled"))
            holds = on is (not intent.enabled)
            return Observation(
                holds=holds,
                detail=f"client API: flag {flag} is {'on' if on else 'off'} "
                f"in {self.options.environment} (AI {'serves' if on else 'stopped'})",
                state={"flag_enabled": on, "kill_switch": not on},
            )
        if intent.kind == "rollback":
            flag = self._flag(intent.route, "model")
            feature = await self._client_feature(flag)
            wanted = parse_mix(intent.to_version or "")
            strategies = [s for s in feature.get("strategies", []) if s.get("variants")]
            seen = format_mix(strategies[0]["variants"]) if strategies else None
            live = {k: w for k, w in wanted.items() if w > 0}
            holds = bool(feature.get("enabled")) and seen is not None and parse_mix(seen) == live
            return Observation(
                holds=holds,
                detail=f"client API: flag {flag} serves {seen or 'no variants'}"
                f"{'' if feature.get('enabled') else ' (flag is off)'}",
                state={"version": seen, "flag_enabled": bool(feature.get("enabled"))},
            )
        raise NotFoundError(f"unleash cannot {intent.kind}")


def _factory(options: Options, ctx: PluginContext) -> UnleashFlags:
    return UnleashFlags(options, ctx)


PLUGIN = Plugin(
    name="unleash",
    summary="Unleash flags as kill switch (on/off) and model rollback (strategy variants)",
    roles=("flags",),
    options=Options,
    factory=_factory,
)
