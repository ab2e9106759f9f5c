"""``clickhouse``: ClickHouse holding the OTel Collector ClickHouse exporter's
``otel_traces`` table, as a trace store (TraceStore, TraceSearch) that also
counts in its own engine (FleetCounts).

HTTP interface only: ``POST /`` with the query as the body, ``database`` and
query parameters (``param_<name>``) in the URL, the user and key in
``X-ClickHouse-User`` / ``X-ClickHouse-Key``. ``wait_end_of_query=1`` makes
the server buffer the answer, so an error mid-query is an HTTP error with
``X-ClickHouse-Exception-Code`` rather than a 200 with the error at the end
of the body (that case is still caught). The SQL lives in ``clickhouse_sql``;
docs/trace-stores.md ("ClickHouse") explains what each query computes.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import msgspec

from oncall_tui.core.assemble import assemble
from oncall_tui.core.conventions import genai_view
from oncall_tui.core.models import Span, SpanEvent, SpanKind, StatusCode, Trace, TraceSummary
from oncall_tui.core.onset_model import BucketCount, ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.core.text import preview
from oncall_tui.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    RemoteError,
    TraceFormatError,
    UnreachableError,
)
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.redact import Redactor, strip_userinfo
from oncall_tui.sources import clickhouse_sql as sql
from oncall_tui.sources.capabilities import TraceQuery

SYSTEM = "clickhouse"
LOOKBACK_S = 3600


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # e.g. http://127.0.0.1:8123
    database: str = "default"
    #: The exporter's table, or on a cluster the Distributed table over it.
    table: str = "otel_traces"
    user: str = "default"
    password_env: str | None = None  # sent as X-ClickHouse-Key
    timeout_s: float = 30.0
    max_spans: int = 100_000  # cap per trace; past it the trace is partial
    #: Spans are read this long past an onset window's end, so a trace that
    #: started just before the end is whole.
    trace_slack_s: float = 600.0
    #: Candidate trace ids kept per finding kind (for full analysis here).
    max_candidates: int = 20


_CODE = re.compile(r"Code:\s*(\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_SPAN_KIND: dict[str, SpanKind] = {
    "Internal": "internal",
    "Server": "server",
    "Client": "client",
    "Producer": "producer",
    "Consumer": "consumer",
    "SPAN_KIND_INTERNAL": "internal",
    "SPAN_KIND_SERVER": "server",
    "SPAN_KIND_CLIENT": "client",
    "SPAN_KIND_PRODUCER": "producer",
    "SPAN_KIND_CONSUMER": "consumer",
}
_STATUS: dict[str, StatusCode] = {
    "Ok": "ok",
    "Error": "error",
    "STATUS_CODE_OK": "ok",
    "STATUS_CODE_ERROR": "error",
}


class _SpanRow(msgspec.Struct, rename="pascal"):
    trace_id: str
    span_id: str
    parent_span_id: str = ""
    span_name: str = ""
    span_kind: str = ""
    service_name: str = ""
    start_ns: str = msgspec.field(name="start_ns", default="0")
    duration_ns: str = msgspec.field(name="duration_ns", default="0")
    status_code: str = ""
    status_message: str = ""
    resource_attributes: dict[str, str] = {}
    span_attributes: dict[str, str] = {}
    event_ns: list[str] = msgspec.field(name="event_ns", default_factory=list)
    event_names: list[str] = msgspec.field(name="event_names", default_factory=list)
    event_attrs: list[dict[str, str]] = msgspec.field(name="event_attrs", default_factory=list)


class _SearchRow(msgspec.Struct):
    trace_id: str
    start_ns: int
    duration_ns: int
    spans: int
    errors: int
    root_name: str = ""
    service: str = ""
    route: str = ""


class _CountRow(msgspec.Struct):
    route: str
    start_ns: int
    traces: int
    reentrancy_cycle: int = 0
    repeated_tool_call: int = 0
    retry_amplification: int = 0
    error: int = 0
    c_reentrancy_cycle: list[str] = []
    c_repeated_tool_call: list[str] = []
    c_retry_amplification: list[str] = []
    c_error: list[str] = []


class _ChangeRow(msgspec.Struct):
    route: str
    kind: str
    subject: str
    before: str
    after: str
    at_ns: int


def _described(text: str, code: str | None = None) -> str:
    """ "ClickHouse error 60 UNKNOWN_TABLE: <message>" from a server error text:
    the code and name kept, the "DB::Exception:" prefix and the "(version
    ...)" suffix dropped, cut to one readable line."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if code is None and (m := _CODE.search(first)):
        code = m.group(1)
    name = m.group(1) if (m := _NAME.search(first)) else None
    msg = re.sub(r"^Code:\s*\d+\.\s*(DB::Exception:\s*)?", "", first)
    msg = re.sub(r"\s*\([A-Z][A-Z0-9_]+\)\s*(\(version [^)]*\))?\s*$", "", msg)
    label = f"ClickHouse error {code}" + (f" {name}" if name else "") if code else "error"
    return f"{label}: {preview(msg, 160)}"


