"""One small Protocol per capability, probed with ``isinstance`` before use.

An adapter implements what its system can do and nothing more; the UI and the
CLI ask ``isinstance(adapter, KillSwitch)`` before offering the action, so no
"supports_x" flag is ever kept in sync by hand (k9s does the same).
All methods are async: adapters speak HTTP and WebSocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import msgspec

from oncall_tui.core.gateway import ActionRecord, Alert, Event, RoutesResponse, StatusResponse
from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery, OnsetWindow


class TraceQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    service: str | None = None
    route: str | None = None
    operation: str | None = None
    errors_only: bool = False
    start_ns: int | None = None  # window start; None: the store's default look-back
    end_ns: int | None = None
    limit: int = 20


# ------------------------------------------------------------------ traces


@runtime_checkable
class TraceStore(Protocol):
    """Fetch one whole trace by id (paging inside; partial traces say so)."""

    async def get_trace(self, trace_id: str) -> Trace: ...


@runtime_checkable
class TraceSearch(Protocol):
    async def search(self, query: TraceQuery) -> list[TraceSummary]: ...


@runtime_checkable
class RecentTraces(Protocol):
    """Whole traces with spans in a window, read in one paged sweep (Phoenix)."""

    async def recent_traces(self, query: TraceQuery) -> list[Trace]: ...


@runtime_checkable
class TraceTail(Protocol):
    """Live: summaries of new traces as the store receives them."""

    def tail(self, query: TraceQuery) -> AsyncIterator[TraceSummary]: ...


@runtime_checkable
class FleetCounts(Protocol):
    """Per-route, per-bucket finding counts and change events computed in the
    store's own engine (ClickHouse SQL, TraceQL metrics): ``trace onset``
    prefers this to sampling traces and analysing them here."""

    async def onset_window(self, query: OnsetQuery) -> OnsetWindow: ...


# ------------------------------------------------------------------ flags


@runtime_checkable
class FlagEvents(Protocol):
    """A flag service that can list its change events (flag turned on or off,
    strategy or variants changed) in a window, as ``kind="flag"`` changes for
    ``trace onset``; a flag the config maps to a route lands on that route."""

    async def flag_events(self, since_ns: int, until_ns: int) -> list[ChangeEvent]: ...


# ------------------------------------------------------------------ gateways


@runtime_checkable
class GatewayStatus(Protocol):
    """Routes and their live status (core/gateway.py; docs/protocol.md)."""

    async def routes(self) -> RoutesResponse: ...

    async def status(self, window_s: int = 300) -> StatusResponse: ...


@runtime_checkable
class GatewayStream(Protocol):
    """The event stream, resumable: ``since`` is the last seq the caller saw.
    Implementations reconnect with backoff themselves and yield a ``reset``
    event when events were lost in between."""

    def events(self, since: int | None = None) -> AsyncIterator[Event]: ...


@runtime_checkable
class GatewayAlerts(Protocol):
    """Alerts the gateway currently has firing (``GET /v1/alerts``)."""

    async def alerts(self) -> list[Alert]: ...


# (gateway capability Protocols: end of section)


# ------------------------------------------------------------------ actions
# What the action lifecycle (oncall_tui/actions) needs from an adapter: each
# call takes the caller's idempotency key and is safe to repeat with it; the
# adapter reports the system's answer as an ActionRecord (adapters for systems
# with no action records, like a flag service, synthesise one).


@runtime_checkable
class KillSwitch(Protocol):
    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord: ...


@runtime_checkable
class Rollback(Protocol):
    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord: ...


@runtime_checkable
class Failover(Protocol):
    async def failover(
        self, route: str, *, to_tier: str | None, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord: ...


class ActionIntent(msgspec.Struct, frozen=True, omit_defaults=True):
    """What an action wants to be true afterwards, for capture and read-back."""

    kind: str  # "kill_switch" | "rollback" | "failover"
    route: str
    enabled: bool | None = None  # kill_switch: True = switch on (AI off)
    to_version: str | None = None
    to_tier: str | None = None


class Observation(msgspec.Struct, frozen=True, omit_defaults=True):
    """One read-back through the path real traffic uses."""

    holds: bool  # does the intended state hold, as traffic sees it?
    detail: str  # one line a person reads: what was seen
    state: dict[str, str | bool | float | None] = {}


@runtime_checkable
class Verifiable(Protocol):
    """What the action lifecycle needs besides the action call itself.

    ``capture`` reads the state an action would replace (for the plan and the
    undo); ``observe`` reads back through the path real traffic uses (an SDK's
    client API, a gateway's live status), never the admin write path alone.
    ``repeat_safe`` says a resend of the same call cannot double-apply: the
    call sets a state (Unleash on/off) or the target honours the idempotency
    key (the native protocol). Only then does the executor retry.
    """

    target: str  # where, for the plan: "unleash at http://..."

    def repeat_safe(self, kind: str) -> bool: ...

    async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]: ...

    async def observe(self, intent: ActionIntent) -> Observation: ...


# (action capability Protocols: end of section)
