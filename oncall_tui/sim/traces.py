"""Simulated requests as OTel GenAI spans, and the embedded trace store.

The spans are built from the same ``Record`` the metrics count, so a trace a
responder opens from the overview shows exactly what the numbers say. The
store accepts OTLP/HTTP JSON (POST /v1/traces) and answers Jaeger api_v3
queries, like the Jaeger a team might already run.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import Span
from oncall_tui.sim.fleet import Fleet, Record, RouteState

MS = 1_000_000
MAX_TRACES = 5000


#: Older traces are kept as a sample per route and 5-minute bucket, for this
#: long: enough history for ``trace onset`` and the console's trends to see
#: the time before a mid-run change, at a bounded cost (about
#: ARCHIVE_PER_BUCKET x routes x 36 traces).
ARCHIVE_BUCKET_NS = 300 * 1_000_000_000
ARCHIVE_BUCKETS = 36
ARCHIVE_PER_BUCKET = 50


class TraceStore:
    """The newest ``limit`` traces by id, oldest evicted first; what is
    evicted stays as a uniform sample per route and 5-minute bucket (a
    seeded reservoir) for the last ``ARCHIVE_BUCKETS`` buckets, the way a
    store with tail sampling keeps a window's worth of history."""

    def __init__(
        self, limit: int = MAX_TRACES, archive_per_bucket: int = ARCHIVE_PER_BUCKET
    ) -> None:
        self.limit = limit
        self.traces: OrderedDict[str, list[Span]] = OrderedDict()
        self.archive_per_bucket = archive_per_bucket
        #: (bucket, route) -> [trace id -> spans], and how many were offered.
        self.archive: dict[tuple[int, str], dict[str, list[Span]]] = {}
        self._offered: dict[tuple[int, str], int] = {}
        self._archived: dict[str, tuple[int, str]] = {}  # trace id -> its key
        self._rng = random.Random(0)

    def add(self, spans: list[Span]) -> None:
        for span in spans:
            bucket = self.traces.get(span.trace_id)
            if bucket is None:
                bucket = self.traces[span.trace_id] = []
            bucket.append(span)
        while len(self.traces) > self.limit:
            _, old = self.traces.popitem(last=False)
            self._keep(old)

    def _keep(self, spans: list[Span]) -> None:
        if not spans or self.archive_per_bucket <= 0:
            return
        start = min(s.start_ns for s in spans)
        key = (start // ARCHIVE_BUCKET_NS, _route(spans))
        held = self.archive.setdefault(key, {})
        seen = self._offered[key] = self._offered.get(key, 0) + 1
        tid = spans[0].trace_id
        if len(held) < self.archive_per_bucket:
            held[tid] = spans
            self._archived[tid] = key
        else:
            slot = self._rng.randrange(seen)  # reservoir: each kept with p = k/seen
            if slot < self.archive_per_bucket:
                gone = list(held)[slot]
                del held[gone]
                self._archived.pop(gone, None)
                held[tid] = spans
                self._archived[tid] = key
        horizon = key[0] - ARCHIVE_BUCKETS
        for old_key in [k for k in self.archive if k[0] < horizon]:
            for gone in self.archive.pop(old_key):
                self._archived.pop(gone, None)
            self._offered.pop(old_key, None)

    def get(self, trace_id: str) -> list[Span] | None:
        tid = trace_id.lower()
        spans = self.traces.get(tid)
        if spans is None and tid in self._archived:
            spans = self.archive[self._archived[tid]].get(tid)
        return spans

    def _newest_first(self) -> Iterator[list[Span]]:
        yield from reversed(self.traces.values())
        for key in sorted(self.archive, reverse=True):
            yield from reversed(self.archive[key].values())

    def find(
        self,
        *,
        service: str | None,
        start_min: int | None,
        start_max: int | None,
        limit: int,
        attributes: dict[str, str] | None = None,
    ) -> list[list[Span]]:
        out: list[list[Span]] = []
        for spans in self._newest_first():
            if service and not any(s.service == service for s in spans):
                continue
            start = min(s.start_ns for s in spans)
            if start_min is not None and start < start_min:
                continue
            if start_max is not None and start > start_max:
                continue
            if attributes and not any(
                all(str(s.attributes.get(k)) == v for k, v in attributes.items()) for s in spans
            ):
                continue
            out.append(spans)
            if len(out) >= limit:
                break
        return out


def _route(spans: list[Span]) -> str:
    for span in spans:
        route = span.attributes.get("gen_ai.route")
        if route is not None:
            return str(route)
    return spans[0].service or ""


class _Builder:
    def __init__(self, rng: random.Random, trace_id: str) -> None:
        self.rng = rng
        self.trace_id = trace_id
        self.spans: list[Span] = []

    def add(
        self,
        name: str,
        parent: str | None,
        start: int,
        end: int,
        attrs: dict[str, Any],
        *,
        service: str,
        host: str,
        status: str = "unset",
        message: str | None = None,
        kind: str = "internal",
    ) -> str:
        sid = f"{self.rng.getrandbits(64):016x}"
        self.spans.append(
            Span(
                trace_id=self.trace_id,
                span_id=sid,
                parent_id=parent,
                name=name,
                start_ns=start,
                end_ns=end,
                kind=kind,  # type: ignore[arg-type]
                status=status,  # type: ignore[arg-type]
                status_message=message,
                service=service,
                host=host,
                attributes=attrs,
                gen_ai=genai_view(attrs),
            )
        )
        return sid

    def covering(self) -> list[Span]:
        """The spans with every parent stretched to end no earlier than its
        children: a synchronous caller cannot return before its callees (the
        agent's tool steps are laid out after the root's end is chosen)."""
        index = {s.span_id: i for i, s in enumerate(self.spans)}
        spans = list(self.spans)
        for i in range(len(spans) - 1, -1, -1):  # children come after parents
            child = spans[i]
            p = index.get(child.parent_id or "")
            if p is not None and spans[p].end_ns < child.end_ns:
                spans[p] = msgspec.structs.replace(spans[p], end_ns=child.end_ns)
        return spans


def build_trace(fleet: Fleet, route: RouteState, rec: Record) -> list[Span]:
    """The spans of one simulated request (only for sampled requests)."""
    rng = fleet.rng
    trace_id = f"{rng.getrandbits(128):032x}"
    rec.trace_id = trace_id
    b = _Builder(rng, trace_id)
    effects = [e for e, _ in fleet.effects_for(route)]
    t0 = int(fleet.start.timestamp()) * 1_000_000_000 + int(rec.t * 1e9)
    total = int((rec.ttfv_ms + 400 + rec.attempts * 150) * MS) + 50 * MS
    root = b.add(
        f"POST /v1/routes/{route.name}",
        None,
        t0,
        t0 + total,
        {
            "http.route": f"/v1/routes/{route.name}",
            "gen_ai.route": route.name,
            "gen_ai.conversation.id": f"{route.name}:{rec.session}",
            "tenant.id": rec.tenant,
            # The product attaches the user's thumbs-down to the request's trace.
            **({"user.feedback": "negative"} if rec.negative_feedback else {}),
        },
        service="ai-gateway",
        host="gw-1",
        kind="server",
        status="error" if not rec.ok else "unset",
    )
    if route.kill_switch:
        b.add(
            "static fallback answer",
            root,
            t0 + MS,
            t0 + 2 * MS,
            {"oncall.kill_switch": True},
            service="ai-gateway",
            host="gw-1",
        )
        return b.spans
    parent = root
    service = "ai-gateway"
    if route.agentic:
        parent = b.add(
            "invoke_agent assistant",
            root,
            t0 + MS,
            t0 + total - MS,
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "assistant"},
            service="agent-svc",
            host="agent-1",
        )
        service = "agent-svc"
    host = "agent-1" if route.agentic else "gw-1"
    cursor = t0 + 2 * MS
    chain = route.chain()
    served_key = rec.tier
    tiers = [t for t in chain if t.key == served_key] or chain[:1]
    # Failed attempts first, then the one that served.
    failed_providers = [p for p, n in rec.errors_by_provider.items() for _ in range(n)]
    for p in failed_providers:
        tier = next((t for t in chain if t.provider == p), chain[0])
        end = cursor + 150 * MS
        b.add(
            f"chat {tier.model}",
            parent,
            cursor,
            end,
            _model_attrs(tier.provider, tier.model, None, rec, ok=False),
            service=service,
            host=host,
            status="error",
            message="429 rate limited" if rec.rate_limited else "upstream 503",
            kind="client",
        )
        cursor = end + 5 * MS
    if not rec.ok:
        return b.spans
    tier = tiers[0]
    ttfv_ns = int(rec.ttfv_ms * MS)
    end = cursor + ttfv_ns + 300 * MS
    first_attrs = _model_attrs(tier.provider, tier.model, tier.version, rec, ok=True)
    if route.tool_descriptions:
        # What the model was offered (OTel GenAI gen_ai.tool.definitions):
        # a rewritten description shows up here first.
        first_attrs["gen_ai.tool.definitions"] = _tool_definitions(route.tool_descriptions)
    model_id = b.add(
        f"chat {tier.model}",
        parent,
        cursor,
        end,
        first_attrs,
        service=service,
        host=host,
        kind="client",
    )
    cursor = end + 2 * MS
    repairs = max((e.structured_repairs for e in effects), default=0)
    for n in range(repairs if route.structured else 0):
        v_end = cursor + 3 * MS
        b.add(
            "validate output schema",
            parent,
            cursor,
            v_end,
            {"schema": "invoice.v2"},
            service=service,
            host=host,
            status="error",
            message="JSON schema validation failed: missing 'total'",
        )
        attrs = _model_attrs(tier.provider, tier.model, tier.version, rec, ok=True, warm=True)
        attrs["gen_ai.request.repair_reason"] = "JSON schema validation failed"
        attrs["gen_ai.request.repair_attempt"] = n + 1
        r_end = v_end + 600 * MS
        b.add(f"chat {tier.model}", parent, v_end + MS, r_end, attrs, service=service, host=host)
        cursor = r_end + MS
    if route.agentic:
        share = min((e.reentrancy_share for e in effects if e.reentrancy), default=0.0)
        # A share below 1 picks requests by their trace id: no draw from the
        # fleet's random stream, so other scenarios' traffic stays the same.
        reentrant = share >= 1.0 or int(trace_id[:8], 16) < share * 2**32
        tool_parent = parent
        for step, tool in enumerate(("search_kb", "lookup_order")):
            t_end = cursor + 40 * MS
            tool_id = b.add(
                f"execute_tool {tool}",
                tool_parent,
                cursor,
                t_end if not reentrant else cursor + 900 * MS,
                _tool_attrs(tool, step, rec, t0),
                service=service,
                host=host,
            )
            if reentrant:
                # The tool asks the model, which calls the other tool, which
                # calls back into the first: each inside the one before.
                inner = b.add(
                    f"chat {tier.model}",
                    tool_id,
                    cursor + 5 * MS,
                    cursor + 880 * MS,
                    _model_attrs(tier.provider, tier.model, tier.version, rec, ok=True, warm=True),
                    service=service,
                    host=host,
                    kind="client",
                )
                tool_parent = inner
                cursor += 10 * MS
            else:
                m_end = t_end + 300 * MS
                b.add(
                    f"chat {tier.model}",
                    parent,
                    t_end + MS,
                    m_end,
                    _model_attrs(tier.provider, tier.model, tier.version, rec, ok=True, warm=True),
                    service=service,
                    host=host,
                    kind="client",
                )
                cursor = m_end + MS
        if reentrant:
            b.add(
                "execute_tool search_kb",
                tool_parent,
                cursor + 5 * MS,
                cursor + 400 * MS,
                _tool_attrs("search_kb", 0, rec, t0),
                service=service,
                host=host,
            )
    del model_id
    return b.covering()


