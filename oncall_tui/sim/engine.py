"""The simulator's state machine: traffic steps, events, actions, faults.

No I/O here: ``server.py`` exposes it over HTTP/WebSocket, tests step it
directly. Time is simulated (``Fleet.t``); ``step`` advances it and
generates the traffic of that interval.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import msgspec

from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import assemble
from oncall_tui.core.gateway import (
    ActionKind,
    ActionRecord,
    ActionRequest,
    Alert,
    Event,
    RoutesResponse,
    StatusResponse,
)
from oncall_tui.core.models import Span
from oncall_tui.sim.fleet import NORMAL_CHUNK_CHARS, Fleet, Record
from oncall_tui.sim.scenarios import SCENARIOS
from oncall_tui.sim.traces import TraceStore, build_trace

EVENT_BUFFER = 2000  # events kept for resume; older ones answer with ``reset``
STATUS_EVERY_S = 5.0  # a status event every this many simulated seconds
TRACE_SAMPLE = 0.05  # share of ordinary requests kept as traces
NOTABLE_TRACES_PER_STEP = 20
ANALYSED_TRACES_PER_STEP = 1  # ~0.5 ms each; enough to notice a cycle within seconds
CYCLE_ALERT_S = 60.0  # a "cycle" alert stays up this long after the last cycle seen
# A firing alert's summary follows its figure: an update event when the figure
# moved by this share of itself (or ALERT_UPDATE_ABS for shares near zero),
# at most once per ALERT_UPDATE_EVERY_S simulated seconds per alert, so the
# stream stays readable.
ALERT_UPDATE_REL = 0.1
ALERT_UPDATE_ABS = 0.02
ALERT_UPDATE_EVERY_S = 30.0
STALE_DATA_ALERT = 0.5  # share of retrievals older than the freshness promise
CHUNK_ALERT_CHARS = 8.0  # median stream chunk below this: the stream is fragmented


class ProtocolError(Exception):
    """Maps onto an HTTP error: status, code, message, optional field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass
class Faults:
    slow_ms: int = 0  # added to every HTTP answer
    error_rate: float = 0.0  # share of HTTP answers that are 503
    drop_ws_after: int = 0  # close each WebSocket after this many events (0: never)
    flap_period_s: float = 0.0  # alternate up/down (503) every this many real seconds


