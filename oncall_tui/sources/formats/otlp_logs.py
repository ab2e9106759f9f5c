"""OTLP/JSON logs (``{"resourceLogs": [...]}``): span events recorded as log
records, waiting to be attached to their spans.

The older GenAI event conventions (opentelemetry-instrumentation-openai-v2
2.0b0 to 2.3b0, through the Events API) never write message content or tool
call arguments onto spans: they emit ``gen_ai.choice``,
``gen_ai.tool.message``, ... as log records that name the chat span by trace
and span id. Read together with the spans (``trace analyze trace.json
logs.json``), each such record becomes a ``SpanEvent`` of that span, shaped
like the span event the same convention wrote before the Events API: the
record's attributes plus its body's keys (``gen_ai.tool.message`` body
``{content, id}`` -> attributes ``content``, ``id``), so the conventions and
``enrich`` read both alike. A body that is not a map is kept under ``body``.

Records that name no span (plain application logs) are skipped: they say
nothing about a trace. Ids are decoded as core/otlp.py decodes span ids
(hex of any case, or base64); snake_case keys are accepted too.
"""

from __future__ import annotations

from typing import Any

import msgspec

from oncall_tui.core import otlp
from oncall_tui.core.assemble import EventBatch
from oncall_tui.core.models import QualityNote, SpanEvent
from oncall_tui.core.quality import MAX_NOTES_PER_KIND
from oncall_tui.errors import TraceFormatError
from oncall_tui.sources.detect import TraceFormat, register


class LogRecord(msgspec.Struct, gc=False, rename="camel"):
    time_unix_nano: int | str = 0
    observed_time_unix_nano: int | str = 0
    event_name: str = ""  # OTLP 1.5+; older records say it in ``event.name``
    body: otlp.AnyValue | None = None
    attributes: list[otlp.KeyValue] = []
    trace_id: str = ""
    span_id: str = ""


class ScopeLogs(msgspec.Struct, gc=False, rename="camel"):
    log_records: list[LogRecord] = []


class ResourceLogs(msgspec.Struct, gc=False, rename="camel"):
    scope_logs: list[ScopeLogs] = []


class LogsData(msgspec.Struct, gc=False, rename="camel"):
    resource_logs: list[ResourceLogs] = []


_DECODER = msgspec.json.Decoder(LogsData)


def _is_logs(doc: Any) -> bool:
    return isinstance(doc, dict) and ("resourceLogs" in doc or "resource_logs" in doc)


def read_logs(raw: bytes, source: str) -> EventBatch:
    """One OTLP/JSON logs document (a ``/v1/logs`` request body) as the span
    events it carries. TraceFormatError names what is wrong."""
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise TraceFormatError(f"{source}: not JSON ({exc})") from None
    except RecursionError:
        raise TraceFormatError(f"{source}: JSON nested too deeply to read") from None
    if not _is_logs(doc):
        raise TraceFormatError(f"{source}: not OTLP logs (no resourceLogs)")
    [batch] = _decode(raw, doc, source)
    return batch


def batch_of(data: LogsData, source: str) -> EventBatch:
    """The span events of logs already in wire Structs (the protobuf
    receiver's: sources/otlp_protobuf.py)."""
    batch = EventBatch({}, {}, [])
    for path, record in _records_fast(data):
        _add(batch, record, f"{source}: resourceLogs{path}")
    return batch


def _decode(raw: bytes, doc: Any, source: str) -> list[EventBatch]:
    try:
        if "resource_logs" in doc:
            # Reuse the span decoder's key normalisation: snake -> camelCase.
            raw = msgspec.json.encode(otlp._camelise(msgspec.json.decode(raw)))
        try:
            records = _records_fast(_DECODER.decode(raw))
            notes: list[QualityNote] = []
        except msgspec.ValidationError:
            records, notes = _records_slow(msgspec.json.decode(raw), source)
    except RecursionError:
        raise TraceFormatError(f"{source}: JSON nested too deeply to read") from None
    except msgspec.DecodeError as exc:
        raise TraceFormatError(f"{source}: not JSON ({exc})") from None
    batch = EventBatch({}, {}, notes)
    for path, record in records:
        _add(batch, record, f"{source}: resourceLogs{path}")
    if len(notes) > MAX_NOTES_PER_KIND:
        # As quality.check caps its kinds: a broken logs file stays readable.
        more = len(notes) - MAX_NOTES_PER_KIND
        notes[MAX_NOTES_PER_KIND:] = [
            QualityNote("malformed_log", f"{more} more malformed_log notes not listed")
        ]
    return [batch]


def _records_fast(data: LogsData) -> list[tuple[str, LogRecord]]:
    return [
        (f"[{ri}].scopeLogs[{si}].logRecords[{li}]", record)
        for ri, rl in enumerate(data.resource_logs)
        for si, sl in enumerate(rl.scope_logs)
        for li, record in enumerate(sl.log_records)
    ]


def _records_slow(
    parsed: Any, source: str
) -> tuple[list[tuple[str, LogRecord]], list[QualityNote]]:
    """Record by record, so one malformed record is a note, not a lost file."""
    out: list[tuple[str, LogRecord]] = []
    notes: list[QualityNote] = []
    groups = parsed.get("resourceLogs") if isinstance(parsed, dict) else None
    for ri, rl in enumerate(groups if isinstance(groups, list) else []):
        scopes = rl.get("scopeLogs") if isinstance(rl, dict) else None
        for si, sl in enumerate(scopes if isinstance(scopes, list) else []):
            items = sl.get("logRecords") if isinstance(sl, dict) else None
            for li, item in enumerate(items if isinstance(items, list) else []):
                path = f"[{ri}].scopeLogs[{si}].logRecords[{li}]"
                try:
                    out.append((path, msgspec.convert(item, LogRecord)))
                except msgspec.ValidationError as exc:
                    where = f"{source}: resourceLogs{path}"
                    notes.append(QualityNote("malformed_log", f"log record: {exc}", None, where))
    return out, notes


def _add(batch: EventBatch, record: LogRecord, where: str) -> None:
    notes = batch.notes
    if not record.trace_id or not record.span_id:
        return
    try:
        key = (otlp.normalise_id(record.trace_id, 16), otlp.normalise_id(record.span_id, 8))
    except otlp.IdError as exc:
        notes.append(QualityNote("malformed_log", f"log record {exc}; dropped", None, where))
        return
    if not key[0].strip("0") or not key[1].strip("0"):
        return  # all-zero ids: the record was logged outside any span
    attrs = otlp.attributes(record.attributes) if record.attributes else {}
    name = record.event_name or attrs.get("event.name")
    body = otlp.any_value(record.body)
    if isinstance(body, dict):
        # The event's own attributes win over a hostile body's same-named key.
        attrs = {**body, **attrs}
    elif body is not None:
        attrs["body"] = body
    try:
        time_ns = int(record.time_unix_nano) or int(record.observed_time_unix_nano)
    except ValueError:
        notes.append(QualityNote("malformed_log", "timestamp is not an integer", key[1], where))
        time_ns = 0
    event = SpanEvent(str(name) if name else "log", time_ns, attrs)
    have = batch.events.get(key)
    if have is None:
        batch.events[key] = [event]
        batch.where[key] = where
    else:
        have.append(event)


register(
    TraceFormat(
        "otlp-logs",
        "OTLP/JSON logs (span events as log records; read with their trace file)",
        _is_logs,
        _decode,
    )
)