def _rows(content: bytes, type_: Any, what: str, where: str) -> list[Any]:
    """A JSONEachRow body, one typed row a line; a bad line is a one-line
    error naming the query and the line. An exception text among the rows is
    the server failing after it sent the first ones: an error, never data."""
    out = []
    dec = msgspec.json.Decoder(type_, strict=False)
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(dec.decode(line))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            text = line.decode("utf-8", "replace")
            if _CODE.match(text) and "Exception" in text:
                raise RemoteError(
                    f"{SYSTEM}: {what} at {where} failed mid-answer: {_described(text)}"
                ) from None
            raise TraceFormatError(
                f"{SYSTEM}: {what} answered a malformed row at line {n}: {exc}"
            ) from None
    return out


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


class ClickHouseStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        self.options = options
        self.base_url = options.url.rstrip("/")
        self.table = options.table
        try:  # refuse a bad name at construction, not mid-incident
            sql.table_ref(self.table)
        except ValueError as exc:
            raise ConfigError(f"{SYSTEM} option table: {exc}") from None
        shown = strip_userinfo(self.base_url)  # a URL's password never reaches a message
        self.where = f"{shown} (database {options.database}, table {options.table})"
        headers = {"X-ClickHouse-User": options.user}
        key = ctx.secret(options.password_env)
        if key:
            headers["X-ClickHouse-Key"] = key
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(options.timeout_s),
            transport=ctx.transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _query(self, query: str, params: dict[str, Any], what: str) -> bytes:
        """POST one query; every failure is a one-line error naming what was
        asked and where (never a header: the key travels in one)."""
        url_params: dict[str, str] = {
            "database": self.options.database,
            "wait_end_of_query": "1",
            "output_format_json_quote_64bit_integers": "0",
        }
        url_params.update({f"param_{k}": str(v) for k, v in params.items()})
        try:
            resp = await self._http.post("/", params=url_params, content=query.encode())
        except httpx.TimeoutException as exc:
            raise UnreachableError(
                f"{SYSTEM}: {what} timed out after {self.options.timeout_s:g}s at {self.where} "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise UnreachableError(
                f"{SYSTEM}: cannot reach {strip_userinfo(self.base_url)} ({type(exc).__name__})"
            ) from exc
        code = resp.headers.get("X-ClickHouse-Exception-Code")
        if resp.is_success and code is None:
            return resp.content
        raise self._error(resp, code, what)

    def _error(self, resp: httpx.Response, code: str | None, what: str) -> Exception:
        # Scrubbed of what the request sent (the key, a URL password) before
        # it is cut: a proxy that echoes headers must not put the key on screen.
        sent = Redactor.for_request(resp.request.headers.items(), str(resp.request.url))
        text = sent.text(resp.text[:4096])
        line = f"{SYSTEM}: {what} at {self.where} failed: {_described(text, code)}"
        if resp.status_code in (401, 403) or code in ("516", "192", "193", "194"):
            return AuthError(
                f"{line} (user {self.options.user!r}; the key comes from "
                f"{self.options.password_env or 'no password_env'})"
            )
        if code in ("60", "81"):
            return NotFoundError(f"{line} (are database and table right?)")
        if code in ("47", "16"):  # a column the exporter's schema has and this table lacks
            return RemoteError(f"{line} (is it the exporter's otel_traces schema?)", status=404)
        return RemoteError(line, status=resp.status_code)

    # ---------------------------------------------------------- TraceStore

    async def get_trace(self, trace_id: str) -> Trace:
        wanted = trace_id.strip().lower()
        cap = self.options.max_spans
        body = await self._query(
            sql.trace_spans(self.table), {"trace_id": wanted, "limit": cap + 1}, f"trace {wanted}"
        )
        rows: list[_SpanRow] = _rows(body, _SpanRow, f"trace {wanted}", self.where)
        if not rows:
            raise NotFoundError(f"trace {wanted} not found in {self.where}")
        reason = None
        if len(rows) > cap:
            rows = rows[:cap]
            reason = f"stopped at {cap} spans: the clickhouse max_spans cap; the store has more"
        spans = [_span(r) for r in rows]
        traces = assemble(
            spans,
            source=SYSTEM,
            completeness="partial" if reason else "complete",
            reason=reason,
        )
        return traces[0]

    # --------------------------------------------------------- TraceSearch

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        until = query.end_ns if query.end_ns is not None else time.time_ns()
        since = query.start_ns if query.start_ns is not None else until - LOOKBACK_S * 1_000_000_000
        params: dict[str, Any] = {"since": since, "until": until, "limit": query.limit}
        for key in ("service", "operation", "route"):
            if getattr(query, key):
                params[key] = getattr(query, key)
        text = sql.search_traces(
            self.table,
            service=bool(query.service),
            operation=bool(query.operation),
            route=bool(query.route),
            errors=query.errors_only,
        )
        found: list[_SearchRow] = _rows(
            await self._query(text, params, "trace search"), _SearchRow, "trace search", self.where
        )
        return [
            TraceSummary(
                trace_id=r.trace_id.lower(),
                root_name=r.root_name or None,
                service=r.service or None,
                start_ns=r.start_ns,
                duration_ns=r.duration_ns,
                span_count=r.spans,
                error_count=r.errors,
                route=r.route or None,
            )
            for r in found
        ]

    # --------------------------------------------------------- FleetCounts

    async def onset_window(self, query: OnsetQuery) -> OnsetWindow:
        params: dict[str, Any] = {
            "since": query.since_ns,
            "until": query.until_ns,
            "bucket": query.bucket_ns,
            "slack": int(self.options.trace_slack_s * 1e9),
        }
        if query.route:
            params["route"] = query.route
        routed = query.route is not None
        counts: list[_CountRow] = _rows(
            await self._query(
                sql.onset_counts(self.table, route_filter=routed, per_bucket_candidates=2),
                {**params, "max_walk": sql.MAX_WALK_SPANS},
                "onset counts",
            ),
            _CountRow,
            "onset counts",
            self.where,
        )
        changed: list[_ChangeRow] = _rows(
            await self._query(
                sql.change_events(self.table, route_filter=routed), params, "change events"
            ),
            _ChangeRow,
            "change events",
            self.where,
        )
        kinds = [k for k in sql.KINDS if query.finding is None or query.finding.lower() in k]
        buckets = [
            BucketCount(
                route=r.route,
                start_ns=r.start_ns,
                traces=r.traces,
                with_kind={k: getattr(r, k) for k in kinds if getattr(r, k)},
                analysed=r.traces,
            )
            for r in counts
        ]
        total = sum(b.traces for b in buckets)
        return OnsetWindow(
            query=query,
            method="pushdown",
            buckets=buckets,
            changes=[
                ChangeEvent(
                    at_ns=c.at_ns,
                    kind=c.kind,  # type: ignore[arg-type]  # the SQL emits ChangeKind names only
                    subject=c.subject,
                    route=c.route,
                    before=c.before or None,
                    after=c.after or None,
                    source=SYSTEM,
                    # SQL compares descriptions only (schemas need canonical JSON)
                    detail="description" if c.kind == "tool_definition" else None,
                )
                for c in changed
            ],
            method_note=(
                f"counted in ClickHouse over {total:,} traces ({self.options.table}); "
                "candidates confirmed by full analysis here"
            ),
            candidates=_candidates(counts, kinds, self.options.max_candidates),
        )


def _candidates(rows: list[_CountRow], kinds: list[str], cap: int) -> dict[str, list[str]]:
    """Up to ``cap`` ids per kind, newest buckets first (an onset is recent),
    taking one per bucket in turn so one busy bucket does not crowd out the rest."""
    out: dict[str, list[str]] = {}
    newest = sorted(rows, key=lambda r: -r.start_ns)
    for kind in kinds:
        per_bucket = [getattr(r, f"c_{kind}") for r in newest]
        picked: list[str] = []
        depth = 0
        while len(picked) < cap and any(depth < len(ids) for ids in per_bucket):
            for ids in per_bucket:
                if depth < len(ids) and len(picked) < cap and ids[depth] not in picked:
                    picked.append(ids[depth].lower())
            depth += 1
        if picked:
            out[kind] = picked
    return out


def _host(res: dict[str, str], service: str | None) -> str | None:
    """The process identity, as the OTLP reader makes it (core.otlp)."""
    host = res.get("host.name") or res.get("host.id")
    pid = res.get("process.pid")
    if host and pid:
        return f"{host}:{pid}"
    if host:
        return host
    return f"{service}:{pid}" if pid else service


def _span(r: _SpanRow) -> Span:
    start = _int(r.start_ns)
    # Every value arrives as text (the exporter stringifies attributes); the
    # conventions' converters read numbers and booleans from text.
    attrs: dict[str, Any] = dict(r.span_attributes)
    service = r.service_name or None
    events = tuple(
        SpanEvent(name=name, time_ns=_int(ns, start), attributes=dict(attrs))
        for ns, name, attrs in zip(r.event_ns, r.event_names, r.event_attrs, strict=False)
    )
    return Span(
        trace_id=r.trace_id.lower(),
        span_id=r.span_id.lower(),
        parent_id=r.parent_span_id.lower() or None,
        name=r.span_name,
        start_ns=start,
        end_ns=start + _int(r.duration_ns),
        kind=_SPAN_KIND.get(r.span_kind, "unspecified"),
        status=_STATUS.get(r.status_code, "unset"),
        status_message=r.status_message or None,
        service=service,
        host=_host(r.resource_attributes, service),
        attributes=attrs,
        events=events,
        gen_ai=genai_view(attrs, r.span_name, events, start) if attrs else None,
    )


def _factory(options: Options, ctx: PluginContext) -> ClickHouseStore:
    return ClickHouseStore(options, ctx)


PLUGIN = Plugin(
    name="clickhouse",
    summary=(
        "ClickHouse with the OTel Collector exporter's otel_traces table: traces, search, "
        "and onset counts computed in SQL"
    ),
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
