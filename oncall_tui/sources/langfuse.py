"""``langfuse``: Langfuse as a trace store (TraceStore, TraceSearch).

A trace is read from ``/api/public/v2/observations?traceId=...`` following
``meta.cursor``; servers without the v2 API (404) are read through the
deprecated ``/api/public/traces/{id}``. Basic auth with the project's public
and secret keys, each named by an env var. ``max_observations`` caps a trace:
past it the trace is partial with the reason.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import QualityNote, Span, Trace, TraceSummary
from oncall_tui.errors import MissingSecretError, NotFoundError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.formats.langfuse import decode_items
from oncall_tui.sources.formats.timefmt import iso_ns

SYSTEM = "langfuse"
PAGE_MAX = 1000
LOOKBACK_S = 3600
FIELDS = "core,basic,time,io,metadata,model,usage,metrics"


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. https://cloud.langfuse.com or http://127.0.0.1:3000
    public_key_env: str = "LANGFUSE_PUBLIC_KEY"
    secret_key_env: str = "LANGFUSE_SECRET_KEY"  # noqa: S105 (a variable name, not a secret)
    page_size: int = PAGE_MAX
    max_observations: int = 50_000
    timeout_s: float = 10.0


class _Meta(msgspec.Struct, frozen=True):
    cursor: str | None = None


class _Page(msgspec.Struct):
    data: list[Any]
    meta: _Meta = _Meta()


class _TraceFull(msgspec.Struct):
    id: str
    observations: list[Any] = []


class _TraceRow(msgspec.Struct):
    id: str
    name: str | None = None
    timestamp: str | None = None
    latency: float | None = None
    observations: list[Any] = []


class _TraceList(msgspec.Struct):
    data: list[_TraceRow]


def _decode(content: bytes, where: str, type_: Any) -> Any:
    return http.decode_page(content, type_, SYSTEM, where)


class LangfuseStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        self.options = options
        self.base_url = options.url.rstrip("/")
        public = ctx.secret(options.public_key_env)
        secret = ctx.secret(options.secret_key_env)
        if not public or not secret:
            missing = options.public_key_env if not public else options.secret_key_env
            raise MissingSecretError(f"langfuse: env var {missing} is not set")
        self._http = http.client(
            ctx,
            self.base_url,
            timeout_s=options.timeout_s,
            auth=httpx.BasicAuth(public, secret),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_trace(self, trace_id: str) -> Trace:
        try:
            return await self._v2(trace_id)
        except NotFoundError:
            return await self._v1(trace_id)

    async def _v2(self, trace_id: str) -> Trace:
        path = "/api/public/v2/observations"
        spans: list[Span] = []
        notes: list[QualityNote] = []
        cursor: str | None = None
        reason: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {
                "traceId": trace_id,
                "fields": FIELDS,
                "limit": max(1, min(self.options.page_size, PAGE_MAX)),
            }
            if cursor:
                params["cursor"] = cursor
            resp = await http.request(self._http, "GET", path, SYSTEM, params=params)
            pages += 1
            page = _decode(resp.content, f"{path} page {pages}", _Page)
            got, got_notes = decode_items(page.data, f"{SYSTEM} {path} page {pages}")
            spans.extend(got)
            notes.extend(got_notes)
            cursor = page.meta.cursor
            if not cursor:
                break
            if len(spans) >= self.options.max_observations:
                reason = (
                    f"stopped after {len(spans)} observations ({pages} pages): the langfuse "
                    f"max_observations cap is {self.options.max_observations}"
                )
                break
        if not spans:
            raise NotFoundError(f"trace {trace_id} has no observations on {SYSTEM}")
        return self._one(spans, notes, reason)

    async def _v1(self, trace_id: str) -> Trace:
        path = f"/api/public/traces/{quote(trace_id, safe='')}"
        resp = await http.request(self._http, "GET", path, SYSTEM)
        body = _decode(resp.content, path, _TraceFull)
        spans, notes = decode_items(body.observations, f"{SYSTEM} {path}")
        if not spans:
            raise NotFoundError(f"trace {trace_id} has no observations on {SYSTEM}")
        return self._one(spans, notes, None)

    @staticmethod
    def _one(spans: list[Span], notes: list[QualityNote], reason: str | None) -> Trace:
        traces = assemble(
            spans,
            source="langfuse",
            notes=notes,
            completeness="partial" if reason else "complete",
            reason=reason,
        )
        return traces[0]

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        end = query.end_ns / 1e9 if query.end_ns else time.time()
        start = query.start_ns / 1e9 if query.start_ns else end - LOOKBACK_S
        params: dict[str, Any] = {
            "limit": max(1, min(query.limit, 100)),
            "fromTimestamp": datetime.fromtimestamp(start, UTC).isoformat(),
            "toTimestamp": datetime.fromtimestamp(end, UTC).isoformat(),
        }
        if query.operation:
            params["name"] = query.operation
        resp = await http.request(self._http, "GET", "/api/public/traces", SYSTEM, params=params)
        body = _decode(resp.content, "/api/public/traces", _TraceList)
        rows = []
        for row in body.data:
            rows.append(
                TraceSummary(
                    trace_id=row.id,
                    root_name=row.name,
                    start_ns=iso_ns(row.timestamp) if row.timestamp else None,
                    duration_ns=int(row.latency * 1e9) if row.latency is not None else None,
                )
            )
        return rows[: query.limit]


def _factory(options: Options, ctx: PluginContext) -> LangfuseStore:
    return LangfuseStore(options, ctx)


PLUGIN = Plugin(
    name="langfuse",
    summary="Langfuse public API (v2 observations, v1 traces fallback) as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
