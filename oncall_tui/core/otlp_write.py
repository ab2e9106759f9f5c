"""Spans -> OTLP/JSON (the spec's camelCase, hex ids, nanos as strings).

The simulator exports its traces with it, the benchmark generates its inputs
with it, and tests build hand-made traces with it, so every producer in the
project speaks exactly the wire format the reader is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oncall_tui.core.models import Span

_KIND_NUM = {
    "unspecified": 0,
    "internal": 1,
    "server": 2,
    "client": 3,
    "producer": 4,
    "consumer": 5,
}
_STATUS_NUM = {"unset": 0, "ok": 1, "error": 2}


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def key_values(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def span_json(s: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": _KIND_NUM.get(s.kind, 0),
        "startTimeUnixNano": str(s.start_ns),
        "endTimeUnixNano": str(s.end_ns),
    }
    if s.parent_id:
        out["parentSpanId"] = s.parent_id
    if s.attributes:
        out["attributes"] = key_values(s.attributes)
    if s.events:
        out["events"] = [
            {"name": e.name, "timeUnixNano": str(e.time_ns), "attributes": key_values(e.attributes)}
            for e in s.events
        ]
    if s.status != "unset":
        status: dict[str, Any] = {"code": _STATUS_NUM[s.status]}
        if s.status_message:
            status["message"] = s.status_message
        out["status"] = status
    return out


def traces_data(
    spans: Iterable[Span], resource: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An ExportTraceServiceRequest. Spans are grouped into one resource per
    (service, host); ``resource`` adds attributes per service name."""
    groups: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for s in spans:
        groups.setdefault((s.service, s.host), []).append(span_json(s))
    resource_spans = []
    for (service, host), items in groups.items():
        attrs: dict[str, Any] = {}
        if service is not None:
            attrs["service.name"] = service
        if host is not None and host != service:
            attrs["host.name"] = host
        attrs.update((resource or {}).get(service or "", {}))
        resource_spans.append(
            {
                "resource": {"attributes": key_values(attrs)},
                "scopeSpans": [{"scope": {"name": "oncall-tui"}, "spans": items}],
            }
        )
    return {"resourceSpans": resource_spans}
