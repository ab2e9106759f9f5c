"""OTLP/JSON -> Spans, decoded straight into typed Structs.

The real variations all arrive here: hex (any case) or base64 ids (Tempo),
enums as integers or names (``2`` or ``"SPAN_KIND_SERVER"``), 64-bit nanos as
strings or numbers, lowerCamelCase keys (the spec) or snake_case keys (some
exporters and hand-written files), every AnyValue type. Tempo's ``batches``
and ``instrumentationLibrarySpans`` (older OTLP) are accepted too.

The hot path decodes the whole document once into the ``_Camel``/``_Snake``
Structs below (no intermediate dicts). If that fails because one span is
malformed, the slow path decodes generically and converts span by span, so a
bad span becomes a QualityNote naming its JSON path, never a lost trace.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import QualityNote, Span, SpanEvent, SpanKind, StatusCode
from oncall_tui.errors import TraceFormatError

# ----------------------------------------------------------------- wire types


class AnyValue(msgspec.Struct, gc=False, rename="camel"):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | str | None = None
    double_value: float | str | None = None
    bytes_value: str | None = None
    array_value: ArrayValue | None = None
    kvlist_value: KvList | None = None


class KeyValue(msgspec.Struct, gc=False, rename="camel"):
    key: str
    value: AnyValue | None = None


class ArrayValue(msgspec.Struct, gc=False, rename="camel"):
    values: list[AnyValue] = []


class KvList(msgspec.Struct, gc=False, rename="camel"):
    values: list[KeyValue] = []


class Status(msgspec.Struct, gc=False, rename="camel"):
    code: int | str | None = None
    message: str | None = None


class Event(msgspec.Struct, gc=False, rename="camel"):
    name: str = ""
    time_unix_nano: int | str = 0
    attributes: list[KeyValue] = []


class WireSpan(msgspec.Struct, gc=False, rename="camel"):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str | None = None
    name: str = ""
    kind: int | str | None = None
    start_time_unix_nano: int | str = 0
    end_time_unix_nano: int | str = 0
    attributes: list[KeyValue] = []
    events: list[Event] = []
    status: Status | None = None
    dropped_attributes_count: int = 0
    flags: int | str | None = None  # W3C trace flags plus the parent's is-remote bits


class Scope(msgspec.Struct, gc=False, rename="camel"):
    name: str | None = None
    version: str | None = None


class ScopeSpans(msgspec.Struct, gc=False, rename="camel"):
    scope: Scope | None = None
    spans: list[WireSpan] = []


class Resource(msgspec.Struct, gc=False, rename="camel"):
    attributes: list[KeyValue] = []


class ResourceSpans(msgspec.Struct, gc=False, rename="camel"):
    resource: Resource | None = None
    scope_spans: list[ScopeSpans] = []
    instrumentation_library_spans: list[ScopeSpans] = []


class TracesData(msgspec.Struct, gc=False, rename="camel"):
    resource_spans: list[ResourceSpans] = []
    batches: list[ResourceSpans] = []  # Tempo's v1 /api/traces


_DECODER = msgspec.json.Decoder(TracesData)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _camelise(value: Any) -> Any:
    """snake_case OTLP (some exporters, hand-written files) -> the spec's camelCase.

    Iterative: a deeply nested kvlist must not hit the recursion limit.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, dict):
            new = {_camel(k) if "_" in k and k != "key" else k: v for k, v in item.items()}
            container[key] = new
            stack.extend((new, k) for k in new)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
    return root[0]


# ----------------------------------------------------------------- conversion

_KINDS: dict[int | str, SpanKind] = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}
for _num, _name in list(_KINDS.items()):
    _KINDS[f"SPAN_KIND_{_name.upper()}"] = _name
    _KINDS[_name.upper()] = _name
    _KINDS[_name] = _name

_STATUS: dict[int | str, StatusCode] = {0: "unset", 1: "ok", 2: "error"}
for _num, _code in list(_STATUS.items()):
    _STATUS[f"STATUS_CODE_{_code.upper()}"] = _code
    _STATUS[_code.upper()] = _code
    _STATUS[_code] = _code

