"""``native``: any gateway speaking the project's control protocol (docs/protocol.md),
the embedded simulator included.

Capabilities: GatewayStatus, GatewayStream (resumable, reconnects with
backoff), KillSwitch, Rollback, Failover, plus ``get_action`` for read-back.
It also reads traces from the gateway's Jaeger api_v3 endpoints when the
gateway has them (the simulator does), so one config entry gives a demo
everything.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from oncall_tui.core.assemble import assemble
from oncall_tui.core.gateway import (
    ActionRecord,
    ActionRequest,
    Alert,
    Event,
    Route,
    RoutesResponse,
    StatusResponse,
)
from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.otlp import decode as decode_otlp
from oncall_tui.core.summary import summarize
from oncall_tui.errors import AuthError, ConfigError, NotFoundError, UnreachableError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.redact import strip_userinfo
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import ActionIntent, Observation, TraceQuery

SYSTEM = "native gateway"
RESTARTED = "gateway restarted"


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. http://127.0.0.1:8700
    token_env: str | None = None  # name of the env var holding the bearer token
    timeout_s: float = 10.0
    reconnect_max_s: float = 30.0  # ceiling of the event-stream backoff
    #: Status window (gateway seconds) that action read-back looks at: short,
    #: so "the route's AI traffic stopped" shows soon after the change.
    verify_window_s: int = 10


class _Alerts(msgspec.Struct, frozen=True):
    gateway_time: datetime
    alerts: tuple[Alert, ...] = ()


class NativeGateway:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        if not options.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"native gateway url {options.url!r} must start with http:// or https://"
            )
        self.options = options
        self.base_url = options.url.rstrip("/")
        token = ctx.secret(options.token_env)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = http.client(
            ctx, self.base_url, headers=self._headers, timeout_s=options.timeout_s
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, type_: Any, **params: Any) -> Any:
        resp = await http.request(self._http, "GET", path, SYSTEM, params=params or None)
        try:
            return msgspec.json.decode(resp.content, type=type_)
        except msgspec.ValidationError as exc:
            raise UnreachableError(
                f"{SYSTEM}: {path} answered an unexpected shape ({exc})"
            ) from exc

    # ------------------------------------------------------------ status

    async def routes(self) -> RoutesResponse:
        result: RoutesResponse = await self._get("/v1/routes", RoutesResponse)
        return result

    async def status(self, window_s: int = 300) -> StatusResponse:
        result: StatusResponse = await self._get("/v1/status", StatusResponse, window=window_s)
        return msgspec.structs.replace(result, received_at=datetime.now(UTC))

    async def alerts(self) -> list[Alert]:
        result: _Alerts = await self._get("/v1/alerts", _Alerts)
        return list(result.alerts)

    # ------------------------------------------------------------ events

    async def events(self, since: int | None = None) -> AsyncIterator[Event]:
        """Events forever; reconnects with jittered exponential backoff and
        resumes after the last seq seen. Auth failures end the stream.

        A restarted gateway counts from 1 again: resuming after the old seq
        would hear nothing until the new count passed it. Its ``hello`` tells
        (a new ``epoch``, or a newest seq behind the one held): the stream
        says so with a local ``reset`` and resyncs from the new sequence's start.
        """
        last = since
        epoch: str | None = None
        delay = 0.25
        ws_url = "ws" + self.base_url[4:] + "/v1/events"
        decoder = msgspec.json.Decoder(Event)
        while True:
            url = ws_url if last is None else f"{ws_url}?since={last}"
            resync = False
            try:
                async with connect(
                    url,
                    additional_headers=self._headers,
                    open_timeout=self.options.timeout_s,
                    max_size=8 * 1024 * 1024,
                    # Keep reading frames even when the consumer lags, so a
                    # close is seen at once instead of after close_timeout
                    # behind a backlog; the server bounds what it sends.
                    max_queue=None,
                    close_timeout=2.0,
                ) as ws:
                    delay = 0.25
                    async for message in ws:
                        try:
                            event = decoder.decode(message)
                        except msgspec.ValidationError:
                            # A newer gateway's event type: skip it, keep its place.
                            seq = _seq_of(message)
                            if seq is not None:
                                last = seq
                            continue
                        if event.type == "hello":
                            why = _restarted(event, epoch, last)
                            epoch = event.epoch or epoch
                            if why is not None:
                                # This connection resumes after the old seq: drop it
                                # and ask the new gateway for everything it has.
                                yield Event(
                                    seq=0,
                                    type="reset",
                                    gateway_time=event.gateway_time,
                                    epoch=event.epoch,
                                    detail=(
                                        f"{RESTARTED}: resynced from its new sequence ({why}); "
                                        "re-read /v1/status"
                                    ),
                                )
                                last = 0
                                resync = True
                                break
                        elif event.type != "reset":
                            last = event.seq
                        yield event
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise AuthError(f"{SYSTEM}: event stream answered {status}") from exc
                reason = f"answered {status}"
            except (TimeoutError, OSError, WebSocketException, msgspec.DecodeError) as exc:
                reason = type(exc).__name__
            else:
                if resync:
                    continue  # the gateway is up: reconnect at once, no backoff
                reason = "closed by the gateway"
            # A dropped stream: say so in-band (what, where, why), then back off and resume.
            yield Event(
                seq=last or 0,
                type="reset",
                gateway_time=datetime.now(UTC),
                detail=(
                    f"event stream {strip_userinfo(ws_url)} lost ({reason}); "
                    f"reconnecting in {delay:.1f}s, resuming after #{last or 0}"
                ),
            )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter)
            delay = min(delay * 2, self.options.reconnect_max_s)

    # ----------------------------------------------------------- actions

    async def _post(
        self, route: str, verb: str, body: ActionRequest, idempotency_key: str
    ) -> ActionRecord:
        resp = await http.request(
            self._http,
            "POST",
            f"/v1/routes/{route}/{verb}",
            SYSTEM,
            content=msgspec.json.encode(body),
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
        )
        return msgspec.json.decode(resp.content, type=ActionRecord)

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        body = ActionRequest(reason=reason, actor=actor, enabled=enabled)
        return await self._post(route, "kill-switch", body, idempotency_key)

    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        body = ActionRequest(reason=reason, actor=actor, to_version=to_version)
        return await self._post(route, "rollback", body, idempotency_key)

    async def failover(
        self, route: str, *, to_tier: str | None, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        body = ActionRequest(reason=reason, actor=actor, to_tier=to_tier)
        return await self._post(route, "failover", body, idempotency_key)

    async def get_action(self, action_id: str) -> ActionRecord:
        result: ActionRecord = await self._get(f"/v1/actions/{action_id}", ActionRecord)
        return result

    # ------------------------------------------- read-back (Verifiable)

    @property
    def target(self) -> str:
        return f"native gateway at {self.base_url}"

    def repeat_safe(self, kind: str) -> bool:
        return True  # the protocol honours Idempotency-Key: a resend returns the first record

    async def _route(self, name: str) -> Route:
        for route in (await self.routes()).routes:
            if route.name == name:
                return route
        raise NotFoundError(f"{SYSTEM} at {self.base_url} has no route {name!r}")

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
        route = await self._route(intent.route)
        return {
            "kill_switch": route.kill_switch,
            "version": route.version,
            "failover_to": route.failover_to,  # None: not forced (or a gateway that cannot say)
            "primary": route.primary.key,
        }

    async def observe(self, intent: ActionIntent) -> Observation:
        """Read back through live status, the figures real traffic produces."""
        route = await self._route(intent.route)
        status = await self.status(self.options.verify_window_s)
        rs = next((r for r in status.routes if r.route == intent.route), None)
        if rs is None:
            return Observation(holds=False, detail=f"route {intent.route!r} absent from status")
        mix = {t.tier: t.share for t in rs.tier_mix}
        ai_share = sum(share for tier, share in mix.items() if tier != "none")
        top = max(mix, key=lambda k: mix[k]) if mix else None
        state: dict[str, str | bool | float | None] = {
            "kill_switch": rs.kill_switch,
            "serving_version": rs.serving_version,
            "ai_share": round(ai_share, 4),
            "top_tier": top,
        }
        window = f"last {rs.window_s}s"
        if intent.kind == "kill_switch":
            if intent.enabled:
                holds = rs.kill_switch and ai_share <= 0.01
            else:
                holds = not rs.kill_switch and (ai_share > 0 or not mix)
            switch = "on" if rs.kill_switch else "off"
            detail = f"kill switch {switch}; AI share {ai_share:.0%} ({window})"
        elif intent.kind == "rollback":
            wanted = next(
                (h.primary.key for h in route.history if h.version == intent.to_version), None
            )
            share = mix.get(wanted, 0.0) if wanted else 0.0
            holds = rs.serving_version == intent.to_version and (share >= 0.5 or not mix)
            state["version_tier_share"] = round(share, 4)
            detail = f"serving {rs.serving_version}; {wanted or '?'} serves {share:.0%} ({window})"
        else:
            wanted_tier = intent.to_tier or route.primary.key
            holds = top == wanted_tier or not mix
            detail = f"top tier {top or 'none'} ({mix.get(top, 0.0) if top else 0.0:.0%}, {window})"
        return Observation(holds=holds, detail=detail, state=state)

    # ------------------------------------------------------------ traces

    async def get_trace(self, trace_id: str) -> Trace:
        try:
            resp = await http.request(self._http, "GET", f"/api/v3/traces/{trace_id}", SYSTEM)
        except NotFoundError:
            raise NotFoundError(f"trace {trace_id} not found on {self.base_url}") from None
        doc = msgspec.json.decode(resp.content)
        result = doc.get("result", {}) if isinstance(doc, dict) else {}
        spans, notes = decode_otlp(
            msgspec.json.encode(result), result, f"{SYSTEM} trace {trace_id}"
        )
        traces = assemble(spans, source="jaeger-api-v3", notes=notes)
        if not traces:
            raise NotFoundError(f"trace {trace_id} has no spans on {self.base_url}")
        return traces[0]

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        params: dict[str, Any] = {"query.num_traces": query.limit}
        params["query.service_name"] = query.service or "ai-gateway"
        if query.start_ns is not None:
            params["query.start_time_min"] = str(query.start_ns)
        if query.end_ns is not None:
            # A bound at the local "now" is widened by the gateway to ITS now
            # (docs/protocol.md), so clocks that disagree lose no new traces.
            params["query.start_time_max"] = str(query.end_ns)
        if query.route:
            params["query.attributes"] = msgspec.json.encode({"gen_ai.route": query.route}).decode()
        try:
            resp = await http.request(self._http, "GET", "/api/v3/traces", SYSTEM, params=params)
        except NotFoundError:
            return []  # Jaeger's way of saying "no traces"
        doc = msgspec.json.decode(resp.content)
        result = doc.get("result", {}) if isinstance(doc, dict) else {}
        spans, notes = decode_otlp(msgspec.json.encode(result), result, f"{SYSTEM} search")
        rows = [summarize(t) for t in assemble(spans, source="jaeger-api-v3", notes=notes)]
        if query.errors_only:
            rows = [r for r in rows if r.error_count]
        rows.sort(key=lambda r: r.start_ns or 0, reverse=True)
        return rows[: query.limit]


class _SeqOnly(msgspec.Struct):
    seq: int


def _seq_of(message: str | bytes) -> int | None:
    try:
        return msgspec.json.decode(message, type=_SeqOnly).seq
    except msgspec.DecodeError:
        return None


def _restarted(hello: Event, epoch: str | None, last: int | None) -> str | None:
    """Why ``hello`` is from a new run of the gateway's sequence, or None."""
    if epoch is not None and hello.epoch is not None and hello.epoch != epoch:
        return "it names a new epoch"  # not the epoch itself: gateway text, unbounded
    if last is not None and hello.seq < last:
        return f"its newest event is #{hello.seq}, this stream was after #{last}"
    return None


def _factory(options: Options, ctx: PluginContext) -> NativeGateway:
    return NativeGateway(options, ctx)


PLUGIN = Plugin(
    name="native",
    summary="a gateway speaking the oncall-tui control protocol (the simulator does)",
    roles=("gateways", "trace_stores"),
    options=Options,
    factory=_factory,
)

__all__ = ["PLUGIN", "NativeGateway", "Options"]
