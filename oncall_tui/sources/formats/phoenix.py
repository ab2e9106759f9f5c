"""Phoenix REST span lists: ``/v1/projects/{p}/spans`` (native, snake_case,
OpenInference attributes, ISO times) and ``/spans/otlpv1`` (snake_case OTLP
spans, flat, nulls everywhere, nanos through float64); and the trace list
``/v1/projects/{p}/traces?include_spans=true`` (each trace with summary spans:
ids, name, kind, status and times, no attributes).

Phoenix returns no resource data, so ``service`` is unknown unless the caller
(the Phoenix adapter) names the project. Shared with sources/phoenix.py.
"""

from __future__ import annotations

from typing import Any

from oncall_tui.core import otlp
from oncall_tui.core.assemble import assemble
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import QualityNote, Span, SpanEvent, StatusCode, Trace
from oncall_tui.sources.detect import TraceFormat, register
from oncall_tui.sources.formats.timefmt import iso_ns

_STATUS: dict[str, StatusCode] = {"OK": "ok", "ERROR": "error", "UNSET": "unset"}


def _items(doc: Any) -> list[Any] | None:
    if not isinstance(doc, dict) or "next_cursor" not in doc:
        return None
    data = doc.get("data")
    return data if isinstance(data, list) else None


def _is_native(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("context"), dict) and "span_kind" in item


def _is_otlpv1(item: Any) -> bool:
    return isinstance(item, dict) and "span_id" in item and "start_time_unix_nano" in item


def _sniff(doc: Any) -> bool:
    items = _items(doc)
    if items is None:
        return False
    return bool(items) and (_is_native(items[0]) or _is_otlpv1(items[0]))


def native_span(
    raw: Any, path: str, notes: list[QualityNote], service: str | None = None
) -> Span | None:
    """One span of ``/v1/projects/{p}/spans`` -> Span (None plus a note if unusable)."""
    if not _is_native(raw):
        notes.append(QualityNote("malformed_span", "not a Phoenix span object", None, path))
        return None
    ctx = raw["context"]
    try:
        trace_id = otlp.normalise_id(str(ctx.get("trace_id", "")), 16)
        span_id = otlp.normalise_id(str(ctx.get("span_id", "")), 8)
    except otlp.IdError as exc:
        notes.append(QualityNote("malformed_span", f"{exc}; span dropped", None, path))
        return None
    parent_id = None
    if raw.get("parent_id"):
        try:
            parent_id = otlp.normalise_id(str(raw["parent_id"]), 8)
        except otlp.IdError as exc:
            notes.append(QualityNote("malformed_span", f"parent {exc}", span_id, path))
    try:
        start = iso_ns(str(raw.get("start_time")))
        end = iso_ns(str(raw.get("end_time") or raw.get("start_time")))
    except ValueError:
        notes.append(
            QualityNote("malformed_span", "start_time/end_time not ISO-8601", span_id, path)
        )
        start = end = 0
    attrs = raw.get("attributes") if isinstance(raw.get("attributes"), dict) else {}
    if raw.get("span_kind") and "openinference.span.kind" not in attrs:
        attrs = {**attrs, "openinference.span.kind": raw["span_kind"]}
    events: list[SpanEvent] = []
    for event in raw.get("events") or ():
        if not isinstance(event, dict):
            continue
        try:
            when = iso_ns(str(event.get("timestamp")))
        except ValueError:
            when = start
        ev_attrs = event.get("attributes")
        events.append(
            SpanEvent(
                str(event.get("name", "")), when, ev_attrs if isinstance(ev_attrs, dict) else {}
            )
        )
    status = _STATUS.get(str(raw.get("status_code", "UNSET")).upper(), "unset")
    return Span(
        trace_id,
        span_id,
        parent_id,
        str(raw.get("name", "")),
        start,
        end,
        "unspecified",  # Phoenix keeps only the OpenInference kind (AGENT, LLM, ...)
        status,
        str(raw.get("status_message") or "") or None,
        service,
        service,
        attrs,
        tuple(events),
        genai_view(attrs, str(raw.get("name", "")), events, start) if attrs else None,
    )


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _otlpv1_as_otlp(items: list[Any]) -> dict[str, Any]:
    """Phoenix's flat snake_case spans -> an OTLP/JSON document (nulls dropped).

    Iterative: attribute values may nest arbitrarily deep.
    """
    root: list[Any] = [items]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, dict):
            new = {
                (_camel(k) if "_" in k and k != "key" else k): v
                for k, v in item.items()
                if v is not None
            }
            container[key] = new
            stack.extend((new, k) for k in new)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
    return {"resourceSpans": [{"scopeSpans": [{"spans": root[0]}]}]}


