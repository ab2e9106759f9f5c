"""One row per trace: what a search result or a trace list shows."""

from __future__ import annotations

from oncall_tui.core.models import Span, Trace, TraceSummary

#: Attributes a gateway's request span names its route (model group) with.
ROUTE_KEYS = ("litellm.model_group", "gen_ai.route")


def route_of(span: Span) -> str | None:
    for key in ROUTE_KEYS:
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def summarize(trace: Trace) -> TraceSummary:
    spans = trace.spans
    if not spans:
        return TraceSummary(trace_id=trace.trace_id, span_count=0, error_count=0)
    ids = {s.span_id for s in spans}
    root = next((s for s in spans if s.parent_id is None or s.parent_id not in ids), spans[0])
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    route = root.attributes.get("gen_ai.route") or root.attributes.get("http.route")
    if route is None:
        # A gateway's spans name the route below the root (LiteLLM's model
        # group); the earliest attempt is the route the caller asked for.
        named = [s for s in spans if route_of(s)]
        route = route_of(min(named, key=lambda s: s.start_ns)) if named else None
    return TraceSummary(
        trace_id=trace.trace_id,
        root_name=root.name,
        service=root.service,
        start_ns=start,
        duration_ns=end - start,
        span_count=len(spans),
        error_count=sum(1 for s in spans if s.status == "error"),
        route=str(route) if route is not None else None,
    )
