"""The gateway control protocol, spoken by the real simulator on a loopback port.

Every endpoint, the auth and error answers, idempotency, the WebSocket resume
and the fault injection, through plain httpx/websockets (what any client of
docs/protocol.md would use) and through the ``native`` adapter. The simulator
is stepped (speed 0), so nothing here waits on a wall clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from oncall_tui.core.gateway import (
    ActionRecord,
    ErrorResponse,
    Event,
    RoutesResponse,
    StatusResponse,
)
from oncall_tui.errors import (
    AuthError,
    NotFoundError,
    RemoteError,
    UnreachableError,
)
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import SimServer, running_sim
from oncall_tui.sources.capabilities import (
    Failover,
    GatewayStatus,
    GatewayStream,
    KillSwitch,
    Rollback,
    TraceQuery,
    TraceSearch,
    TraceStore,
)
from oncall_tui.sources.native import NativeGateway, Options

TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_sim(seed=7, warmup_s=60) as server:
        yield server


def _client(sim: SimServer, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=sim.url, headers=headers, timeout=TIMEOUT)


def _native(sim: SimServer, token: str | None = None, timeout_s: float = 5.0) -> NativeGateway:
    return NativeGateway(
        Options(url=sim.url, token_env="SIM_TOKEN", timeout_s=timeout_s, reconnect_max_s=0.2),
        PluginContext(environ={"SIM_TOKEN": token or sim.token}),
    )


def _error(resp: httpx.Response) -> ErrorResponse:
    assert resp.headers["content-type"].startswith("application/json")
    return msgspec.json.decode(resp.content, type=ErrorResponse)


def _act_body(**extra: object) -> dict[str, object]:
    return {"reason": "test: stop the bleeding", "actor": "alice@test", **extra}


# ---------------------------------------------------------------- reads


async def test_routes_lists_every_route_with_its_serving_config(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.get("/v1/routes")
    assert resp.status_code == 200
    routes = msgspec.json.decode(resp.content, type=RoutesResponse)
    assert routes.protocol == "1"
    assert routes.gateway_time.tzinfo is not None
    names = {r.name for r in routes.routes}
    assert {"support-chat", "search-summary", "agent-assist", "doc-extract"} <= names
    chat = next(r for r in routes.routes if r.name == "support-chat")
    assert chat.version in {v.version for v in chat.history}
    assert chat.fallbacks, "a route names its fallback chain"
    assert chat.kill_switch is False


async def test_status_carries_every_figure_per_route(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.get("/v1/status", params={"window": "1m"})
    assert resp.status_code == 200
    status = msgspec.json.decode(resp.content, type=StatusResponse)
    assert status.window_s == 60
    chat = next(r for r in status.routes if r.route == "support-chat")
    assert chat.requests_per_s > 1
    assert abs(sum(t.share for t in chat.tier_mix) - 1.0) < 1e-6
    assert chat.ttft.p50_ms is not None and chat.ttfv.p50_ms is not None
    assert chat.ttfv.p50_ms >= chat.ttft.p50_ms
    assert chat.cache_hit_rate is not None and chat.retry_amplification is not None
    assert chat.cost_per_success_usd is not None and chat.chunk_chars_p50 is not None
    assert chat.quotas and all(q.resets_at and q.provider_timezone for q in chat.quotas)
    assert chat.providers and chat.providers[0].refusal_baseline is not None
    primary = chat.tier_mix[0]
    assert primary.last_served_at is not None


@pytest.mark.parametrize("window", ["abc", "0", "-5", "2h"])
async def test_status_rejects_a_bad_window_with_422_naming_the_field(
    sim: SimServer, window: str
) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.get("/v1/status", params={"window": window})
    assert resp.status_code == 422
    err = _error(resp).error
    assert err.code == "invalid" and err.field == "window"


async def test_unknown_endpoint_is_a_json_404(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert _error(resp).error.code == "not_found"


# ----------------------------------------------------------------- auth


@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_reads_without_a_valid_token_are_401(sim: SimServer, token: str | None) -> None:
    async with _client(sim, token) as http:
        resp = await http.get("/v1/routes")
    assert resp.status_code == 401
    assert _error(resp).error.code == "unauthorized"
    assert sim.token not in resp.text


async def test_read_only_token_reads_but_cannot_act(sim: SimServer) -> None:
    async with _client(sim, sim.read_token) as http:
        assert (await http.get("/v1/status")).status_code == 200
        resp = await http.post(
            "/v1/routes/support-chat/kill-switch",
            json=_act_body(enabled=True),
            headers={"Idempotency-Key": "ro-1"},
        )
    assert resp.status_code == 403
    assert _error(resp).error.code == "forbidden"
    assert sim.engine.fleet.routes["support-chat"].kill_switch is False


async def test_native_adapter_maps_auth_failures_to_auth_error(sim: SimServer) -> None:
    gw = _native(sim, token="wrong")
    try:
        with pytest.raises(AuthError, match="401"):
            await gw.status(60)
    finally:
        await gw.aclose()
    ro = _native(sim, token=sim.read_token)
    try:
        with pytest.raises(AuthError, match="403"):
            await ro.set_kill_switch(
                "support-chat", enabled=True, reason="r", actor="a", idempotency_key="k"
            )
    finally:
        await ro.aclose()


# -------------------------------------------------------------- actions


async def test_kill_switch_applies_once_per_idempotency_key(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        first = await http.post(
            "/v1/routes/support-chat/kill-switch",
            json=_act_body(enabled=True),
            headers={"Idempotency-Key": "inc-42-kill"},
        )
        assert first.status_code == 201
        record = msgspec.json.decode(first.content, type=ActionRecord)
        assert record.kind == "kill_switch" and record.state == "applied"
        assert record.before["kill_switch"] is False and record.after["kill_switch"] is True
        assert record.actor == "alice@test" and record.idempotency_key == "inc-42-kill"
        actions_before = len(sim.engine.actions)
        events_before = sim.engine.seq

        again = await http.post(
            "/v1/routes/support-chat/kill-switch",
            json=_act_body(enabled=True),
            headers={"Idempotency-Key": "inc-42-kill"},
        )
        assert again.status_code == 200
        assert again.headers.get("idempotent-replayed") == "true"
        assert msgspec.json.decode(again.content, type=ActionRecord) == record
        assert len(sim.engine.actions) == actions_before
        assert sim.engine.seq == events_before, "a replay emits no second action event"

        read = await http.get(f"/v1/actions/{record.id}")
        assert read.status_code == 200
        assert msgspec.json.decode(read.content, type=ActionRecord) == record

        # The same key for a different request is a conflict, not a silent replay.
        other = await http.post(
            "/v1/routes/support-chat/kill-switch",
            json=_act_body(enabled=False),
            headers={"Idempotency-Key": "inc-42-kill"},
        )
        assert other.status_code == 409
        assert _error(other).error.field == "Idempotency-Key"
    assert sim.engine.fleet.routes["support-chat"].kill_switch is True


async def test_conflicting_state_is_409(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.post(
            "/v1/routes/support-chat/kill-switch",
            json=_act_body(enabled=False),
            headers={"Idempotency-Key": "off-when-off"},
        )
        assert resp.status_code == 409, "turning off a switch that is off changes nothing"
        current = sim.engine.fleet.routes["support-chat"].version
        resp = await http.post(
            "/v1/routes/support-chat/rollback",
            json=_act_body(to_version=current),
            headers={"Idempotency-Key": "rb-same"},
        )
        assert resp.status_code == 409
        assert _error(resp).error.code == "conflict"


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        ("kill-switch", _act_body(enabled=True), {}, "Idempotency-Key"),
        ("kill-switch", {"actor": "a"}, {"Idempotency-Key": "k1"}, None),
        ("kill-switch", _act_body(reason=" "), {"Idempotency-Key": "k2"}, "reason"),
        ("rollback", _act_body(to_version="v999"), {"Idempotency-Key": "k3"}, "to_version"),
        ("rollback", _act_body(), {"Idempotency-Key": "k4"}, "to_version"),
        ("failover", _act_body(to_tier="nobody/none"), {"Idempotency-Key": "k5"}, "to_tier"),
    ],
)
async def test_invalid_action_bodies_are_422(
    sim: SimServer, path: str, body: dict[str, object], headers: dict[str, str], field: str | None
) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.post(f"/v1/routes/support-chat/{path}", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    err = _error(resp).error
    assert err.code == "invalid"
    if field is not None:
        assert err.field == field
    assert not sim.engine.actions, "nothing was applied"


async def test_body_that_is_not_json_is_422(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.post(
            "/v1/routes/support-chat/kill-switch",
            content=b"{not json",
            headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        )
    assert resp.status_code == 422


async def test_unknown_route_and_action_are_404(sim: SimServer) -> None:
    async with _client(sim, sim.token) as http:
        resp = await http.post(
            "/v1/routes/no-such-route/kill-switch",
            json=_act_body(enabled=True),
            headers={"Idempotency-Key": "k"},
        )
        assert resp.status_code == 404
        assert (await http.get("/v1/actions/act_missing")).status_code == 404


async def test_native_adapter_acts_and_reads_back(sim: SimServer) -> None:
    gw = _native(sim)
    try:
        for capability in (GatewayStatus, GatewayStream, KillSwitch, Rollback, Failover):
            assert isinstance(gw, capability)
        assert isinstance(gw, TraceStore) and isinstance(gw, TraceSearch)
        routes = await gw.routes()
        chat = next(r for r in routes.routes if r.name == "support-chat")
        fallback = chat.fallbacks[0].key
        rec = await gw.failover(
            "support-chat", to_tier=fallback, reason="r", actor="a", idempotency_key="fo-1"
        )
        assert rec.after["failover_to"] == fallback
        assert await gw.get_action(rec.id) == rec
        older = next(v.version for v in chat.history if v.version != chat.version)
        rb = await gw.rollback(
            "support-chat", to_version=older, reason="r", actor="a", idempotency_key="rb-1"
        )
        assert rb.before["version"] == chat.version and rb.after["version"] == older
        after = next(r for r in (await gw.routes()).routes if r.name == "support-chat")
        assert after.version == older
        assert after.failover_to == fallback, "the forced tier is visible, so it can be undone"
        with pytest.raises(NotFoundError):
            await gw.get_action("act_nope")
        with pytest.raises(RemoteError) as info:
            await gw.rollback(
                "support-chat", to_version=older, reason="r", actor="a", idempotency_key="rb-2"
            )
        assert info.value.status == 409
        status = await gw.status(60)
        assert status.received_at is not None
    finally:
        await gw.aclose()


async def test_failover_moves_the_next_requests(sim: SimServer) -> None:
    gw = _native(sim)
    try:
        routes = await gw.routes()
        chat = next(r for r in routes.routes if r.name == "support-chat")
        target = chat.fallbacks[0].key
        await gw.failover(
            "support-chat", to_tier=target, reason="r", actor="a", idempotency_key="move"
        )
        sim.step(60)
        status = await gw.status(30)
        mix = {
            t.tier: t.share
            for t in next(r for r in status.routes if r.route == "support-chat").tier_mix
        }
        assert mix[target] > 0.95
    finally:
        await gw.aclose()


# ------------------------------------------------------------- websocket


async def _read_events(ws: object, n: int) -> list[Event]:
    out = []
    decoder = msgspec.json.Decoder(Event)
    for _ in range(n):
        raw = await asyncio.wait_for(ws.recv(), 5)  # type: ignore[attr-defined]
        out.append(decoder.decode(raw))
    return out


def _ws_url(sim: SimServer, since: int | None = None) -> str:
    url = sim.url.replace("http://", "ws://") + "/v1/events"
    return url if since is None else f"{url}?since={since}"


async def test_event_stream_resumes_after_a_reconnect_without_gaps(sim: SimServer) -> None:
    auth = {"Authorization": f"Bearer {sim.token}"}
    async with connect(
        _ws_url(sim, since=sim.engine.seq), additional_headers=auth, max_queue=None
    ) as ws:
        (hello,) = await _read_events(ws, 1)
        assert hello.type == "hello"
        sim.step(10)  # two status snapshots at least
        first = await _read_events(ws, 2)
    assert [e.seq for e in first] == [hello.seq + 1, hello.seq + 2]
    last = first[-1].seq
    sim.step(30)  # events happen while we are away
    async with connect(_ws_url(sim, since=last), additional_headers=auth, max_queue=None) as ws:
        events = await _read_events(ws, 4)
    assert events[0].type == "hello"
    assert [e.seq for e in events[1:]] == [last + 1, last + 2, last + 3]
    assert all(e.type in ("status", "alert", "action", "trace") for e in events[1:])


async def test_resume_from_too_far_back_answers_reset(sim: SimServer) -> None:
    engine = sim.engine
    engine.events = deque(engine.events, maxlen=5)
    sim.step(60)
    oldest = engine.events[0].seq
    auth = {"Authorization": f"Bearer {sim.token}"}
    async with connect(_ws_url(sim, since=1), additional_headers=auth, max_queue=None) as ws:
        hello, reset, first = await _read_events(ws, 3)
    assert hello.type == "hello"
    assert reset.type == "reset" and reset.detail and "gone" in reset.detail
    assert first.seq == oldest


async def test_event_stream_needs_a_token(sim: SimServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(_ws_url(sim)):
            pass
    assert info.value.response.status_code == 401


async def test_action_events_reach_the_stream(sim: SimServer) -> None:
    gw = _native(sim)
    stream = gw.events(sim.engine.seq)
    try:
        assert (await asyncio.wait_for(anext(stream), 5)).type == "hello"
        await gw.set_kill_switch(
            "doc-extract", enabled=True, reason="r", actor="bob", idempotency_key="ev-1"
        )
        event = await asyncio.wait_for(anext(stream), 5)
        assert event.type == "action" and event.action is not None
        assert event.action.route == "doc-extract" and event.action.actor == "bob"
    finally:
        await stream.aclose()
        await gw.aclose()


# ---------------------------------------------------------------- faults


async def test_fault_5xx_is_a_json_503_and_a_remote_error(sim: SimServer) -> None:
    sim.engine.faults.error_rate = 1.0
    async with _client(sim, sim.token) as http:
        resp = await http.get("/v1/status")
    assert resp.status_code == 503 and _error(resp).error.code == "unavailable"
    gw = _native(sim)
    try:
        with pytest.raises(RemoteError) as info:
            await gw.status(60)
        assert info.value.status == 503
    finally:
        await gw.aclose()


async def test_fault_slow_answers_time_out_as_unreachable(sim: SimServer) -> None:
    sim.engine.faults.slow_ms = 1500
    gw = _native(sim, timeout_s=0.2)
    try:
        with pytest.raises(UnreachableError, match="timed out"):
            await gw.routes()
    finally:
        await gw.aclose()


async def test_faults_can_be_set_over_http_by_the_admin_only(sim: SimServer) -> None:
    async with _client(sim, sim.read_token) as http:
        denied = await http.post("/v1/sim/faults", json={"error_rate": 1.0})
    assert denied.status_code == 403
    async with _client(sim, sim.token) as http:
        ok = await http.post("/v1/sim/faults", json={"flap_period_s": 1000.0})
        assert ok.status_code == 200
    assert sim.engine.faults.flap_period_s == 1000.0


async def test_flapping_gateway_alternates_up_and_down(sim: SimServer) -> None:
    sim.engine.faults.flap_period_s = 0.05
    codes = set()
    async with _client(sim, sim.token) as http:
        for _ in range(40):  # bounded: at most ~2 s
            codes.add((await http.get("/v1/routes")).status_code)
            if codes >= {200, 503}:
                break
            await asyncio.sleep(0.05)
    assert codes >= {200, 503}


async def test_dropped_stream_reconnects_and_resumes_without_gaps(sim: SimServer) -> None:
    sim.engine.faults.drop_ws_after = 3
    start = sim.engine.seq
    sim.step(60)  # a dozen events or more waiting
    gw = _native(sim)
    stream = gw.events(start)
    seqs: list[int] = []
    resets = 0
    try:
        for _ in range(40):  # bounded
            event = await asyncio.wait_for(anext(stream), 5)
            if event.type == "reset":
                resets += 1
            elif event.type != "hello":
                seqs.append(event.seq)
            if len(seqs) >= 8:
                break
    finally:
        await stream.aclose()
        await gw.aclose()
    assert resets >= 2, "each drop is reported in-band"
    assert seqs == list(range(start + 1, start + 9)), "nothing lost, nothing repeated"


async def test_unreachable_gateway_is_unreachable_error(tmp_path: Path) -> None:
    async with running_sim(warmup_s=0) as server:
        url = server.url
    gw = NativeGateway(Options(url=url, timeout_s=1), PluginContext(environ={}))
    try:
        with pytest.raises(UnreachableError, match="cannot reach"):
            await gw.status()
    finally:
        await gw.aclose()


# ---------------------------------------------------------- trace store


async def test_jaeger_queries_answer_in_the_api_v3_shape(sim: SimServer) -> None:
    async with _client(sim) as http:
        services = (await http.get("/api/v3/services")).json()["services"]
        assert "ai-gateway" in services
        start = "2026-11-24T02:00:00Z"
        found = await http.get(
            "/api/v3/traces",
            params={"query.service_name": "ai-gateway", "query.start_time_min": start,
                    "query.start_time_max": "2026-11-24T04:00:00Z", "query.num_traces": 5},
        )  # fmt: skip
        assert found.status_code == 200
        spans = [
            s
            for rs in found.json()["result"]["resourceSpans"]
            for ss in rs["scopeSpans"]
            for s in ss["spans"]
        ]
        trace_ids = {s["traceId"] for s in spans}
        assert 1 <= len(trace_ids) <= 5
        assert all(isinstance(s["kind"], int) for s in spans)
        one = next(iter(trace_ids))
        got = await http.get(f"/api/v3/traces/{one}")
        assert got.status_code == 200
        assert {
            s["traceId"]
            for rs in got.json()["result"]["resourceSpans"]
            for ss in rs["scopeSpans"]
            for s in ss["spans"]
        } == {one}
        missing = await http.get("/api/v3/traces", params={"query.service_name": "nobody"})
        assert missing.status_code == 404
        assert missing.json() == {"error": {"httpCode": 404, "message": "No traces found"}}
        assert (await http.get(f"/api/v3/traces/{'0' * 31}1")).status_code == 404


async def test_otlp_json_posted_to_v1_traces_is_served_back(
    sim: SimServer, shared_fixtures: Path
) -> None:
    files = sorted((shared_fixtures / "otlp").glob("*.json"))
    assert files
    body = files[0].read_bytes()
    doc = msgspec.json.decode(body)
    wanted = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].lower()
    async with _client(sim) as http:
        posted = await http.post(
            "/v1/traces", content=body, headers={"Content-Type": "application/json"}
        )
        assert posted.status_code == 200
        got = await http.get(f"/api/v3/traces/{wanted}")
    assert got.status_code == 200
    gw = _native(sim)
    try:
        trace = await gw.get_trace(wanted)
        assert trace.trace_id == wanted and trace.spans
        rows = await gw.search(TraceQuery(service="ai-gateway", limit=3))
        assert 1 <= len(rows) <= 3
    finally:
        await gw.aclose()


async def test_bad_otlp_is_400(sim: SimServer) -> None:
    async with _client(sim) as http:
        resp = await http.post(
            "/v1/traces", content=b"[1,2", headers={"Content-Type": "application/json"}
        )
    assert resp.status_code == 400


async def test_deeply_nested_otlp_is_a_one_line_400_and_the_server_goes_on(
    sim: SimServer,
) -> None:
    deep = b'{"resourceSpans": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    async with _client(sim) as http:
        resp = await http.post(
            "/v1/traces", content=deep, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 400
        message = _error(resp).error.message
        assert "nested too deeply" in message and "\n" not in message
        # The same for a protocol body: an action with a deep unknown field.
        act = await http.post(
            "/v1/routes/support-chat/kill-switch",
            content=b'{"reason": "r", "actor": "a", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            headers={"Authorization": f"Bearer {sim.token}", "Idempotency-Key": "deep-1"},
        )
        assert act.status_code == 400, act.text
        assert (await http.get("/healthz")).status_code == 200


async def test_a_search_ending_now_finds_the_newest_traces_of_a_sim_running_ahead() -> None:
    """At speed > 1 the simulated clock runs ahead of the wall clock: a search
    from a look-back to the client's "now" must still find the newest traces,
    through the native adapter and through a plain Jaeger client."""
    import time
    from datetime import UTC, datetime, timedelta

    from oncall_tui.sources.jaeger import JaegerStore
    from oncall_tui.sources.jaeger import Options as JaegerOptions

    start = datetime.now(UTC) - timedelta(seconds=60)
    async with running_sim(seed=7, warmup_s=60, start=start) as server:
        server.step(600)  # ten simulated minutes ahead of the wall clock
        newest = max(server.engine.store.traces.values(), key=lambda s: min(x.start_ns for x in s))
        newest_id = newest[0].trace_id
        newest_start = min(x.start_ns for x in newest)
        now = time.time_ns()
        assert newest_start > now + 300 * 10**9, "the sim runs ahead of the wall clock"
        query = TraceQuery(start_ns=now - 3600 * 10**9, end_ns=now, limit=5)
        gw = _native(server)
        jaeger = JaegerStore(JaegerOptions(url=server.url, timeout_s=5), PluginContext(environ={}))
        try:
            for rows in (await gw.search(query), await jaeger.search(TraceQuery(limit=5))):
                assert rows and rows[0].trace_id == newest_id, [r.trace_id for r in rows]
            # A real bound in the past is kept exactly: nothing newer comes back.
            past = now - 3600 * 10**9
            assert await gw.search(TraceQuery(start_ns=past - 10**9, end_ns=past)) == []
        finally:
            await gw.aclose()
            await jaeger.aclose()


async def test_a_firing_alerts_summary_follows_its_figure_without_flooding() -> None:
    """Fallback-default drives the primary tier's share from ~70% to ~1%: the
    alert said so once when it started and must not keep saying "70%"."""
    from oncall_tui.sim.engine import ALERT_UPDATE_EVERY_S

    async with running_sim(scenarios=("fallback-default",), seed=7, warmup_s=0) as server:
        server.step(900)
        gw = _native(server)
        try:
            (alert,) = [a for a in await gw.alerts() if a.kind == "tier_mix_below_slo"]
            share = next(r for r in (await gw.status(60)).routes if r.route == "support-chat")
        finally:
            await gw.aclose()
        events = [
            e.alert for e in server.engine.events if e.alert is not None and e.alert.id == alert.id
        ]
    now_share = share.tier_mix[0].share
    assert alert.value is not None and abs(alert.value - now_share) <= 0.05, (alert, now_share)
    assert f"serves {alert.value:.0%}" in alert.summary
    assert alert.updated_at is not None and alert.updated_at > alert.started_at
    first, *updates = events
    assert first.updated_at is None and first.value is not None and first.value > 0.5
    assert updates and all(u.started_at == first.started_at for u in updates)
    values = [first.value, *(u.value for u in updates)]
    assert values == sorted(values, reverse=True), "each update says how far it fell"
    # Rate-limited: one event per alert per ALERT_UPDATE_EVERY_S at most.
    times = [first.started_at, *(u.updated_at for u in updates)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]  # type: ignore[operator]
    assert min(gaps) >= ALERT_UPDATE_EVERY_S
    assert len(events) <= 900 / ALERT_UPDATE_EVERY_S + 1


async def test_alert_updates_reach_the_event_stream_and_resolve_with_the_last_figure() -> None:
    async with running_sim(scenarios=("fallback-default",), seed=7, warmup_s=0) as server:
        server.step(300)
        server.engine.disable("fallback-default")
        server.engine.fleet.sticky.clear()  # the sessions go home
        server.step(120)
        gw = _native(server)
        seen: list[Event] = []
        try:
            async for event in gw.events(since=0):
                if (
                    event.type == "alert"
                    and event.alert
                    and event.alert.kind == "tier_mix_below_slo"
                ):
                    seen.append(event)
                if event.type != "hello" and event.seq >= server.engine.seq:
                    break
        finally:
            await gw.aclose()
    started, *updated, resolved = [e.alert for e in seen]
    assert started is not None and resolved is not None
    assert updated and all(a is not None and a.updated_at for a in updated)
    assert resolved.resolved_at is not None
    assert resolved.summary == updated[-1].summary  # type: ignore[union-attr]


class _FutureEvent(msgspec.Struct):
    seq: int
    type: str
    gateway_time: object
    forecast: str = "rain"


async def test_an_unknown_event_type_is_skipped_not_a_lost_stream(sim: SimServer) -> None:
    """Versioning: a newer gateway may send event types this client does not know."""
    engine = sim.engine
    start = engine.seq
    engine.seq += 1
    engine.events.append(_FutureEvent(engine.seq, "forecast", engine.gateway_time()))  # type: ignore[arg-type]
    engine.emit("alert", detail="after the unknown one")
    gw = _native(sim)
    stream = gw.events(start)
    try:
        hello = await asyncio.wait_for(anext(stream), 5)
        nxt = await asyncio.wait_for(anext(stream), 5)
    finally:
        await stream.aclose()
        await gw.aclose()
    assert hello.type == "hello"
    assert (nxt.type, nxt.seq, nxt.detail) == ("alert", start + 2, "after the unknown one")


async def test_jaeger_bad_parameter_is_400_in_jaegers_shape(sim: SimServer) -> None:
    async with _client(sim) as http:
        resp = await http.get(
            "/api/v3/traces",
            params={"query.service_name": "ai-gateway", "query.start_time_min": "yesterday"},
        )
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["httpCode"] == 400 and "malformed parameter" in err["message"]


async def test_stream_without_since_replays_what_is_held_without_a_reset(sim: SimServer) -> None:
    engine = sim.engine
    engine.events = deque(engine.events, maxlen=5)
    sim.step(30)
    oldest = engine.events[0].seq
    auth = {"Authorization": f"Bearer {sim.token}"}
    async with connect(_ws_url(sim), additional_headers=auth, max_queue=None) as ws:
        hello, first = await _read_events(ws, 2)
    assert hello.type == "hello"
    assert first.type != "reset" and first.seq == oldest


async def test_otlp_ingest_takes_gzip_and_chunked_bodies_like_collectors_send(
    sim: SimServer, shared_fixtures: Path
) -> None:
    import gzip

    body = sorted((shared_fixtures / "otlp").glob("*.json"))[0].read_bytes()
    wanted = msgspec.json.decode(body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]

    async def chunks() -> AsyncIterator[bytes]:
        packed = gzip.compress(body)
        for i in range(0, len(packed), 100):
            yield packed[i : i + 100]

    async with _client(sim) as http:
        posted = await http.post(
            "/v1/traces",
            content=chunks(),  # no length known: httpx sends Transfer-Encoding: chunked
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert posted.status_code == 200, posted.text
        assert (await http.get(f"/api/v3/traces/{wanted.lower()}")).status_code == 200
        bad = await http.post(
            "/v1/traces", content=b"not gzip", headers={"Content-Encoding": "gzip"}
        )
        assert bad.status_code == 400


def test_gateway_watch_says_when_an_alert_was_updated() -> None:
    from datetime import UTC, datetime

    from oncall_tui.cli.gateway_cmd import _event_line
    from oncall_tui.core.gateway import Alert

    t = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    alert = Alert("r:k", "r", "k", "high", "r: primary tier serves 57%", t, value=0.57)
    firing = Event(seq=1, type="alert", gateway_time=t, alert=alert)
    moved = msgspec.structs.replace(alert, summary="r: primary tier serves 38%", updated_at=t)
    updated = Event(seq=2, type="alert", gateway_time=t, alert=moved)
    gone = msgspec.structs.replace(moved, resolved_at=t)
    resolved = Event(seq=3, type="alert", gateway_time=t, alert=gone)
    assert "alert FIRING [high] r: primary tier serves 57%" in _event_line(firing)
    assert "alert updated [high] r: primary tier serves 38%" in _event_line(updated)
    assert "alert resolved" in _event_line(resolved)
