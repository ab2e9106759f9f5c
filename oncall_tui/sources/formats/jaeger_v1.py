"""Jaeger's older JSON (``/api/traces/{id}``, the UI's download): µs times,
``references`` instead of parent ids, ``processes`` keyed by ``processID``,
typed ``tags``. Accepted with or without the ``{"data": [...]}`` envelope."""

from __future__ import annotations

from typing import Any

from oncall_tui.core import otlp
from oncall_tui.core.assemble import assemble
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import QualityNote, Span, SpanEvent, SpanKind, StatusCode, Trace
from oncall_tui.sources.detect import TraceFormat, register

_KIND: dict[str, SpanKind] = {
    "server": "server",
    "client": "client",
    "producer": "producer",
    "consumer": "consumer",
    "internal": "internal",
}


def _is_trace(doc: Any) -> bool:
    return isinstance(doc, dict) and "traceID" in doc and isinstance(doc.get("spans"), list)


def _sniff(doc: Any) -> bool:
    if _is_trace(doc):
        return True
    data = doc.get("data") if isinstance(doc, dict) else None
    return isinstance(data, list) and all(_is_trace(t) for t in data)


def _tags(tags: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag in tags or ():
        if isinstance(tag, dict) and isinstance(tag.get("key"), str):
            value = tag.get("value")
            if (
                tag.get("type") == "int64"
                and isinstance(value, str)
                and value.lstrip("-").isdigit()
            ):
                value = int(value)
            out[tag["key"]] = value
    return out


def _host(process: dict[str, Any], service: str | None) -> str | None:
    tags = _tags(process.get("tags"))
    host = tags.get("hostname") or tags.get("host.name")
    pid = tags.get("process.pid")
    if host and pid:
        return f"{host}:{pid}"
    return str(host) if host else service


def _span(raw: Any, processes: dict[str, Any], path: str, notes: list[QualityNote]) -> Span | None:
    if not isinstance(raw, dict):
        notes.append(QualityNote("malformed_span", "span is not an object", None, path))
        return None
    try:
        trace_id = otlp.normalise_id(str(raw.get("traceID", "")), 16)
        span_id = otlp.normalise_id(str(raw.get("spanID", "")), 8)
    except otlp.IdError as exc:
        notes.append(QualityNote("malformed_span", f"{exc}; span dropped", None, path))
        return None
    parent_id = None
    for ref in raw.get("references") or ():
        if isinstance(ref, dict) and ref.get("refType", "CHILD_OF") == "CHILD_OF":
            try:
                parent_id = otlp.normalise_id(str(ref.get("spanID", "")), 8)
            except otlp.IdError as exc:
                notes.append(QualityNote("malformed_span", f"reference {exc}", span_id, path))
            break
    if parent_id is None and raw.get("parentSpanID"):
        parent_id = otlp.normalise_id(str(raw["parentSpanID"]), 8)
    attrs = _tags(raw.get("tags"))
    try:
        start = int(raw.get("startTime", 0)) * 1000
        end = start + int(raw.get("duration", 0)) * 1000
    except (TypeError, ValueError):
        notes.append(
            QualityNote("malformed_span", "startTime/duration not integers", span_id, path)
        )
        start = end = 0
    process = processes.get(str(raw.get("processID"))) or raw.get("process") or {}
    service = process.get("serviceName") if isinstance(process, dict) else None
    kind = _KIND.get(str(attrs.pop("span.kind", "")), "unspecified")
    status: StatusCode = "unset"
    if attrs.get("error") in (True, "true"):
        status = "error"
    code = attrs.pop("otel.status_code", None)
    if code in ("ERROR", "OK"):
        status = "error" if code == "ERROR" else "ok"
    events = tuple(
        SpanEvent(
            str(_tags(log.get("fields")).get("event", "log")),
            int(log.get("timestamp", 0)) * 1000,
            _tags(log.get("fields")),
        )
        for log in raw.get("logs") or ()
        if isinstance(log, dict)
    )
    return Span(
        trace_id,
        span_id,
        parent_id,
        str(raw.get("operationName", "")),
        start,
        end,
        kind,
        status,
        attrs.pop("otel.status_description", None),
        service,
        _host(process, service) if isinstance(process, dict) else service,
        attrs,
        events,
        genai_view(attrs, str(raw.get("operationName", "")), events, start) if attrs else None,
    )


def _decode(raw: bytes, doc: Any, source: str) -> list[Trace]:
    traces = [doc] if _is_trace(doc) else doc["data"]
    spans: list[Span] = []
    notes: list[QualityNote] = []
    for ti, trace in enumerate(traces):
        processes = trace.get("processes") or {}
        for si, raw_span in enumerate(trace["spans"]):
            span = _span(raw_span, processes, f"{source}: data[{ti}].spans[{si}]", notes)
            if span is not None:
                spans.append(span)
        for warning in trace.get("warnings") or ():
            notes.append(QualityNote("other", f"Jaeger warning: {warning}", None, source))
    return assemble(spans, source="jaeger-v1", notes=notes)


register(TraceFormat("jaeger-v1", "Jaeger /api/traces JSON (µs, references)", _sniff, _decode))
