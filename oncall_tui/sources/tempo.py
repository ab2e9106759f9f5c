"""``tempo``: Grafana Tempo as a trace store (TraceStore, TraceSearch,
FleetCounts).

``/api/v2/traces/{id}`` first (``{trace, status}``; ``PARTIAL`` when the trace
exceeded Tempo's size limit, shown as partial with Tempo's message), then
v1 ``/api/traces/{id}`` for older releases. Search is TraceQL
(``/api/search?q=``). Multi-tenant deployments need ``X-Scope-OrgID``.

``onset_window`` counts in Tempo's engine: TraceQL metrics
(``/api/metrics/query_range``, ``count_over_time()`` per step) count root
spans (traces), traces with an error below the root, and model calls by
requested and answered model (the snapshot changes); a TraceQL structural
query (``>>``, a tool span below a tool span) finds reentrancy candidates.
TraceQL cannot say "the same tool below itself", so the candidates are
fetched and confirmed here (at most ``max_candidates``, newest first).
docs/trace-stores.md ("Tempo") has the queries.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import msgspec

from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.core.onset_model import BucketCount, ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.core.summary import summarize
from oncall_tui.errors import NotFoundError, OncallError, TraceFormatError
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
    #: Reentrancy candidates (structural-query hits) fetched and confirmed
    #: per onset window; past it the counts say they are a lower bound.
    max_candidates: int = 50


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

    async def onset_window(self, query: OnsetQuery) -> OnsetWindow:
        return await onset_window(self, query)


# ------------------------------------------------------------------ onset
# Root spans: ``nestedSetParent < 0`` is how Tempo's own TraceQL metrics tests
# select them (tempodb/encoding/vparquet4/block_traceql_test.go).
ROOTS = "{ nestedSetParent < 0 }"
ROUTE_BY = "by (resource.service.name, span.gen_ai.route)"
#: traces per route and step
Q_TRACES = f"{ROOTS} | count_over_time() {ROUTE_BY}"
#: traces with an error span below the root (``<<``: the root is an ancestor)
Q_ERRORS = f"{{ status = error }} << {ROOTS} | count_over_time() {ROUTE_BY}"
#: model calls by the model asked for and the model that answered
Q_MODELS = (
    "{ span.gen_ai.request.model != nil && span.gen_ai.response.model != nil "
    "&& status != error } | count_over_time() by (resource.service.name, "
    "span.gen_ai.request.model, span.gen_ai.response.model)"
)
#: a tool span below a tool span: every trace that re-entered a tool has one
Q_NESTED_TOOLS = "{ span.gen_ai.tool.name != nil } >> { span.gen_ai.tool.name != nil }"


class _AnyValue(msgspec.Struct, frozen=True, rename="camel"):
    string_value: str | None = None
    int_value: int | str | None = None
    double_value: float | None = None
    bool_value: bool | None = None


class _Label(msgspec.Struct):
    key: str
    value: _AnyValue = _AnyValue()


class _Sample(msgspec.Struct, rename="camel"):
    timestamp_ms: int | str = 0
    value: float = 0.0


class _Series(msgspec.Struct):
    labels: list[_Label] = []
    samples: list[_Sample] = []


class _RangeResponse(msgspec.Struct):
    series: list[_Series] = []
    message: str = ""


def _label_text(v: _AnyValue) -> str | None:
    for x in (v.string_value, v.int_value, v.double_value, v.bool_value):
        if x is not None:
            return str(x)
    return None


def _labels(series: _Series) -> dict[str, str]:
    # Tempo names a missing group-by value "nil": keep it out (None) so the
    # service name stands in for a trace with no route attribute.
    out = {}
    for lab in series.labels:
        text = _label_text(lab.value)
        if text is not None and text != "nil":
            out[lab.key] = text
    return out


def _route(labels: dict[str, str]) -> str:
    return labels.get("span.gen_ai.route") or labels.get("resource.service.name") or "unknown"


def _bucket_start(ts_ms: int, q: OnsetQuery) -> int:
    ns = ts_ms * 1_000_000
    return q.since_ns + (ns - q.since_ns) // q.bucket_ns * q.bucket_ns


class _Onset:
    """One ``onset_window`` call's requests and reasoning, kept apart from the
    store's trace reading above."""

    def __init__(self, store: TempoStore, q: OnsetQuery) -> None:
        self.store = store
        self.q = q
        self.params = {
            "start": q.since_ns // 1_000_000_000,
            "end": q.until_ns // 1_000_000_000,
            "step": f"{max(1, q.bucket_ns // 1_000_000_000)}s",
        }

    async def series(self, traceql: str, what: str) -> list[_Series]:
        path = "/api/metrics/query_range"
        resp = await http.request(
            self.store._http, "GET", path, SYSTEM, params={"q": traceql, **self.params}
        )
        body: _RangeResponse = http.decode_page(
            resp.content, _RangeResponse, SYSTEM, f"{path} ({what})"
        )
        return body.series

    async def counts(self, traceql: str, what: str) -> dict[tuple[str, int], int]:
        out: Counter[tuple[str, int]] = Counter()
        for s in await self.series(traceql, what):
            route = _route(_labels(s))
            if self.q.route is not None and route != self.q.route:
                continue
            for sample in s.samples:
                start = _bucket_start(int(sample.timestamp_ms), self.q)
                # an empty step is no bucket, as in the ClickHouse answer
                if sample.value > 0 and self.q.since_ns <= start < self.q.until_ns:
                    out[route, start] += round(sample.value)
        return dict(out)

    async def model_changes(self) -> list[ChangeEvent]:
        """Per service and requested model, the answered model most calls had
        in each step; a different one than the step before is a change."""
        by_step: dict[tuple[str, str], dict[int, Counter[str]]] = {}
        for s in await self.series(Q_MODELS, "model calls"):
            labels = _labels(s)
            route = labels.get("resource.service.name", "unknown")
            asked = labels.get("span.gen_ai.request.model")
            got = labels.get("span.gen_ai.response.model")
            if asked is None or got is None:
                continue
            if self.q.route is not None and route != self.q.route:
                continue
            steps = by_step.setdefault((route, asked), {})
            for sample in s.samples:
                if sample.value > 0:
                    at = _bucket_start(int(sample.timestamp_ms), self.q)
                    steps.setdefault(at, Counter())[got] += round(sample.value)
        out = []
        for (route, asked), steps in sorted(by_step.items()):
            before = None
            for at in sorted(steps):
                now = steps[at].most_common(1)[0][0]
                if before is not None and now != before:
                    out.append(
                        ChangeEvent(
                            at_ns=at,
                            kind="model_version",
                            subject=asked,
                            route=route,
                            before=before,
                            after=now,
                            source=SYSTEM,
                            detail="dated to the metrics step it first led",
                        )
                    )
                before = now
        return out

    async def nested_tool_candidates(self) -> tuple[list[_Hit], bool]:
        """Traces with a tool span below a tool span, newest first; True
        when Tempo had more than we asked for."""
        limit = self.store.options.max_candidates
        params: dict[str, Any] = {
            "q": Q_NESTED_TOOLS,
            "limit": limit + 1,
            "start": self.params["start"],
            "end": self.params["end"],
        }
        resp = await http.request(self.store._http, "GET", "/api/search", SYSTEM, params=params)
        body: _SearchResponse = http.decode_page(
            resp.content, _SearchResponse, SYSTEM, "/api/search (nested tools)"
        )
        hits = sorted(body.traces, key=lambda h: -int(h.start_time_unix_nano or 0))
        return hits[:limit], len(hits) > limit


