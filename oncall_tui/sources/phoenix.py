"""``phoenix``: Arize Phoenix as a trace store (TraceStore, TraceSearch).

A trace is read from ``/v1/projects/{project}/spans?trace_id=...`` (or the
``/spans/otlpv1`` variant), following ``next_cursor`` page by page (Phoenix
allows at most 1000 spans a page). ``max_spans`` caps how much is read: a
trace cut there is marked partial with the reason, never silently short.
Search is ``/v1/projects/{project}/traces``. Bearer auth when the server has
auth enabled (``PHOENIX_ENABLE_AUTH``): the key comes from ``api_key_env``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import msgspec

from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import QualityNote, Span, Trace, TraceSummary
from oncall_tui.errors import NotFoundError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources import http
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.formats.phoenix import decode_items
from oncall_tui.sources.formats.timefmt import iso_ns

SYSTEM = "phoenix"
PAGE_MAX = 1000
LOOKBACK_S = 3600


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. http://127.0.0.1:6006
    project: str = "default"
    api_key_env: str | None = None
    span_format: Literal["native", "otlpv1"] = "native"
    page_size: int = PAGE_MAX
    max_spans: int = 100_000  # cap per trace; past it the trace is partial
    timeout_s: float = 10.0


class _Page(msgspec.Struct):
    data: list[Any]
    next_cursor: str | None = None


class _TraceRow(msgspec.Struct):
    trace_id: str
    start_time: str | None = None
    end_time: str | None = None
    spans: list[dict[str, Any]] = []


class _TracePage(msgspec.Struct):
    data: list[_TraceRow]
    next_cursor: str | None = None


def _page(content: bytes, where: str, type_: Any) -> Any:
    return http.decode_page(content, type_, SYSTEM, where)


class PhoenixStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        self.options = options
        self.base_url = options.url.rstrip("/")
        key = ctx.secret(options.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = http.client(ctx, self.base_url, headers=headers, timeout_s=options.timeout_s)
        self._project = quote(options.project, safe="")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _read_spans(
        self, path: str, params: dict[str, Any], beyond: str
    ) -> tuple[list[Span], list[QualityNote], str | None]:
        """Follow Phoenix's cursor page by page; past ``max_spans`` stop and
        say why (the caller marks the trace partial), never silently short."""
        spans: list[Span] = []
        notes: list[QualityNote] = []
        cursor: str | None = None
        pages = 0
        while True:
            page_params = {**params, "cursor": cursor} if cursor else params
            resp = await http.request(self._http, "GET", path, SYSTEM, params=page_params)
            pages += 1
            page = _page(resp.content, f"{path} page {pages}", _Page)
            got, got_notes = decode_items(
                page.data, f"{SYSTEM} {path} page {pages}", service=self.options.project
            )
            spans.extend(got)
            notes.extend(got_notes)
            cursor = page.next_cursor
            if not cursor:
                return spans, notes, None
            if len(spans) >= self.options.max_spans:
                return (
                    spans,
                    notes,
                    (
                        f"stopped after {len(spans)} spans ({pages} pages): the phoenix "
                        f"max_spans cap is {self.options.max_spans}; {beyond}"
                    ),
                )

    async def get_trace(self, trace_id: str) -> Trace:
        path = f"/v1/projects/{self._project}/spans"
        if self.options.span_format == "otlpv1":
            path += "/otlpv1"
        page_size = max(1, min(self.options.page_size, PAGE_MAX))
        try:
            spans, notes, reason = await self._read_spans(
                path, {"trace_id": trace_id, "limit": page_size}, "Phoenix has more"
            )
        except NotFoundError as exc:
            raise NotFoundError(f"{exc} (is project {self.options.project!r} right?)") from None
        wanted = trace_id.lower()
        spans = [s for s in spans if s.trace_id == wanted]
        if not spans:
            raise NotFoundError(
                f"trace {trace_id} not found in phoenix project {self.options.project!r}"
            )
        traces = assemble(
            spans,
            source="phoenix",
            notes=notes,
            completeness="partial" if reason else "complete",
            reason=reason,
        )
        return traces[0]

    async def recent_traces(self, query: TraceQuery) -> list[Trace]:
        """Every trace with spans in the query's window (default: the last hour),
        read page by page; past ``max_spans`` the traces are marked partial."""
        path = f"/v1/projects/{self._project}/spans"
        end = query.end_ns / 1e9 if query.end_ns else time.time()
        start = query.start_ns / 1e9 if query.start_ns else end - LOOKBACK_S
        params: dict[str, Any] = {
            "limit": max(1, min(self.options.page_size, PAGE_MAX)),
            "start_time": datetime.fromtimestamp(start, UTC).isoformat(),
            "end_time": datetime.fromtimestamp(end, UTC).isoformat(),
        }
        spans, notes, reason = await self._read_spans(path, params, "the window holds more")
        return assemble(
            spans,
            source="phoenix",
            notes=notes,
            completeness="partial" if reason else "complete",
            reason=reason,
        )

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        path = f"/v1/projects/{self._project}/traces"
        end = query.end_ns / 1e9 if query.end_ns else time.time()
        start = query.start_ns / 1e9 if query.start_ns else end - LOOKBACK_S
        params: dict[str, Any] = {
            "limit": max(1, min(query.limit, PAGE_MAX)),
            "include_spans": "true",
            "start_time": datetime.fromtimestamp(start, UTC).isoformat(),
            "end_time": datetime.fromtimestamp(end, UTC).isoformat(),
        }
        if query.errors_only:
            params["error"] = "true"
        resp = await http.request(self._http, "GET", path, SYSTEM, params=params)
        page = _page(resp.content, path, _TracePage)
        rows = []
        for row in page.data:
            root = next((s for s in row.spans if not s.get("parent_id")), None)
            start_ns = iso_ns(row.start_time) if row.start_time else None
            end_ns = iso_ns(row.end_time) if row.end_time else None
            errors = sum(1 for s in row.spans if s.get("status_code") == "ERROR")
            rows.append(
                TraceSummary(
                    trace_id=row.trace_id,
                    root_name=str(root.get("name")) if root else None,
                    service=self.options.project,
                    start_ns=start_ns,
                    duration_ns=(end_ns - start_ns) if start_ns and end_ns else None,
                    span_count=len(row.spans) if row.spans else None,
                    error_count=errors if row.spans else None,
                )
            )
        if query.errors_only:
            rows = [r for r in rows if r.error_count is None or r.error_count > 0]
        return rows[: query.limit]


def _factory(options: Options, ctx: PluginContext) -> PhoenixStore:
    return PhoenixStore(options, ctx)


PLUGIN = Plugin(
    name="phoenix",
    summary="Arize Phoenix (REST span API, cursor paging) as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
