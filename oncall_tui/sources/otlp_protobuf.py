"""OTLP/HTTP protobuf (what OTel SDKs send by default), read two ways.

sources/otlp_receiver.py parses each ``application/x-protobuf`` body once
(``parse_request``: ``opentelemetry-proto``'s upb parser), then
- ``message_to_wire`` builds the very wire Structs the OTLP/JSON reader
  decodes into (core/otlp.py), so a span received as protobuf becomes the
  Span the JSON path makes, with no JSON round trip (the receiver's hot path:
  1.4x faster than encoding JSON and decoding it again);
- ``message_to_json`` writes the request as one OTLP/JSON line, every field
  kept, only when someone keeps it (``trace listen --save``).
tests/unit/test_otlp_receiver.py holds the two to the same Spans. This
module is imported only on that path, so the CLI starts fast.

Why a walk and not ``json_format.MessageToDict``: that is 2.6x slower per
span (48 us against 18 us on bench/gen.py spans), and it writes ids as
base64 where OTLP/JSON wants hex. The walk follows the OTLP/JSON rules (hex
ids, integer enums, 64-bit integers as decimal strings, lowerCamelCase keys,
defaults left out); the tests check it against MessageToDict.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import msgspec

from oncall_tui.core.otlp import (
    AnyValue,
    ArrayValue,
    Event,
    KeyValue,
    KvList,
    Resource,
    ResourceSpans,
    Scope,
    ScopeSpans,
    Status,
    TracesData,
    WireSpan,
)
from oncall_tui.errors import TraceFormatError
from oncall_tui.sources.formats.otlp_logs import LogRecord, LogsData, ResourceLogs, ScopeLogs


def parse_request(body: bytes, source: str) -> Any:
    """An ExportTraceServiceRequest's bytes -> the parsed message.
    TraceFormatError names what is wrong."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    msg = ExportTraceServiceRequest()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise TraceFormatError(
            f"{source}: not an OTLP ExportTraceServiceRequest ({len(body)} bytes): "
            f"{exc or 'truncated or malformed protobuf'}"
        ) from None
    if body and not msg.resource_spans:
        # Any byte string may parse as unknown fields: call it what it is.
        raise TraceFormatError(
            f"{source}: not an OTLP ExportTraceServiceRequest: "
            f"{len(body)} bytes with no resourceSpans"
        )
    return msg


def message_to_json(msg: Any) -> bytes:
    """A parsed request -> one OTLP/JSON line (no newline): what ``--save``
    writes, every field kept."""
    batches = []
    for rs in msg.resource_spans:
        scopes = [_scope_spans(ss) for ss in rs.scope_spans]
        batch: dict[str, Any] = {"resource": _resource(rs.resource), "scopeSpans": scopes}
        if rs.schema_url:
            batch["schemaUrl"] = rs.schema_url
        batches.append(batch)
    return msgspec.json.encode({"resourceSpans": batches})


def message_to_wire(msg: Any) -> tuple[TracesData, int]:
    """A parsed request -> the wire Structs the OTLP/JSON reader decodes
    into (core/otlp.py), and its span count, without a JSON round trip: the
    receiver's hot path. Values are what the JSON walk below would have
    written and the JSON decoder read back (hex ids, defaults as absent);
    tests/unit/test_otlp_receiver.py holds the two paths to the same Spans."""
    groups: list[ResourceSpans] = []
    count = 0
    for rs in msg.resource_spans:
        scopes = []
        for ss in rs.scope_spans:
            spans = [_wire_span(x) for x in ss.spans]
            count += len(spans)
            scope = ss.scope
            scopes.append(ScopeSpans(Scope(scope.name or None, scope.version or None), spans))
        groups.append(ResourceSpans(Resource(_wire_kvs(rs.resource.attributes)), scopes))
    return TracesData(groups), count