async def _confirmed(store: TempoStore, hits: list[_Hit]) -> tuple[list[Trace], list[str]]:
    """Each candidate fetched and analysed here: the traces with a
    reentrancy_cycle finding, and one line per candidate that could not be read."""
    found, unread = [], []
    for hit in hits:
        tid = hit.trace_id.lower().rjust(32, "0")
        try:
            trace = await store.get_trace(tid)
        except OncallError as exc:
            unread.append(f"{tid[:8]}: {exc}")
            continue
        if any(f.kind == "reentrancy_cycle" for f in analyze(trace).findings):
            found.append(trace)
    return found, unread


async def onset_window(store: TempoStore, q: OnsetQuery) -> OnsetWindow:
    o = _Onset(store, q)
    traces = await o.counts(Q_TRACES, "traces")
    kinds: dict[str, dict[tuple[str, int], int]] = {}
    if q.finding is None or q.finding.lower() in "error":
        kinds["error"] = await o.counts(Q_ERRORS, "errors")
    candidates: dict[str, list[str]] = {}
    capped = False
    unread: list[str] = []
    if q.finding is None or q.finding.lower() in "reentrancy_cycle":
        hits, capped = await o.nested_tool_candidates()
        confirmed, unread = await _confirmed(store, hits)
        per: Counter[tuple[str, int]] = Counter()
        for trace in confirmed:
            summary = summarize(trace)
            route = summary.route or summary.service or "unknown"
            start = summary.start_ns or q.since_ns
            if q.route is None or route == q.route:
                per[route, q.since_ns + (start - q.since_ns) // q.bucket_ns * q.bucket_ns] += 1
        kinds["reentrancy_cycle"] = dict(per)
        candidates["reentrancy_cycle"] = [t.trace_id for t in confirmed]
    buckets = [
        BucketCount(
            route=route,
            start_ns=start,
            traces=n,
            with_kind={k: c[route, start] for k, c in kinds.items() if c.get((route, start))},
            analysed=n,
        )
        for (route, start), n in sorted(traces.items())
    ]
    total = sum(traces.values())
    note = f"counted by Tempo's TraceQL metrics over {total:,} traces"
    if "reentrancy_cycle" in kinds:
        note += (
            f"; reentrancy from {len(candidates['reentrancy_cycle'])} structural-query "
            "candidates confirmed here"
        )
    if capped:
        note += (
            f" (only the newest {store.options.max_candidates} fetched: "
            "reentrancy counts are a lower bound)"
        )
    if unread:
        note += f"; {len(unread)} candidate(s) unreadable, first: {unread[0]}"
    return OnsetWindow(
        query=q,
        method="pushdown",
        buckets=buckets,
        changes=await o.model_changes(),
        method_note=note,
        candidates=candidates,
    )


def _factory(options: Options, ctx: PluginContext) -> TempoStore:
    return TempoStore(options, ctx)


PLUGIN = Plugin(
    name="tempo",
    summary="Grafana Tempo (v2/v1 trace by id, TraceQL search) as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