def _model_attrs(
    provider: str, model: str, version: str | None, rec: Record, *, ok: bool, warm: bool = False
) -> dict[str, Any]:
    """``warm``: a later call of the same request, whose prompt prefix the first
    call has just written (a miss is paid once per request, not per call)."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.system_instructions.hash": "sha256:5f1d0c9e2a7b4c11",
        "gen_ai.route": rec.route,
    }
    if not ok:
        attrs["error.type"] = "rate_limited" if rec.rate_limited else "upstream_error"
        return attrs
    attrs.update(
        {
            "gen_ai.response.model": f"{model}-{version}" if version else model,
            "gen_ai.usage.input_tokens": int(rec.tokens * 0.8),
            "gen_ai.usage.output_tokens": rec.tokens - int(rec.tokens * 0.8),
            "gen_ai.response.time_to_first_chunk": round(rec.ttft_ms / 1000, 4),
            "gen_ai.response.time_to_first_visible_chunk": round(rec.ttfv_ms / 1000, 4),
            "gen_ai.response.finish_reasons": ["content_filter" if rec.refused else "stop"],
            "gen_ai.usage.cache_read.input_tokens": int(rec.tokens * 0.6)
            if rec.cache_hit or warm
            else 0,
            # a miss writes the prefix again: what cache thrash pays for
            "gen_ai.usage.cache_creation.input_tokens": 0
            if rec.cache_hit or warm
            else int(rec.tokens * 0.6),
            "gen_ai.conversation.id": f"{rec.route}:{rec.session}",
        }
    )
    if rec.reasoning_tokens:
        attrs["gen_ai.usage.reasoning.output_tokens"] = rec.reasoning_tokens
    return attrs


def _tool_definitions(descriptions: dict[str, str]) -> str:
    return json.dumps(
        [
            {
                "type": "function",
                "name": name,
                "description": text,
                "parameters": _TOOL_PARAMETERS.get(name, {"type": "object"}),
            }
            for name, text in sorted(descriptions.items())
        ],
        separators=(",", ":"),
    )


_TOOL_PARAMETERS: dict[str, dict[str, Any]] = {
    "search_kb": {"type": "object", "properties": {"query": {"type": "string"}}},
    "lookup_order": {"type": "object", "properties": {"id": {"type": "integer"}}},
}


def _tool_attrs(tool: str, step: int, rec: Record, t0_ns: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.call.id": f"call_{rec.trace_id or ''}_{step}"[:40],
        "gen_ai.tool.call.arguments": '{"query": "refund status"}' if step == 0 else '{"id": 42}',
        "gen_ai.tool.call.result": '{"hits": 3}',
        # Answered by the tool-result cache, not the tool itself.
        "tool.result.cache_hit": rec.tool_cache_hit,
    }
    if tool == "search_kb" and rec.data_age_s is not None:
        # The knowledge-base search is the retrieval: how old its oldest
        # document was when the model got it (docs/simulator.md). The
        # document list follows OpenInference (retrieval.documents.N.document.*).
        indexed = datetime.fromtimestamp(t0_ns / 1e9 - rec.data_age_s, UTC)
        stamp = indexed.isoformat(timespec="seconds").replace("+00:00", "Z")
        attrs["retrieval.document.age_s"] = rec.data_age_s
        attrs["retrieval.document.indexed_at"] = stamp
        attrs["retrieval.documents.0.document.id"] = "kb-refund-policy"
        attrs["retrieval.documents.0.document.metadata"] = json.dumps({"indexed_at": stamp})
    return attrs
