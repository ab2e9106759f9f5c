"""OTLP/JSON -> ``otel_traces`` rows, the way the OTel Collector ClickHouse
exporter writes them (exporter/clickhouseexporter, ``pushTraceData``):

- one row per span; ``Timestamp`` is the span's start, ``Duration`` end - start (ns);
- ``TraceId`` / ``SpanId`` / ``ParentSpanId`` lowercase hex, '' when absent;
- ``SpanKind`` and ``StatusCode`` as ``traceutil.SpanKindStr`` /
  ``StatusCodeStr`` name them ("Internal", "Client", ...; "Unset", "Ok", "Error");
- ``ServiceName`` from the resource's ``service.name``;
- every attribute value as text (``pcommon.Value.AsString``: ints in decimal,
  bools "true"/"false", doubles shortest form, arrays and maps as JSON);
- ``ScopeName`` / ``ScopeVersion`` from the instrumentation scope;
- events and links as the Nested columns' parallel arrays.

Rows come out as JSONEachRow lines with nanosecond times as integers; ``insert``
loads them through ``fromUnixTimestamp64Nano`` so no time precision is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

_KINDS = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"}
_STATUS = {0: "Unset", 1: "Ok", 2: "Error"}
_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _plain(v: dict[str, Any]) -> Any:
    """An OTLP AnyValue as a plain JSON value (for arrays and maps)."""
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_plain(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: _plain(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]  # already base64 in OTLP/JSON, as AsString gives it
    return None


def as_string(v: dict[str, Any]) -> str:
    """``pcommon.Value.AsString`` for one OTLP/JSON AnyValue."""
    if "stringValue" in v:
        return str(v["stringValue"])
    if "boolValue" in v:
        return "true" if v["boolValue"] else "false"
    if "intValue" in v:
        return str(int(v["intValue"]))
    if "doubleValue" in v:
        d = float(v["doubleValue"])
        return str(int(d)) if d.is_integer() and abs(d) < 1e21 else repr(d)
    if "arrayValue" in v or "kvlistValue" in v:
        return json.dumps(_plain(v), separators=(",", ":"))
    if "bytesValue" in v:
        return str(v["bytesValue"])
    return ""


def _attrs(kvs: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {kv["key"]: as_string(kv.get("value", {})) for kv in kvs}


def _enum(value: Any, names: dict[str, int]) -> int:
    if isinstance(value, str):
        return names.get(value, 0)
    return int(value or 0)


def rows_from_otlp(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for rs in doc.get("resourceSpans", []):
        res = _attrs(rs.get("resource", {}).get("attributes", []))
        service = res.get("service.name", "")
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {})
            for s in ss.get("spans", []):
                start = int(s["startTimeUnixNano"])
                end = int(s.get("endTimeUnixNano", start))
                events = s.get("events", [])
                links = s.get("links", [])
                status = s.get("status", {})
                yield {
                    "ts_ns": start,
                    "TraceId": s["traceId"].lower(),
                    "SpanId": s["spanId"].lower(),
                    "ParentSpanId": (s.get("parentSpanId") or "").lower(),
                    "TraceState": s.get("traceState", ""),
                    "SpanName": s.get("name", ""),
                    "SpanKind": _KINDS.get(_enum(s.get("kind"), _KIND_NAMES), "Unspecified"),
                    "ServiceName": service,
                    "ResourceAttributes": res,
                    "ScopeName": scope.get("name", ""),
                    "ScopeVersion": scope.get("version", ""),
                    "SpanAttributes": _attrs(s.get("attributes", [])),
                    "Duration": max(0, end - start),
                    "StatusCode": _STATUS.get(_enum(status.get("code"), _STATUS_NAMES), "Unset"),
                    "StatusMessage": status.get("message", ""),
                    "ev_ns": [int(e.get("timeUnixNano", start)) for e in events],
                    "ev_names": [e.get("name", "") for e in events],
                    "ev_attrs": [_attrs(e.get("attributes", [])) for e in events],
                    "ln_trace": [ln.get("traceId", "").lower() for ln in links],
                    "ln_span": [ln.get("spanId", "").lower() for ln in links],
                    "ln_state": [ln.get("traceState", "") for ln in links],
                    "ln_attrs": [_attrs(ln.get("attributes", [])) for ln in links],
                }


_STAGING = """CREATE TABLE IF NOT EXISTS {staging} (
    ts_ns Int64, TraceId String, SpanId String, ParentSpanId String, TraceState String,
    SpanName String, SpanKind String, ServiceName String,
    ResourceAttributes Map(String, String), ScopeName String, ScopeVersion String,
    SpanAttributes Map(String, String), Duration UInt64, StatusCode String, StatusMessage String,
    ev_ns Array(Int64), ev_names Array(String), ev_attrs Array(Map(String, String)),
    ln_trace Array(String), ln_span Array(String), ln_state Array(String),
    ln_attrs Array(Map(String, String))
) ENGINE = Memory"""

_MOVE = """INSERT INTO {table} (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName,
    SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration,
    StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`)
SELECT fromUnixTimestamp64Nano(ts_ns), TraceId, SpanId, ParentSpanId, TraceState, SpanName,
    SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration,
    StatusCode, StatusMessage, arrayMap(x -> fromUnixTimestamp64Nano(x), ev_ns), ev_names,
    ev_attrs, ln_trace, ln_span, ln_state, ln_attrs
FROM {staging}"""


def insert(session: Any, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Load rows into ``table`` through a Memory staging table (JSONEachRow in,
    times converted from integer nanoseconds in SQL)."""
    staging = f"{table}_staging"
    session.query(_STAGING.format(staging=staging))
    session.query(f"TRUNCATE TABLE {staging}")
    lines = [json.dumps(r, separators=(",", ":")) for r in rows]
    for i in range(0, len(lines), 5_000):
        body = "\n".join(lines[i : i + 5_000])
        session.query(f"INSERT INTO {staging} FORMAT JSONEachRow\n{body}")
    session.query(_MOVE.format(table=table, staging=staging))
    session.query(f"DROP TABLE {staging}")
    return len(lines)


def shifted(doc: dict[str, Any], *, trace_id: str, delta_ns: int) -> dict[str, Any]:
    """A copy of an OTLP document with every span moved to another trace id and
    ``delta_ns`` later (one recorded case, many fleet traces)."""
    text = json.dumps(doc)
    out = json.loads(text)
    for rs in out.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                s["traceId"] = trace_id
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    if k in s:
                        s[k] = str(int(s[k]) + delta_ns)
                for e in s.get("events", []):
                    if "timeUnixNano" in e:
                        e["timeUnixNano"] = str(int(e["timeUnixNano"]) + delta_ns)
    return out
