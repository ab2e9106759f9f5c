"""``jaeger``: Jaeger's query service as a trace store (TraceStore, TraceSearch).

api_v3 first (``/api/v3/traces/{id}``, OTLP inside ``{"result": ...}``); when
that route is missing (older deployments answer 404 for the whole path) the
v1 ``/api/traces/{id}`` (µs, references) is tried. A v3 search with no match
answers 404: that is "no traces", not an error. Search parameters are sent in
both spellings (``query.service_name`` of older releases, ``query.serviceName``
of newer ones): the gateway reads the names it knows and ignores the rest.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.summary import summarize
from oncall_tui.errors import NotFoundError, TraceFormatError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.detect import read_traces

SYSTEM = "jaeger"
LOOKBACK_NS = 3600 * 1_000_000_000


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # the query service, e.g. http://127.0.0.1:16686
    api: Literal["auto", "v3", "v1"] = "auto"
    param_style: Literal["both", "snake", "camel"] = "both"
    token_env: str | None = None  # bearer token (behind an auth proxy)
    timeout_s: float = 10.0


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decode(content: bytes, where: str) -> list[Trace]:
    try:
        return read_traces(content, source=where)
    except TraceFormatError as exc:
        raise TraceFormatError(f"{SYSTEM}: {exc}") from None


class JaegerStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        self.options = options
        self.base_url = options.url.rstrip("/")
        token = ctx.secret(options.token_env)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = http.client(ctx, self.base_url, headers=headers, timeout_s=options.timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_trace(self, trace_id: str) -> Trace:
        paths = {
            "v3": [f"/api/v3/traces/{trace_id}"],
            "v1": [f"/api/traces/{trace_id}"],
            "auto": [f"/api/v3/traces/{trace_id}", f"/api/traces/{trace_id}"],
        }[self.options.api]
        for path in paths:
            try:
                resp = await http.request(self._http, "GET", path, SYSTEM)
            except NotFoundError:
                continue
            wanted = trace_id.lower().rjust(32, "0")
            traces = _decode(resp.content, f"{SYSTEM} {path}")
            for trace in traces:
                if trace.trace_id == wanted:
                    return trace
            if traces:
                return traces[0]
        raise NotFoundError(f"trace {trace_id} not found on {SYSTEM} at {self.base_url}")

    def _params(self, query: TraceQuery) -> dict[str, Any]:
        end = query.end_ns or time.time_ns()
        start = query.start_ns or end - LOOKBACK_NS
        values: dict[str, Any] = {
            "service_name": query.service,
            "operation_name": query.operation,
            "start_time_min": _rfc3339(start),
            "start_time_max": _rfc3339(end),
            "num_traces": query.limit,
        }
        params: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if self.options.param_style in ("both", "snake"):
                params[f"query.{name}"] = value
            if self.options.param_style in ("both", "camel"):
                head, *rest = name.split("_")
                params["query." + head + "".join(p.title() for p in rest)] = value
        attributes: dict[str, str] = {}
        if query.errors_only:
            attributes["error"] = "true"
        if query.route:
            attributes["gen_ai.route"] = query.route
        if attributes:
            params["query.attributes"] = msgspec.json.encode(attributes).decode()
        return params

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        try:
            resp = await http.request(
                self._http, "GET", "/api/v3/traces", SYSTEM, params=self._params(query)
            )
        except NotFoundError:
            return []  # Jaeger's way of saying "no traces"
        rows = [summarize(t) for t in _decode(resp.content, f"{SYSTEM} search")]
        if query.errors_only:
            rows = [r for r in rows if r.error_count]
        rows.sort(key=lambda r: r.start_ns or 0, reverse=True)
        return rows[: query.limit]


def _factory(options: Options, ctx: PluginContext) -> JaegerStore:
    return JaegerStore(options, ctx)


PLUGIN = Plugin(
    name="jaeger",
    summary="Jaeger query service (api_v3, v1 fallback) as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