class SimEngine:
    def __init__(
        self, *, seed: int = 42, scenarios: tuple[str, ...] = (), start: datetime | None = None
    ) -> None:
        self.fleet = Fleet(seed=seed) if start is None else Fleet(seed=seed, start=start)
        self.store = TraceStore()
        self.events: deque[Event] = deque(maxlen=EVENT_BUFFER)
        self.seq = 0
        # Names this run of the sequence: a restarted simulator counts from 1
        # again under a new epoch, so a client can tell (docs/protocol.md).
        self.epoch = secrets.token_hex(8)
        self.actions: dict[str, ActionRecord] = {}
        self.by_key: dict[str, tuple[str, ActionRequest, str]] = {}
        self.faults = Faults()
        self._since_status = 0.0
        self._alerts: dict[str, Alert] = {}
        self._alert_emitted: dict[str, float] = {}  # alert id -> sim t of its last event
        self._cycle_seen: dict[str, tuple[float, str]] = {}  # route -> (sim t, trace id)
        self._listeners: list[object] = []
        for name in scenarios:
            self.enable(name)

    # -------------------------------------------------------------- events

    def emit(self, type_: str, **fields: object) -> Event:
        self.seq += 1
        event = Event(seq=self.seq, type=type_, gateway_time=self.fleet.now(), **fields)  # type: ignore[arg-type]
        self.events.append(event)
        return event

    def events_since(self, since: int) -> list[Event]:
        """Events after ``since``; a ``reset`` first when some were dropped."""
        out: list[Event] = []
        oldest = self.events[0].seq if self.events else self.seq + 1
        if since + 1 < oldest:
            out.append(
                Event(
                    seq=since,
                    type="reset",
                    gateway_time=self.fleet.now(),
                    detail=f"events {since + 1}..{oldest - 1} are gone; re-read /v1/status",
                )
            )
        out.extend(e for e in self.events if e.seq > since)
        return out

    # ----------------------------------------------------------- scenarios

    def enable(self, name: str) -> None:
        if name not in SCENARIOS:
            known = ", ".join(sorted(SCENARIOS))
            raise ProtocolError(422, "invalid", f"unknown scenario {name!r} (known: {known})")
        scenario = self.fleet.enable(name)
        self.emit("alert", route=scenario.route, detail=f"scenario started: {name}")

    def disable(self, name: str) -> None:
        self.fleet.disable(name)

    # -------------------------------------------------------------- traffic

    def step(self, seconds: float, *, tick: float = 1.0) -> None:
        """Advance simulated time by ``seconds``, generating its traffic."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(tick, remaining)
            self._tick(dt)
            remaining -= dt

    def _tick(self, dt: float) -> None:
        fleet = self.fleet
        rng = fleet.rng
        fleet.t += dt
        before = set(fleet.changed)
        fleet.apply_changes()
        for name in sorted(fleet.changed - before):
            sc = SCENARIOS[name]
            self.emit("alert", route=sc.route, detail=f"scenario change made: {name}")
        notable_left = NOTABLE_TRACES_PER_STEP
        scenario_routes = {SCENARIOS[name].route for name in fleet.active}
        analyse_left = ANALYSED_TRACES_PER_STEP
        for route in fleet.routes.values():
            expected = route.rps * dt
            n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(n):
                session = f"s{rng.randrange(400)}"
                rec = fleet.simulate(route, session)
                interesting = (not rec.ok) or rec.refused or rec.attempts > 1 or rec.fell_back
                # A route a scenario names is sampled alike before and after a
                # mid-run change: a store whose sampling shifted at the change
                # would bias the baseline ``trace onset`` compares against.
                forced = route.name in scenario_routes or route.kill_switch
                keep = rng.random() < TRACE_SAMPLE or (
                    (interesting or forced) and notable_left > 0 and rng.random() < 0.5
                )
                if keep:
                    if interesting or forced:
                        notable_left -= 1
                    spans = build_trace(fleet, route, rec)
                    self.store.add(spans)
                    if analyse_left > 0 and (route.agentic or route.structured):
                        # What only a trace shows (a call cycle) is found the way
                        # a responder's tools find it: by the trace engine.
                        analyse_left -= 1
                        if analyze(assemble(spans, source="sim")[0]).cycles:
                            rec.notable = True
                            interesting = True
                            self._cycle_seen[route.name] = (fleet.t, rec.trace_id or "")
                    if interesting:
                        self.emit("trace", trace_id=rec.trace_id, route=route.name)
                fleet.records.append(rec)
        fleet.prune()
        fleet.reset_quotas()
        self._since_status += dt
        if self._since_status >= STATUS_EVERY_S:
            self._since_status = 0.0
            status = self.status(60)
            self.emit("status", status=status)
            self._check_alerts(status)

    def ingest(self, spans: list[Span]) -> None:
        self.store.add(spans)

    # --------------------------------------------------------------- reads

    def routes(self) -> RoutesResponse:
        return RoutesResponse(
            gateway_time=self.fleet.now(),
            routes=tuple(r.to_route() for r in self.fleet.routes.values()),
        )

    def status(self, window_s: int) -> StatusResponse:
        if window_s <= 0 or window_s > 3600:
            raise ProtocolError(422, "invalid", "window must be 1..3600 seconds", "window")
        return StatusResponse(
            gateway_time=self.fleet.now(),
            window_s=window_s,
            routes=tuple(self.fleet.status(r, window_s) for r in self.fleet.routes.values()),
        )

    def records(self, route: str) -> list[Record]:
        return [r for r in self.fleet.records if r.route == route]

    def _check_alerts(self, status: StatusResponse) -> None:
        for rs in status.routes:
            primary = rs.tier_mix[0] if rs.tier_mix else None
            # kind -> (severity, summary, the figure the summary quotes)
            firing: dict[str, tuple[str, str, float | None]] = {}
            if (
                primary is not None
                and rs.tier_slo is not None
                and rs.requests_per_s > 0
                and primary.share < rs.tier_slo
                and not rs.kill_switch
            ):
                firing["tier_mix_below_slo"] = (
                    "high",
                    f"{rs.route}: primary tier serves {primary.share:.0%} (SLO {rs.tier_slo:.0%})",
                    primary.share,
                )
            for p in rs.providers:
                if (
                    p.refusal_rate is not None
                    and p.refusal_baseline
                    and p.requests >= 20
                    and p.refusal_rate > 3 * p.refusal_baseline
                ):
                    firing[f"refusal_drift:{p.provider}"] = (
                        "medium",
                        f"{rs.route}: {p.provider} refuses {p.refusal_rate:.1%} "
                        f"(baseline {p.refusal_baseline:.1%})",
                        p.refusal_rate,
                    )
            for q in rs.quotas:
                if q.limit and q.remaining is not None and q.remaining < 0.1 * q.limit:
                    firing[f"quota_low:{q.provider}"] = (
                        "high",
                        f"{q.provider} quota {q.remaining} left of {q.limit}",
                        float(q.remaining),
                    )
            if rs.ttfv.p50_ms and rs.ttft.p50_ms and rs.ttfv.p50_ms > rs.ttft.p50_ms + 2000:
                firing["hidden_reasoning_latency"] = (
                    "medium",
                    f"{rs.route}: first visible token {rs.ttfv.p50_ms / 1000:.1f}s after "
                    f"request, first token {rs.ttft.p50_ms / 1000:.1f}s",
                    rs.ttfv.p50_ms - rs.ttft.p50_ms,
                )
            if (
                rs.retry_amplification
                and rs.retry_amplification > 1.8
                # Failover costs a second attempt too; only unexplained retries alarm.
                and rs.retry_amplification - 1 > 2 * (rs.fallback_rate or 0) + 0.1
            ):
                firing["retry_amplification"] = (
                    "high",
                    f"{rs.route}: {rs.retry_amplification:.1f} upstream attempts per request",
                    rs.retry_amplification,
                )
            if rs.chunk_chars_p50 is not None and rs.chunk_chars_p50 < CHUNK_ALERT_CHARS:
                firing["chunking_changed"] = (
                    "medium",
                    f"{rs.route}: stream chunks are {rs.chunk_chars_p50:.0f} characters "
                    f"(median; normally ~{NORMAL_CHUNK_CHARS:.0f})",
                    rs.chunk_chars_p50,
                )
            if rs.cache_hit_rate is not None and rs.cache_hit_rate < 0.15:
                firing["cache_hit_low"] = (
                    "medium",
                    f"{rs.route}: prompt cache hit rate {rs.cache_hit_rate:.0%}",
                    rs.cache_hit_rate,
                )
            if (
                rs.stale_data_rate is not None
                and rs.stale_data_rate > STALE_DATA_ALERT
                and rs.data_freshness_slo_s
                and rs.data_age_p50_s is not None
            ):
                firing["stale_data"] = (
                    "medium",
                    f"{rs.route}: {rs.stale_data_rate:.0%} of retrievals older than the "
                    f"{rs.data_freshness_slo_s / 60:.0f} min freshness promise "
                    f"(median data age {rs.data_age_p50_s / 3600:.1f} h)",
                    rs.stale_data_rate,
                )
            seen = self._cycle_seen.get(rs.route)
            if seen is not None and self.fleet.t - seen[0] <= CYCLE_ALERT_S:
                firing["cycle"] = (
                    "high",
                    f"{rs.route}: tool calls nested inside themselves (a call-graph cycle) "
                    f"in recent traces, e.g. {seen[1]}",
                    None,
                )
            for kind, (severity, summary, value) in firing.items():
                alert_id = f"{rs.route}:{kind}"
                old = self._alerts.get(alert_id)
                if old is None:
                    alert = Alert(
                        id=alert_id,
                        route=rs.route,
                        kind=kind.split(":")[0],
                        severity=severity,  # type: ignore[arg-type]
                        summary=summary,
                        started_at=self.fleet.now(),
                        trace_ids=rs.notable_traces,
                        value=value,
                    )
                elif self._moved(old, value) and (
                    self.fleet.t - self._alert_emitted.get(alert_id, 0.0) >= ALERT_UPDATE_EVERY_S
                ):
                    alert = msgspec.structs.replace(
                        old,
                        summary=summary,
                        value=value,
                        updated_at=self.fleet.now(),
                        trace_ids=rs.notable_traces or old.trace_ids,
                    )
                else:
                    continue
                self._alerts[alert_id] = alert
                self._alert_emitted[alert_id] = self.fleet.t
                self.emit("alert", alert=alert, route=rs.route)
            for alert_id in [a for a in self._alerts if a.startswith(rs.route + ":")]:
                if alert_id.split(":", 1)[1] not in firing:
                    gone = self._alerts.pop(alert_id)
                    self._alert_emitted.pop(alert_id, None)
                    resolved = Alert(
                        id=gone.id,
                        route=gone.route,
                        kind=gone.kind,
                        severity=gone.severity,
                        summary=gone.summary,
                        started_at=gone.started_at,
                        resolved_at=self.fleet.now(),
                        value=gone.value,
                        updated_at=gone.updated_at,
                    )
                    self.emit("alert", alert=resolved, route=rs.route)

    @staticmethod
    def _moved(old: Alert, value: float | None) -> bool:
        """Has the alert's figure moved enough to say so again?"""
        if value is None or old.value is None:
            return False
        return abs(value - old.value) >= max(ALERT_UPDATE_REL * abs(old.value), ALERT_UPDATE_ABS)

    def alerts(self) -> list[Alert]:
        return list(self._alerts.values())

    # ------------------------------------------------------------- actions

    def act(self, kind: ActionKind, route_name: str, req: ActionRequest, key: str) -> ActionRecord:
        if not key:
            raise ProtocolError(
                422, "invalid", "Idempotency-Key header is required", "Idempotency-Key"
            )
        if not req.reason.strip():
            raise ProtocolError(422, "invalid", "reason must not be empty", "reason")
        if not req.actor.strip():
            raise ProtocolError(422, "invalid", "actor must not be empty", "actor")
        previous = self.by_key.get(key)
        if previous is not None:
            action_id, first_req, first_route = previous
            if (first_req, first_route) != (req, route_name):
                raise ProtocolError(
                    409,
                    "conflict",
                    f"Idempotency-Key {key} was used for a different request",
                    "Idempotency-Key",
                )
            return self.actions[action_id]
        route = self.fleet.routes.get(route_name)
        if route is None:
            raise ProtocolError(404, "not_found", f"no route {route_name!r}")
        before: dict[str, str | bool | None] = {
            "kill_switch": route.kill_switch,
            "version": route.version,
            "failover_to": route.failover_to,
        }
        now = self.fleet.now()
        if kind == "kill_switch":
            enabled = True if req.enabled is None else req.enabled
            if route.kill_switch == enabled:
                state = "on" if enabled else "off"
                raise ProtocolError(
                    409, "conflict", f"{route_name}: the kill switch is already {state}"
                )
            route.kill_switch = enabled
            detail = "AI path off; static fallback serves" if enabled else "AI path restored"
        elif kind == "rollback":
            if not req.to_version:
                raise ProtocolError(422, "invalid", "to_version is required", "to_version")
            if req.to_version not in route.versions:
                known = ", ".join(route.versions)
                raise ProtocolError(
                    422, "invalid", f"no version {req.to_version!r} (known: {known})", "to_version"
                )
            if req.to_version == route.version:
                raise ProtocolError(409, "conflict", f"{route_name} already serves {route.version}")
            route.version = req.to_version
            detail = f"now serving {route.version} ({route.primary.key})"
        elif kind == "failover":
            keys = [t.key for t in [route.primary, *route.fallbacks]]
            if req.to_tier is not None and req.to_tier not in keys:
                raise ProtocolError(
                    422,
                    "invalid",
                    f"{req.to_tier!r} is not in the chain ({', '.join(keys)})",
                    "to_tier",
                )
            if req.to_tier == route.failover_to:
                raise ProtocolError(
                    409,
                    "conflict",
                    f"{route_name}: traffic is already "
                    + (f"forced to {req.to_tier}" if req.to_tier else "on its normal chain"),
                )
            route.failover_to = req.to_tier
            detail = f"traffic forced to {req.to_tier}" if req.to_tier else "failover cleared"
        else:
            raise ProtocolError(422, "invalid", f"unknown action {kind}")
        after: dict[str, str | bool | None] = {
            "kill_switch": route.kill_switch,
            "version": route.version,
            "failover_to": route.failover_to,
        }
        record = ActionRecord(
            id=f"act_{uuid.UUID(int=self.fleet.rng.getrandbits(128)).hex[:16]}",
            kind=kind,
            route=route_name,
            state="applied",
            actor=req.actor,
            reason=req.reason,
            idempotency_key=key,
            requested_at=now,
            applied_at=now,
            before=before,
            after=after,
            detail=detail,
        )
        self.actions[record.id] = record
        self.by_key[key] = (record.id, req, route_name)
        self.emit("action", action=record, route=route_name)
        return record

    def action(self, action_id: str) -> ActionRecord:
        record = self.actions.get(action_id)
        if record is None:
            raise ProtocolError(404, "not_found", f"no action {action_id!r}")
        return record

    def gateway_time(self) -> datetime:
        return self.fleet.now()
