"""``tempo``: Grafana Tempo as a trace store (TraceStore, TraceSearch).

``/api/v2/traces/{id}`` first (``{trace, status}``; ``PARTIAL`` when the trace
exceeded Tempo's size limit, shown as partial with Tempo's message), then
v1 ``/api/traces/{id}`` for older releases. Search is TraceQL
(``/api/search?q=``). Multi-tenant deployments need ``X-Scope-OrgID``.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.errors import NotFoundError, TraceFormatError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.detect import read_traces

SYSTEM = "tempo"
LOOKBACK_S = 3600


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. http://127.0.0.1:3200
    tenant: str | None = None  # sent as X-Scope-OrgID
    token_env: str | None = None
    timeout_s: float = 10.0


class _SpanSet(msgspec.Struct):
    matched: int | None = None


class _Hit(msgspec.Struct, rename="camel"):
    trace_id: str = msgspec.field(name="traceID", default="")
    root_service_name: str | None = None
    root_trace_name: str | None = None
    start_time_unix_nano: int | str | None = None
    duration_ms: float | None = None
    span_set: _SpanSet | None = None


class _SearchResponse(msgspec.Struct):
    traces: list[_Hit] = []


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def traceql(query: TraceQuery) -> str:
    terms = []
    if query.service:
        terms.append(f"resource.service.name = {_quote(query.service)}")
    if query.operation:
        terms.append(f"name = {_quote(query.operation)}")
    if query.errors_only:
        terms.append("status = error")
    if query.route:
        terms.append(f"span.gen_ai.route = {_quote(query.route)}")
    return "{ " + " && ".join(terms) + " }" if terms else "{}"


class TempoStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        self.options = options
        self.base_url = options.url.rstrip("/")
        headers = {"Accept": "application/json"}
        if options.tenant:
            headers["X-Scope-OrgID"] = options.tenant
        token = ctx.secret(options.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = http.client(ctx, self.base_url, headers=headers, timeout_s=options.timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_trace(self, trace_id: str) -> Trace:
        for path in (f"/api/v2/traces/{trace_id}", f"/api/traces/{trace_id}"):
            try:
                resp = await http.request(self._http, "GET", path, SYSTEM)
            except NotFoundError:
                continue
            try:
                traces = read_traces(resp.content, source=f"{SYSTEM} {path}")
            except TraceFormatError as exc:
                raise TraceFormatError(f"{SYSTEM}: {exc}") from None
            if traces:
                return traces[0]
        raise NotFoundError(f"trace {trace_id} not found on {SYSTEM} at {self.base_url}")

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        end_s = (query.end_ns // 1_000_000_000) if query.end_ns else int(time.time())
        start_s = (query.start_ns // 1_000_000_000) if query.start_ns else end_s - LOOKBACK_S
        params: dict[str, Any] = {
            "q": traceql(query),
            "limit": query.limit,
            "start": start_s,
            "end": end_s,
        }
        resp = await http.request(self._http, "GET", "/api/search", SYSTEM, params=params)
        try:
            body = msgspec.json.decode(resp.content, type=_SearchResponse)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise TraceFormatError(
                f"{SYSTEM}: /api/search answered an unexpected body: {exc}"
            ) from None
        rows = []
        for hit in body.traces:
            start = int(hit.start_time_unix_nano) if hit.start_time_unix_nano else None
            rows.append(
                TraceSummary(
                    trace_id=hit.trace_id.lower().rjust(32, "0"),
                    root_name=hit.root_trace_name,
                    service=hit.root_service_name,
                    start_ns=start,
                    duration_ns=int(hit.duration_ms * 1_000_000) if hit.duration_ms else None,
                    error_count=(
                        hit.span_set.matched if query.errors_only and hit.span_set else None
                    ),
                )
            )
        return rows[: query.limit]


def _factory(options: Options, ctx: PluginContext) -> TempoStore:
    return TempoStore(options, ctx)


PLUGIN = Plugin(
    name="tempo",
    summary="Grafana Tempo (v2/v1 trace by id, TraceQL search) as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