_HEX = frozenset("0123456789abcdefABCDEF")

# SpanFlags (OTLP 1.1): bit 8 says whether bit 9 is known; bit 9 says the
# parent span came from another process.
_REMOTE_KNOWN = 0x100
_REMOTE = 0x200


class IdError(ValueError):
    pass


def normalise_id(value: str, size: int) -> str:
    """Lowercase hex of a trace (size 16) or span (size 8) id given as hex or base64."""
    if len(value) == size * 2 and _HEX.issuperset(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if raw and len(raw) <= size:
        return raw.rjust(size, b"\0").hex()
    if value and _HEX.issuperset(value) and len(value) <= size * 2:
        return value.lower().rjust(size * 2, "0")  # short hex (Jaeger v1 drops zeros)
    raise IdError(f"id {value!r} is neither {size * 2}-digit hex nor base64")


def _cached_id(cache: dict[str, str], value: str, size: int) -> str:
    out = cache[value] = normalise_id(value, size)
    return out


def _shown(value: str, limit: int = 40) -> str:
    """A hostile value quoted for a note: short, so a 10 MB junk string stays a line."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _int_text(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:  # "abc", "1.5", "9,00", "1e400", over 4,300 digits
        return None


def any_value(v: Any, bad: list[str] | None = None, key: str = "") -> Any:
    """OTLP AnyValue Struct -> plain Python value.

    A number sent as text that is not a number (``{"intValue": "9,00"}``) is
    kept as the text it was, and ``bad`` (when given) gets one line saying
    which key held it: the value is data about the system, not a reason to
    lose the span.
    """
    if v is None:
        return None
    if v.string_value is not None:
        return v.string_value
    if v.int_value is not None:
        iv = v.int_value
        if type(iv) is int:
            return iv
        number = _int_text(iv)
        if number is None:
            if bad is not None:
                bad.append(
                    f"attribute {_shown(key)}: intValue {_shown(iv)} "
                    "is not an integer (kept as text)"
                )
            return iv
        return number
    if v.bool_value is not None:
        return v.bool_value
    if v.double_value is not None:
        dv = v.double_value
        if type(dv) is float:
            return dv
        try:
            return float(dv)  # "NaN", "Infinity" and "1e400" (inf) are numbers to proto3 JSON
        except ValueError:
            if bad is not None:
                bad.append(
                    f"attribute {_shown(key)}: doubleValue {_shown(dv)} "
                    "is not a number (kept as text)"
                )
            return dv
    if v.array_value is not None:
        return [any_value(x, bad, f"{key}[{i}]") for i, x in enumerate(v.array_value.values)]
    if v.kvlist_value is not None:
        return {kv.key: any_value(kv.value, bad, f"{key}.{kv.key}") for kv in v.kvlist_value.values}
    if v.bytes_value is not None:
        return v.bytes_value  # base64 text, shown as given
    return None


def attributes(kvs: Iterable[Any], bad: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        # Inline the common string case: it is most attributes of most spans.
        if v is not None and v.string_value is not None:
            out[kv.key] = v.string_value
        else:
            out[kv.key] = any_value(v, bad, kv.key)
    return out


#: Notes per span about values it carried badly, before the rest are counted.
_MAX_VALUE_NOTES = 5


def _value_notes(
    bad: list[str], what: str, span_id: str | None, where: str | None, notes: list[QualityNote]
) -> None:
    for problem in bad[:_MAX_VALUE_NOTES]:
        notes.append(QualityNote("malformed_span", f"{what}: {problem}", span_id, where))
    if len(bad) > _MAX_VALUE_NOTES:
        notes.append(
            QualityNote(
                "malformed_span",
                f"{what}: {len(bad) - _MAX_VALUE_NOTES} more values that are not numbers",
                span_id,
                where,
            )
        )


def _host(res: dict[str, Any], service: str | None) -> str | None:
    host = res.get("host.name") or res.get("host.id")
    pid = res.get("process.pid")
    if host is not None and pid is not None:
        return f"{host}:{pid}"
    if host is not None:
        return str(host)
    if pid is not None:
        return f"{service}:{pid}"
    return service


def _spans_of(
    data: TracesData, where: str, key: str, notes: list[QualityNote]
) -> Iterator[tuple[list[WireSpan], str | None, str | None, int, int]]:
    """(spans of one scope, service, host, resource index, scope index)."""
    groups = data.resource_spans or data.batches
    for ri, rs in enumerate(groups):
        bad: list[str] = []
        res = attributes(rs.resource.attributes, bad) if rs.resource else {}
        if bad:
            _value_notes(bad, "resource", None, f"{where}: {key}[{ri}].resource", notes)
        service = res.get("service.name")
        service = str(service) if service is not None else None
        host = _host(res, service)
        scopes = rs.scope_spans or rs.instrumentation_library_spans
        for si, ss in enumerate(scopes):
            yield ss.spans, service, host, ri, si


def convert_span(
    w: Any,
    service: str | None,
    host: str | None,
    path: str | None,
    notes: list[QualityNote],
    *,
    ids: tuple[dict[str, str], dict[str, str]] | None = None,
) -> Span | None:
    """One wire span -> Span; None (plus a note) when it cannot be placed in a trace.

    ``ids`` (trace ids, span ids) caches id normalisation across a document:
    every span repeats its trace id and most parent ids are an earlier span's.
    """
    traces, cache = ({}, {}) if ids is None else ids
    try:
        trace_id = traces.get(w.trace_id) or _cached_id(traces, w.trace_id, 16)
        span_id = cache.get(w.span_id) or _cached_id(cache, w.span_id, 8)
    except IdError as exc:
        notes.append(QualityNote("malformed_span", f"{exc}; span {w.name!r} dropped", None, path))
        return None
    parent = w.parent_span_id
    parent_id: str | None = None
    if parent:
        try:
            parent_id = cache.get(parent) or _cached_id(cache, parent, 8)
        except IdError as exc:
            notes.append(QualityNote("malformed_span", f"parent {exc}", span_id, path))
        flags = w.flags
        if type(flags) is str:
            flags = _int_text(flags)
        if parent_id and flags and flags & _REMOTE_KNOWN and flags & _REMOTE:
            notes.append(
                QualityNote(
                    "remote_parent",
                    f"parent {parent_id} of span {span_id} is in another process "
                    "(span flags mark it remote)",
                    span_id,
                    path,
                )
            )
    try:
        start = int(w.start_time_unix_nano)
        end = int(w.end_time_unix_nano)
    except ValueError:
        start, end = _times(w, span_id, path, notes)
    bad: list[str] = []
    attrs = attributes(w.attributes, bad) if w.attributes else {}
    status: StatusCode = "unset"
    status_message = None
    if w.status is not None:
        status = _STATUS.get(w.status.code if w.status.code is not None else 0, "unset")
        status_message = w.status.message or None
    events: tuple[SpanEvent, ...] = ()
    if w.events:
        events = tuple(_event(e, start, bad) for e in w.events)
    if bad:
        _value_notes(bad, f"span {_shown(w.name)} ({span_id})", span_id, path, notes)
    kind: SpanKind = _KINDS.get(w.kind if w.kind is not None else 0, "unspecified")
    return Span(
        trace_id,
        span_id,
        parent_id,
        w.name,
        start,
        end,
        kind,
        status,
        status_message,
        service,
        host,
        attrs,
        events,
        genai_view(attrs, w.name, events, start) if attrs else None,
    )


def _times(w: Any, span_id: str, path: str | None, notes: list[QualityNote]) -> tuple[int, int]:
    """Start and end of a span whose timestamps are not both integers: the
    readable one stands in for the other, so the span keeps its place."""
    got: list[int | None] = []
    for field, value in (
        ("startTimeUnixNano", w.start_time_unix_nano),
        ("endTimeUnixNano", w.end_time_unix_nano),
    ):
        number = value if type(value) is int else _int_text(value)
        if number is None:
            notes.append(
                QualityNote(
                    "malformed_span",
                    f"span {_shown(w.name)} ({span_id}): {field} {_shown(value)} "
                    "is not an integer number of nanoseconds",
                    span_id,
                    path,
                )
            )
        got.append(number)
    start, end = got
    if start is None:
        start = end if end is not None else 0
    return start, end if end is not None else start


def _event(e: Any, span_start: int, bad: list[str]) -> SpanEvent:
    at = e.time_unix_nano
    if type(at) is not int:
        number = _int_text(at)
        if number is None:
            bad.append(
                f"event {_shown(e.name)}: timeUnixNano {_shown(at)} is not an integer "
                "(placed at the span's start)"
            )
            number = span_start
        at = number
    return SpanEvent(e.name, at, attributes(e.attributes, bad))


def decode(raw: bytes, parsed: Any, where: str) -> tuple[list[Span], list[QualityNote]]:
    """Spans and notes from an OTLP TracesData document (``raw`` is its JSON).

    Raises only TraceFormatError: callers outside ``read_traces`` (the
    simulator's ``/v1/traces``, store adapters) get the project's error too.
    """
    try:
        spans, notes = _decode(raw, parsed, where)
    except RecursionError:
        # The decoder's depth limit (~1,000 levels): hostile or broken nesting.
        raise TraceFormatError(f"{where}: JSON nested too deeply to read") from None
    except msgspec.DecodeError as exc:
        raise TraceFormatError(f"{where}: not JSON ({exc})") from None
    if not spans and any(n.kind == "malformed_span" for n in notes):
        raise NoSpansRead(where, notes)
    return spans, notes


class NoSpansRead(TraceFormatError):
    """Every span of a document was dropped as malformed: ``notes`` say why.

    An error for a document read alone; a reader joining several documents
    (JSON lines, several files) may keep the notes and go on with the rest.
    """

    def __init__(self, where: str, notes: list[QualityNote]) -> None:
        super().__init__(f"{where}: no span could be read: {why_dropped(notes)}")
        self.where = where
        self.notes = notes


def why_dropped(notes: list[QualityNote], shown: int = 3) -> str:
    """The first few malformed-span notes on one line, then how many more."""
    bad = [n for n in notes if n.kind == "malformed_span"] or notes
    parts = [n.detail + (f" ({n.where})" if n.where else "") for n in bad[:shown]]
    more = f"; and {len(bad) - shown} more" if len(bad) > shown else ""
    return "; ".join(parts).replace("\n", " ") + more


def _decode(raw: bytes, parsed: Any, where: str) -> tuple[list[Span], list[QualityNote]]:
    if isinstance(parsed, dict) and "resource_spans" in parsed:
        parsed = _camelise(msgspec.json.decode(raw))
        raw = msgspec.json.encode(parsed)
    try:
        data = _DECODER.decode(raw)
    except msgspec.ValidationError:
        # The slow path needs real values, whatever lazy view the caller had.
        return _decode_slow(msgspec.json.decode(raw), where)
    return convert_data(data, where)


def convert_data(data: TracesData, where: str) -> tuple[list[Span], list[QualityNote]]:
    """Spans and notes from a document already in wire Structs (the JSON
    decoder's, or the protobuf receiver's: sources/otlp_protobuf.py)."""
    notes: list[QualityNote] = []
    spans: list[Span] = []
    append = spans.append
    ids: tuple[dict[str, str], dict[str, str]] = ({}, {})
    key = "resourceSpans" if data.resource_spans else "batches"
    for group, service, host, ri, si in _spans_of(data, where, key, notes):
        for pi, w in enumerate(group):
            before = len(notes)
            span = convert_span(w, service, host, None, notes, ids=ids)
            if len(notes) > before:
                # The JSON path is built only for spans that earned a note.
                path = f"{where}: {key}[{ri}].scopeSpans[{si}].spans[{pi}]"
                notes[before:] = [msgspec.structs.replace(n, where=path) for n in notes[before:]]
            if span is not None:
                append(span)
    return spans, notes


def decode_value(parsed: Any, where: str) -> tuple[list[Span], list[QualityNote]]:
    """Like ``decode`` for an already-parsed document (wrappers: Jaeger, Tempo v2)."""
    return decode(msgspec.json.encode(parsed), parsed, where)


def _decode_slow(parsed: Any, where: str) -> tuple[list[Span], list[QualityNote]]:
    """Span-by-span conversion: each malformed piece becomes one note."""
    notes: list[QualityNote] = []
    spans: list[Span] = []
    groups = parsed.get("resourceSpans") or parsed.get("batches") or []
    if not isinstance(groups, list):
        notes.append(QualityNote("malformed_span", "resourceSpans is not a list", None, where))
        return spans, notes
    for ri, rs in enumerate(groups):
        path_r = f"{where}: resourceSpans[{ri}]"
        if not isinstance(rs, dict):
            notes.append(QualityNote("malformed_span", "not an object", None, path_r))
            continue
        bad: list[str] = []
        try:
            res = attributes(msgspec.convert(rs.get("resource") or {}, Resource).attributes, bad)
        except msgspec.ValidationError as exc:
            notes.append(QualityNote("malformed_span", f"resource: {exc}", None, path_r))
            res = {}
        if bad:
            _value_notes(bad, "resource", None, f"{path_r}.resource", notes)
        service = str(res["service.name"]) if "service.name" in res else None
        host = _host(res, service)
        scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
        for si, ss in enumerate(scopes if isinstance(scopes, list) else []):
            raw_spans = ss.get("spans") if isinstance(ss, dict) else None
            for pi, raw_span in enumerate(raw_spans if isinstance(raw_spans, list) else []):
                path = f"{path_r}.scopeSpans[{si}].spans[{pi}]"
                try:
                    w = msgspec.convert(raw_span, WireSpan)
                except msgspec.ValidationError as exc:
                    sid = raw_span.get("spanId") if isinstance(raw_span, dict) else None
                    notes.append(
                        QualityNote("malformed_span", f"span {sid or '?'}: {exc}", None, path)
                    )
                    salvaged = _salvage(raw_span)
                    if salvaged is None:
                        continue
                    w = salvaged
                span = convert_span(w, service, host, path, notes)
                if span is not None:
                    spans.append(span)
    return spans, notes


def _salvage(raw_span: Any) -> WireSpan | None:
    """Keep a span whose ids are intact by dropping the fields that failed
    (each attribute and event on its own: one bad value costs only itself)."""
    if not isinstance(raw_span, dict):
        return None
    keep: dict[str, Any] = {}
    for key in ("traceId", "spanId", "parentSpanId"):
        if isinstance(raw_span.get(key), str):
            keep[key] = raw_span[key]
    name = raw_span.get("name")
    keep["name"] = name if isinstance(name, str) else ""
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        value = raw_span.get(key)
        # type() not isinstance(): JSON true/false are ints to Python.
        if type(value) is int or (isinstance(value, str) and value.isdigit()):
            keep[key] = value
    for key in ("kind", "status", "flags"):
        if key in raw_span and _fits(raw_span[key], _FIELD_TYPES[key]):
            keep[key] = raw_span[key]
    for key, item_type in (("attributes", KeyValue), ("events", Event)):
        items = raw_span.get(key)
        if isinstance(items, list):
            keep[key] = [item for item in items if _fits(item, item_type)]
    try:
        return msgspec.convert(keep, WireSpan)
    except msgspec.ValidationError:
        return None


_FIELD_TYPES: dict[str, Any] = {
    "kind": int | str | None,
    "status": Status | None,
    "flags": int | str | None,
}


def _fits(value: Any, kind: Any) -> bool:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError:
        return False
    return True