def decode_items(
    items: list[Any], source: str, *, service: str | None = None
) -> tuple[list[Span], list[QualityNote]]:
    """Spans of either Phoenix list shape (one page of it)."""
    notes: list[QualityNote] = []
    if items and _is_otlpv1(items[0]):
        decoded, notes = otlp.decode_value(_otlpv1_as_otlp(list(items)), source)
        for span in decoded:
            if service is not None:
                span.service = span.host = service
            # Phoenix stamps every otlpv1 span SPAN_KIND_INTERNAL: the real kind is lost.
            span.kind = "unspecified"
            # Phoenix keeps µs and serialises through a float, so the low digits
            # are noise (…457024 for …457000): round back to the µs it holds,
            # so both of its list shapes give the same times.
            span.start_ns = round(span.start_ns / 1000) * 1000
            span.end_ns = round(span.end_ns / 1000) * 1000
        return decoded, notes
    spans: list[Span] = []
    for i, raw in enumerate(items):
        one = native_span(raw, f"{source}: data[{i}]", notes, service)
        if one is not None:
            spans.append(one)
    return spans, notes


def _decode(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = decode_items(_items(doc) or [], source)
    if doc.get("next_cursor"):
        return assemble(
            spans,
            source="phoenix",
            notes=notes,
            completeness="partial",
            reason="one page of a Phoenix span list: next_cursor says more spans exist",
        )
    return assemble(spans, source="phoenix", notes=notes)


def _is_trace_item(item: Any) -> bool:
    return isinstance(item, dict) and "trace_id" in item and isinstance(item.get("spans"), list)


def _sniff_traces(doc: Any) -> bool:
    items = _items(doc)
    return bool(items) and _is_trace_item(items[0])  # type: ignore[index]


_SUMMARY_ONLY = (
    "Phoenix's trace list carries span summaries only (no attributes): models, tools "
    "and tokens are unknown; /v1/projects/{p}/spans has them"
)


def _decode_traces(raw: bytes, doc: Any, source: str) -> list[Trace]:
    notes: list[QualityNote] = []
    spans: list[Span] = []
    summary_only = False
    for ti, item in enumerate(_items(doc) or []):
        where = f"{source}: data[{ti}]"
        if not _is_trace_item(item):
            notes.append(QualityNote("malformed_span", "not a Phoenix trace object", None, where))
            continue
        for si, given in enumerate(item["spans"]):
            raw_span = given
            if isinstance(given, dict) and not isinstance(given.get("context"), dict):
                # A summary span: its trace id is the enclosing trace's.
                summary_only = summary_only or "attributes" not in given
                context = {"trace_id": item["trace_id"], "span_id": given.get("span_id")}
                raw_span = {**given, "context": context}
            one = native_span(raw_span, f"{where}.spans[{si}]", notes)
            if one is not None:
                spans.append(one)
    if summary_only:
        notes.append(QualityNote("other", _SUMMARY_ONLY, None, source))
    if doc.get("next_cursor"):
        return assemble(
            spans,
            source="phoenix",
            notes=notes,
            completeness="partial",
            reason="one page of a Phoenix trace list: next_cursor says more traces exist",
        )
    return assemble(spans, source="phoenix", notes=notes)


register(
    TraceFormat(
        "phoenix-traces",
        "Phoenix /v1/projects/{p}/traces?include_spans=true JSON",
        _sniff_traces,
        _decode_traces,
    )
)
register(
    TraceFormat(
        "phoenix",
        "Phoenix /v1/projects/{p}/spans or /spans/otlpv1 JSON",
        _sniff,
        _decode,
    )
)
