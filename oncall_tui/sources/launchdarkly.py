"""``launchdarkly``: a LaunchDarkly flag per route as its kill switch.

Capabilities: KillSwitch, Verifiable. The kill switch is a semantic patch
(``PATCH /api/v2/flags/{project}/{flag}`` with ``Content-Type:
application/json; domain-model=launchdarkly.semanticpatch``) carrying
``turnFlagOff`` (undo: ``turnFlagOn``) for one environment, with our reason,
actor and idempotency key in the change's ``comment`` (LaunchDarkly's audit
log shows it). The flag's ON means "the AI path serves". ``turnFlagOff`` on a
flag that is already off changes nothing, so a resend is safe.

Auth is the bare access token in ``Authorization``. Read-back uses the
server-side SDK endpoint (``/sdk/latest-flags/{flag}`` with an SDK key) when
``sdk_key_env`` is set, which is what traffic evaluates; otherwise the REST
flag's per-environment ``on`` (said so in the observation).

An environment that requires approvals answers the patch with a 405/409 and
a message; that becomes an ActionError saying to request approval.
No real LaunchDarkly runs here: tests are contract tests against the
documented requests and error bodies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from oncall_tui.core.gateway import ActionRecord
from oncall_tui.errors import ActionError, ConfigError, NotFoundError, RemoteError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import ActionIntent, Observation

SYSTEM = "launchdarkly"
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token_env: str  # env var holding an API access token (writer role)
    project: str
    environment: str
    url: str = "https://app.launchdarkly.com"
    sdk_url: str = "https://sdk.launchdarkly.com"
    sdk_key_env: str | None = None  # server-side SDK key of `environment`, for read-back
    timeout_s: float = 10.0
    routes: dict[str, str] = {}  # route -> flag key (ON = the AI path serves)


class LaunchDarklyFlags:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        for url in (options.url, options.sdk_url):
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"launchdarkly url {url!r} must start with http:// or https://")
        self.options = options
        token = ctx.secret(options.token_env) or ""
        self._api = http.client(
            ctx,
            options.url.rstrip("/"),
            headers={"Authorization": token},
            timeout_s=options.timeout_s,
        )
        sdk_key = ctx.secret(options.sdk_key_env)
        self._sdk = (
            http.client(
                ctx,
                options.sdk_url.rstrip("/"),
                headers={"Authorization": sdk_key},
                timeout_s=options.timeout_s,
            )
            if sdk_key
            else None
        )

    async def aclose(self) -> None:
        await self._api.aclose()
        if self._sdk is not None:
            await self._sdk.aclose()

    @property
    def target(self) -> str:
        o = self.options
        return f"launchdarkly at {o.url} (project {o.project}, env {o.environment})"

    def repeat_safe(self, kind: str) -> bool:
        return True  # turnFlagOff/On set a state

    def _flag(self, route: str) -> str:
        flag = self.options.routes.get(route)
        if flag is None:
            raise NotFoundError(
                f"launchdarkly: no flag configured for route {route!r}",
                hint=f"configured routes: {', '.join(self.options.routes) or 'none'}",
            )
        return flag

    async def _flag_on(self, flag: str) -> bool:
        o = self.options
        resp = await http.request(
            self._api,
            "GET",
            f"/api/v2/flags/{o.project}/{flag}",
            SYSTEM,
            params={"env": o.environment},
        )
        envs = resp.json().get("environments", {})
        if o.environment not in envs:
            raise NotFoundError(f"launchdarkly: flag {flag!r} has no environment {o.environment!r}")
        return bool(envs[o.environment].get("on"))

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
        if intent.kind != "kill_switch":
            raise NotFoundError(f"launchdarkly cannot {intent.kind}")
        flag = self._flag(intent.route)
        return {"kill_switch": not await self._flag_on(flag), "flag": flag}

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        o = self.options
        flag = self._flag(route)
        kind = "turnFlagOff" if enabled else "turnFlagOn"
        body: dict[str, Any] = {
            "environmentKey": o.environment,
            "comment": f"{reason} (by {actor} via oncall-tui, key {idempotency_key})",
            "instructions": [{"kind": kind}],
        }
        try:
            await http.request(
                self._api,
                "PATCH",
                f"/api/v2/flags/{o.project}/{flag}",
                SYSTEM,
                content=msgspec.json.encode(body),
                headers={"Content-Type": SEMANTIC_PATCH},
            )
        except RemoteError as exc:
            if exc.status in (405, 409):
                raise ActionError(
                    f"launchdarkly refused {kind} on {flag!r}: {exc.message}",
                    hint="this environment may require an approval: request one in LaunchDarkly",
                ) from exc
            raise
        now = datetime.now(UTC)
        return ActionRecord(
            id=f"ld-{idempotency_key[-12:]}",
            kind="kill_switch",
            route=route,
            state="applied",
            actor=actor,
            reason=reason,
            idempotency_key=idempotency_key,
            requested_at=now,
            applied_at=now,
            after={"kill_switch": enabled},
            detail=f"{kind} on flag {flag} in {o.environment}",
        )

    async def observe(self, intent: ActionIntent) -> Observation:
        flag = self._flag(intent.route)
        if self._sdk is not None:
            resp = await http.request(self._sdk, "GET", f"/sdk/latest-flags/{flag}", SYSTEM)
            on = bool(resp.json().get("on"))
            path = "SDK endpoint"
        else:
            on = await self._flag_on(flag)
            path = "REST API (set sdk_key_env to read what SDKs get)"
        return Observation(
            holds=on is (not intent.enabled),
            detail=f"{path}: flag {flag} is {'on' if on else 'off'} in {self.options.environment}",
            state={"flag_on": on, "kill_switch": not on},
        )


def _factory(options: Options, ctx: PluginContext) -> LaunchDarklyFlags:
    return LaunchDarklyFlags(options, ctx)


PLUGIN = Plugin(
    name="launchdarkly",
    summary="LaunchDarkly flags as kill switch (semantic patch turnFlagOff/turnFlagOn)",
    roles=("flags",),
    options=Options,
    factory=_factory,
)
