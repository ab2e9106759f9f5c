"""``litellm``: a LiteLLM proxy as a gateway.

What the proxy really supports, and so what this adapter offers:

- GatewayStatus (read-only, works on any proxy): model groups from
  ``/model/info`` become routes (a group's deployments are its tiers), and
  ``/health`` gives each route the share of its deployments that are unhealthy.
  ``probe`` sends one request through a group and reads the
  ``x-litellm-model-id`` / ``x-litellm-model-name`` /
  ``x-litellm-attempted-retries`` / ``x-litellm-attempted-fallbacks`` headers:
  which deployment real traffic reaches.
- KillSwitch (``/model/block`` / ``/model/unblock`` per deployment) and
  Rollback (``PATCH /model/{id}/update`` of each deployment's underlying
  model) are implemented, but the proxy only honours them with its database
  attached. Without one it answers HTTP 500 "No DB Connected" / "DB not
  connected"; that becomes an ``UnsupportedError`` saying what to do, never a
  retry. ``/fallback`` only edits a group's fallback chain (and also needs the
  database), so this adapter offers no Failover: LiteLLM cannot force a tier.

The master key goes in ``Authorization: Bearer``. Keys never appear in
messages; error bodies are quoted only in short excerpts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from oncall_tui.core.gateway import (
    ActionKind,
    ActionRecord,
    ModelRef,
    Route,
    RoutesResponse,
    RouteStatus,
    StatusResponse,
)
from oncall_tui.errors import (
    ConfigError,
    NotFoundError,
    RemoteError,
    UnsupportedError,
    UsageError,
)
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import ActionIntent, Observation
from oncall_tui.sources.records import applied_record

SYSTEM = "litellm proxy"
NO_DB_HINT = (
    "LiteLLM changes models only with its database attached (DATABASE_URL on the proxy); "
    "without one, change the proxy's config.yaml and restart, or use a flag service"
)


# How LiteLLM 1.106 says it has no database, across its endpoints' error shapes.
_NO_DB_SIGNS = ("no db connected", "db not connected", "no connected db", "no_db_connection")


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. http://127.0.0.1:4000
    master_key_env: str  # env var holding the proxy's master key
    timeout_s: float = 30.0  # /health calls every deployment: it is slow


class Deployment(msgspec.Struct, frozen=True):
    id: str
    group: str
    model: str  # underlying "provider/model"


class Probe(msgspec.Struct, frozen=True, omit_defaults=True):
    """Which deployment one real request reached, from the proxy's headers."""

    route: str
    status: int
    model_id: str | None = None
    model_name: str | None = None
    model_group: str | None = None
    attempted_retries: int | None = None
    attempted_fallbacks: int | None = None


def _per_deployment(version: str, group: list[Deployment]) -> list[str]:
    """``model`` for every deployment, or ``m1,m2`` naming each one's model in order."""
    parts = [p.strip() for p in version.split(",")]
    if len(parts) == 1:
        return parts * len(group)
    if len(parts) != len(group) or not all(parts):
        raise UsageError(
            f"version {version!r}: name one model, or one per deployment "
            f"({len(group)}: {', '.join(d.id for d in group)})"
        )
    return parts


def _ref(model: str) -> ModelRef:
    provider, _, name = model.partition("/")
    return ModelRef(provider, name) if name else ModelRef("unknown", provider)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