def logs_to_wire(body: bytes, source: str) -> tuple[LogsData, int]:
    """An ExportLogsServiceRequest's bytes -> the wire Structs the OTLP/JSON
    logs reader decodes into (sources/formats/otlp_logs.py), and the number
    of records. TraceFormatError names what is wrong."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    msg = ExportLogsServiceRequest()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise TraceFormatError(
            f"{source}: not an OTLP ExportLogsServiceRequest ({len(body)} bytes): "
            f"{exc or 'truncated or malformed protobuf'}"
        ) from None
    if body and not msg.resource_logs:
        raise TraceFormatError(
            f"{source}: not an OTLP ExportLogsServiceRequest: "
            f"{len(body)} bytes with no resourceLogs"
        )
    count = 0
    groups = []
    for rl in msg.resource_logs:
        scopes = []
        for sl in rl.scope_logs:
            records = [_wire_record(r) for r in sl.log_records]
            count += len(records)
            scopes.append(ScopeLogs(records))
        groups.append(ResourceLogs(scopes))
    return LogsData(groups), count


def _wire_record(r: Any) -> LogRecord:
    return LogRecord(
        time_unix_nano=r.time_unix_nano,
        observed_time_unix_nano=r.observed_time_unix_nano,
        # OTLP 1.5 added the field; an older opentelemetry-proto lacks it.
        event_name=getattr(r, "event_name", "") or "",
        body=_wire_value(r.body) if r.HasField("body") else None,
        attributes=_wire_kvs(r.attributes),
        trace_id=r.trace_id.hex(),
        span_id=r.span_id.hex(),
    )


def _wire_span(s: Any) -> WireSpan:
    status = None
    if s.HasField("status"):
        st = s.status
        status = Status(st.code or None, st.message or None)
    return WireSpan(
        s.trace_id.hex(),
        s.span_id.hex(),
        s.parent_span_id.hex() or None,
        s.name,
        s.kind,
        s.start_time_unix_nano,
        s.end_time_unix_nano,
        _wire_kvs(s.attributes) if s.attributes else [],
        [Event(e.name, e.time_unix_nano, _wire_kvs(e.attributes)) for e in s.events]
        if s.events
        else [],
        status,
        s.dropped_attributes_count,
        s.flags or None,
    )


def _wire_kvs(kvs: Any) -> list[KeyValue]:
    out: list[KeyValue] = []
    append = out.append
    for kv in kvs:
        v = kv.value
        text = v.string_value  # the common case, as in _kvs
        if text:
            append(KeyValue(kv.key, AnyValue(text)))
        else:
            append(KeyValue(kv.key, _wire_value(v)))
    return out


def _wire_value(v: Any) -> AnyValue:
    which = v.WhichOneof("value")
    if which == "string_value":
        return AnyValue(string_value=v.string_value)
    if which == "int_value":
        return AnyValue(int_value=v.int_value)
    if which == "double_value":
        x = v.double_value
        return AnyValue(double_value=x if math.isfinite(x) else _NON_FINITE[str(x)])
    if which == "bool_value":
        return AnyValue(bool_value=v.bool_value)
    if which == "array_value":
        return AnyValue(array_value=ArrayValue([_wire_value(x) for x in v.array_value.values]))
    if which == "kvlist_value":
        return AnyValue(kvlist_value=KvList(_wire_kvs(v.kvlist_value.values)))
    if which == "bytes_value":
        return AnyValue(bytes_value=base64.b64encode(v.bytes_value).decode())
    return AnyValue()


def _resource(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": _kvs(r.attributes)}
    if r.dropped_attributes_count:
        out["droppedAttributesCount"] = r.dropped_attributes_count
    return out


def _scope_spans(ss: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    if ss.scope.name:
        scope["name"] = ss.scope.name
    if ss.scope.version:
        scope["version"] = ss.scope.version
    if ss.scope.attributes:
        scope["attributes"] = _kvs(ss.scope.attributes)
    out: dict[str, Any] = {"scope": scope, "spans": [_span(s) for s in ss.spans]}
    if ss.schema_url:
        out["schemaUrl"] = ss.schema_url
    return out


def _span(s: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "traceId": s.trace_id.hex(),
        "spanId": s.span_id.hex(),
        "name": s.name,
        "kind": s.kind,
        "startTimeUnixNano": str(s.start_time_unix_nano),
        "endTimeUnixNano": str(s.end_time_unix_nano),
        "attributes": _kvs(s.attributes),
    }
    if s.parent_span_id:
        d["parentSpanId"] = s.parent_span_id.hex()
    if s.trace_state:
        d["traceState"] = s.trace_state
    if s.flags:
        d["flags"] = s.flags
    if s.dropped_attributes_count:
        d["droppedAttributesCount"] = s.dropped_attributes_count
    if s.events:
        d["events"] = [_event(e) for e in s.events]
    if s.dropped_events_count:
        d["droppedEventsCount"] = s.dropped_events_count
    if s.links:
        d["links"] = [_link(x) for x in s.links]
    if s.dropped_links_count:
        d["droppedLinksCount"] = s.dropped_links_count
    if s.HasField("status"):
        status: dict[str, Any] = {}
        if s.status.code:
            status["code"] = s.status.code
        if s.status.message:
            status["message"] = s.status.message
        d["status"] = status
    return d


def _event(e: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": str(e.time_unix_nano), "name": e.name}
    if e.attributes:
        out["attributes"] = _kvs(e.attributes)
    if e.dropped_attributes_count:
        out["droppedAttributesCount"] = e.dropped_attributes_count
    return out


def _link(x: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": x.trace_id.hex(), "spanId": x.span_id.hex()}
    if x.trace_state:
        out["traceState"] = x.trace_state
    if x.attributes:
        out["attributes"] = _kvs(x.attributes)
    if x.flags:
        out["flags"] = x.flags
    return out


def _kvs(kvs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    append = out.append
    for kv in kvs:
        v = kv.value
        # Inline the common case: most attributes of most spans are non-empty
        # strings, and a non-empty string_value can only be the string case
        # (an unset oneof member reads as ""), so no WhichOneof call for it.
        text = v.string_value
        if text:
            append({"key": kv.key, "value": {"stringValue": text}})
        else:
            append({"key": kv.key, "value": _value(v)})
    return out


def _value(v: Any) -> dict[str, Any]:
    # Nesting is bounded by protobuf's own parse depth limit (100), so this
    # recursion cannot run away on a hostile body.
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "double_value":
        x = v.double_value
        # JSON has no NaN or infinity; protobuf's JSON mapping spells them.
        return {"doubleValue": x if math.isfinite(x) else _NON_FINITE[str(x)]}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "array_value":
        return {"arrayValue": {"values": [_value(x) for x in v.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": _kvs(v.kvlist_value.values)}}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode()}
    return {}


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