class LiteLLMProxy:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        if not options.url.startswith(("http://", "https://")):
            raise ConfigError(f"litellm url {options.url!r} must start with http:// or https://")
        self.options = options
        self.base_url = options.url.rstrip("/")
        key = ctx.secret(options.master_key_env) or ""
        self._http = http.client(
            ctx,
            self.base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout_s=options.timeout_s,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def target(self) -> str:
        return f"litellm proxy at {self.base_url}"

    def repeat_safe(self, kind: str) -> bool:
        return True  # block/unblock and update set a state

    # ------------------------------------------------------------ reading

    async def deployments(self) -> list[Deployment]:
        resp = await http.request(self._http, "GET", "/model/info", SYSTEM)
        out: list[Deployment] = []
        seen: set[str] = set()
        for entry in resp.json().get("data", []):
            info = entry.get("model_info") or {}
            params = entry.get("litellm_params") or {}
            dep_id = info.get("id")
            # /model/info lists an alias's deployments again under the alias name.
            if not isinstance(dep_id, str) or dep_id in seen:
                continue
            seen.add(dep_id)
            out.append(Deployment(dep_id, str(entry.get("model_name")), str(params.get("model"))))
        return out

    def _group(self, deployments: Iterable[Deployment], route: str) -> list[Deployment]:
        group = [d for d in deployments if d.group == route]
        if not group:
            raise NotFoundError(f"{SYSTEM} at {self.base_url} has no model group {route!r}")
        return group

    async def routes(self) -> RoutesResponse:
        groups: dict[str, list[Deployment]] = {}
        for dep in await self.deployments():
            groups.setdefault(dep.group, []).append(dep)
        routes = tuple(
            Route(
                name=name,
                primary=_ref(deps[0].model),
                version=deps[0].id,
                fallbacks=tuple(_ref(d.model) for d in deps[1:]),
                description=f"{len(deps)} deployment(s)",
            )
            for name, deps in sorted(groups.items())
        )
        return RoutesResponse(gateway_time=datetime.now(UTC), routes=routes)

    async def status(self, window_s: int = 300) -> StatusResponse:
        """Health per group: error_rate is the share of unhealthy deployments now."""
        deployments = await self.deployments()
        resp = await http.request(self._http, "GET", "/health", SYSTEM)
        doc = resp.json()
        by_id = {d.id: d for d in deployments}
        bad: dict[str, int] = {}
        for entry in doc.get("unhealthy_endpoints", []):
            dep = by_id.get(str(entry.get("model_id")))
            if dep is not None:
                bad[dep.group] = bad.get(dep.group, 0) + 1
        totals: dict[str, int] = {}
        for dep in deployments:
            totals[dep.group] = totals.get(dep.group, 0) + 1
        now = datetime.now(UTC)
        rows = tuple(
            RouteStatus(route=g, window_s=0, error_rate=bad.get(g, 0) / n)
            for g, n in sorted(totals.items())
        )
        return StatusResponse(gateway_time=now, window_s=0, routes=rows, received_at=now)

    async def probe(self, route: str, prompt: str = "ping") -> Probe:
        """One real request through ``route``; costs a provider call on a real proxy."""
        body = {"model": route, "messages": [{"role": "user", "content": prompt}], "max_tokens": 1}
        try:
            resp = await self._http.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise RemoteError(
                f"{SYSTEM}: probe of {route!r} failed ({type(exc).__name__})"
            ) from exc
        h = resp.headers
        return Probe(
            route=route,
            status=resp.status_code,
            model_id=h.get("x-litellm-model-id"),
            model_name=h.get("x-litellm-model-name"),
            model_group=h.get("x-litellm-model-group"),
            attempted_retries=_int(h.get("x-litellm-attempted-retries")),
            attempted_fallbacks=_int(h.get("x-litellm-attempted-fallbacks")),
        )

    # ------------------------------------------------------------ actions

    async def _write(
        self, path: str, body: dict[str, Any], actor: str, method: str = "POST"
    ) -> None:
        # litellm-changed-by: the proxy's own audit trail names who acted.
        headers = {"litellm-changed-by": actor}
        try:
            await http.request(self._http, method, path, SYSTEM, json=body, headers=headers)
        except RemoteError as exc:
            if any(sign in exc.message.lower() for sign in _NO_DB_SIGNS):
                raise UnsupportedError(
                    f"{SYSTEM} at {self.base_url} cannot change models: it has no database "
                    f"({path} answered {exc.status} 'No DB Connected')",
                    hint=NO_DB_HINT,
                ) from exc
            raise

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
        group = self._group(await self.deployments(), intent.route)
        if intent.kind == "rollback":
            _per_deployment(intent.to_version or "", group)  # a usage error shows in the plan
        return {
            # One model per deployment, in order: the undo puts each one back.
            "version": ",".join(d.model for d in group),
            "deployments": ",".join(d.id for d in group),
            "kill_switch": False,  # a listed group serves; /model/info shows no block state
        }

    def _record(
        self, kind: ActionKind, route: str, key: str, *, reason: str, actor: str, detail: str
    ) -> ActionRecord:
        return applied_record(
            "litellm",
            kind=kind,
            route=route,
            key=key,
            reason=reason,
            actor=actor,
            detail=detail,
        )

    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        group = self._group(await self.deployments(), route)
        for dep, model in zip(group, _per_deployment(to_version, group), strict=True):
            # PATCH is a partial update: only the underlying model changes.
            await self._write(
                f"/model/{dep.id}/update",
                {"litellm_params": {"model": model}},
                actor,
                method="PATCH",
            )
        return self._record(
            "rollback",
            route,
            idempotency_key,
            reason=reason,
            actor=actor,
            detail=f"{route} -> {to_version}",
        )

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        group = self._group(await self.deployments(), route)
        path = "/model/block" if enabled else "/model/unblock"
        for dep in group:
            await self._write(path, {"model_id": dep.id}, actor)
        verb = "blocked" if enabled else "unblocked"
        return self._record(
            "kill_switch",
            route,
            idempotency_key,
            reason=reason,
            actor=actor,
            detail=f"{len(group)} deployment(s) {verb}",
        )

    async def observe(self, intent: ActionIntent) -> Observation:
        """Read the router's own model list back: what it routes requests to."""
        deployments = await self.deployments()
        group = [d for d in deployments if d.group == intent.route]
        if intent.kind == "rollback":
            models = [d.model for d in group]
            holds = bool(group) and models == _per_deployment(intent.to_version or "", group)
            return Observation(
                holds=holds,
                detail=f"/model/info: {intent.route} routes to {', '.join(models) or 'nothing'}",
                state={"version": ",".join(models)},
            )
        # Kill switch: a blocked group stops being offered to traffic.
        holds = (not group) if intent.enabled else bool(group)
        return Observation(
            holds=holds,
            detail=f"/model/info: {intent.route} has {len(group)} deployment(s) serving",
            state={"deployments": float(len(group))},
        )


def _factory(options: Options, ctx: PluginContext) -> LiteLLMProxy:
    return LiteLLMProxy(options, ctx)


PLUGIN = Plugin(
    name="litellm",
    summary="a LiteLLM proxy: status from /model/info and /health; model changes need its DB",
    roles=("gateways",),
    options=Options,
    factory=_factory,
)
