"""Which trace format a blob of bytes holds, and reading it into Traces.

Each format registers a ``TraceFormat``: a cheap ``sniff`` over the parsed
top-level JSON value and a ``decode`` into Traces. ``read_traces`` gunzips,
parses once, asks each format in registration order and decodes with the
first that claims the document. An unrecognised document gets a DataError
naming every known format, so a user who pasted the wrong thing learns what
would have worked.

The OTLP decoder (core/otlp.py) and the store formats (sources/formats/)
add themselves to ``FORMATS`` below; order matters only where two sniffers
could both claim a document (the more specific goes first).
"""

from __future__ import annotations

import gc
import gzip
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from oncall_tui.core.assemble import EventBatch, merge_fragments
from oncall_tui.core.models import Trace
from oncall_tui.errors import TraceFormatError


@dataclass(frozen=True, slots=True)
class TraceFormat:
    name: str  # "otlp-json", "jaeger-v1", "jaeger-api-v3", "tempo", "phoenix", "langfuse"
    summary: str
    sniff: Callable[[Any], bool]  # given the parsed top-level JSON value
    # Given the raw bytes too, so a format can decode straight into typed
    # Structs (msgspec) instead of walking the generic parse. A format of
    # events recorded apart from their spans (OTLP logs) gives EventBatches,
    # attached to the spans when everything read together is assembled.
    decode: Callable[[bytes, Any, str], Sequence[Trace | EventBatch]]


FORMATS: list[TraceFormat] = []


def register(fmt: TraceFormat) -> None:
    if any(f.name == fmt.name for f in FORMATS):
        return
    FORMATS.append(fmt)


def _load_builtin_formats() -> None:
    # Imported lazily: the formats import this module to register themselves.
    import oncall_tui.sources.formats  # noqa: F401


def known_formats() -> list[str]:
    _load_builtin_formats()
    return [f.name for f in FORMATS]


def _unwrap(data: bytes, source: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceFormatError(f"{source}: broken gzip ({exc})") from None
    return data


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])


class Document(dict[str, Any]):
    """A JSON object whose values are parsed on first access.

    Sniffing needs only the top-level keys, and the typed decoders want the
    raw bytes: parsing a 100 MB export generically just to look at its keys
    would cost more than decoding it properly.
    """

    def __init__(self, raw: dict[str, msgspec.Raw]) -> None:
        super().__init__(raw)

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if isinstance(value, msgspec.Raw):
            value = msgspec.json.decode(value)
            super().__setitem__(key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (self.get is this)

    def raw(self, key: str) -> bytes:
        """The undecoded JSON of one member (or its re-encoding once parsed)."""
        value = super().__getitem__(key)
        if isinstance(value, msgspec.Raw):
            return bytes(value)
        return msgspec.json.encode(value)

    def member_keys(self, key: str) -> frozenset[str]:
        """Keys of a member object without parsing its values (for sniffing)."""
        if key not in self:
            return frozenset()
        value = super().__getitem__(key)
        if isinstance(value, msgspec.Raw):
            try:
                return frozenset(_TOP.decode(value))
            except (msgspec.DecodeError, msgspec.ValidationError):
                return frozenset()
        return frozenset(value) if isinstance(value, dict) else frozenset()

    def materialise(self) -> dict[str, Any]:
        return {k: self[k] for k in self}


def parse_json(data: bytes, source: str) -> Any:
    """Parse one JSON document with a one-line error; a top-level object comes
    back as a lazy ``Document``. Several documents (JSON lines) come back as
    ``JsonLines``."""
    try:
        return Document(_TOP.decode(data))
    except msgspec.ValidationError:
        pass  # valid JSON, but not an object: parse it whole below
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{source}: not UTF-8 text at byte {exc.start}") from None
    except msgspec.DecodeError:
        pass  # maybe JSON lines; reported below
    try:
        return msgspec.json.decode(data)
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{source}: not UTF-8 text at byte {exc.start}") from None
    except msgspec.DecodeError as exc:
        lines = JsonLines.split(data)
        if len(lines) > 1:
            return lines
        raise TraceFormatError(f"{source}: not JSON ({exc})") from None


class JsonLines(list[tuple[int, bytes]]):
    """(line number, bytes) of each non-blank line: one document per line, as
    SDK file exporters and the OTel Collector's file exporter write them."""

    @classmethod
    def split(cls, data: bytes) -> JsonLines:
        return cls(
            (number, line) for number, line in enumerate(data.splitlines(), start=1) if line.strip()
        )

    @staticmethod
    def parse(line: bytes, where: str) -> Any:
        try:
            return Document(_TOP.decode(line))
        except msgspec.ValidationError:
            pass  # valid JSON, but not an object
        except msgspec.DecodeError as exc:
            raise TraceFormatError(f"{where}: not JSON ({exc})") from None
        return msgspec.json.decode(line)


def detect(doc: Any) -> TraceFormat | None:
    _load_builtin_formats()
    for fmt in FORMATS:
        if fmt.sniff(doc):
            return fmt
    return None


def read_traces(data: bytes, *, source: str = "<input>") -> list[Trace]:
    """Every trace in ``data`` (any known format, gzip or not)."""
    return read_many([(data, source)])


def read_many(inputs: Iterable[tuple[bytes, str]], *, need_spans: bool = False) -> list[Trace]:
    """Every trace in several inputs read together, as ``(data, source)``:
    the spans of one trace id are assembled across all of them, and log
    records (OTLP logs) are attached to the spans they name, wherever either
    was read. Log records alone give no trace; with ``need_spans`` (a person
    named the files) that is an error saying what to pass instead."""
    # Decoding allocates millions of container objects that live on; letting
    # the cycle collector rescan them on every generation makes reading
    # superlinear. Nothing decoded here holds a reference cycle.
    enabled = gc.isenabled()
    gc.disable()
    try:
        traces: list[Trace] = []
        batches: list[EventBatch] = []
        sources: list[str] = []
        for data, source in inputs:
            sources.append(source)
            for part in _decode_input(data, source):
                if isinstance(part, EventBatch):
                    batches.append(part)
                else:
                    traces.append(part)
        if need_spans and not traces and any(b.events for b in batches):
            count = sum(b.count for b in batches)
            raise TraceFormatError(
                f"{', '.join(sources)}: {count} log record(s) naming spans, but no spans: "
                "read them with the trace file they belong to "
                "(oncall-tui trace analyze TRACE_FILE LOGS_FILE)"
            )
        return merge_fragments(traces, batches)
    finally:
        if enabled:
            gc.enable()


def _decode_input(data: bytes, source: str) -> list[Trace | EventBatch]:
    try:
        return _read(data, source)
    except UnicodeDecodeError as exc:
        # Members are parsed lazily, so bad bytes deep inside surface here.
        raise TraceFormatError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except msgspec.DecodeError as exc:
        raise TraceFormatError(f"{source}: not JSON ({exc})") from None
    except RecursionError:
        # msgspec's decoder (and any value walk) has a depth limit; a hostile
        # or broken export can nest AnyValues deeper than that.
        raise TraceFormatError(
            f"{source}: JSON nested too deeply to read (about 1,000 levels is the "
            f"limit; an attribute value nests arrays or key/value lists deeper)"
        ) from None


def _read(data: bytes, source: str) -> list[Trace | EventBatch]:
    """The decoded pieces of one input; the caller joins them by trace id."""
    raw = _unwrap(data, source)
    doc = parse_json(raw, source)
    if isinstance(doc, JsonLines):
        # Exporters write a trace over many lines (a span or a batch each):
        # decode every line; the pieces are joined by trace id afterwards.
        parts: list[Trace | EventBatch] = []
        for number, line in doc:
            where = f"{source}:{number}"
            part = JsonLines.parse(line, where)
            fmt = detect(part)
            if fmt is None:
                raise _unknown(where, part)
            parts.extend(fmt.decode(line, part, where))
        return parts
    fmt = detect(doc)
    if fmt is None:
        raise _unknown(source, doc)
    return list(fmt.decode(raw, doc, source))


def _unknown(where: str, doc: Any) -> TraceFormatError:
    names = ", ".join(known_formats()) or "none registered"
    for sniff, what in NOT_TRACES:
        if sniff(doc):
            return TraceFormatError(f"{where}: {what}, not a trace (trace formats: {names})")
    return TraceFormatError(
        f"{where}: not a trace format oncall-tui knows (known: {names})",
        hint="export OTLP/JSON, or paste the JSON your trace store's API returned",
    )


def _keys(doc: Any) -> frozenset[str]:
    return frozenset(doc) if isinstance(doc, dict) else frozenset()


def _first_item_keys(doc: Any, key: str) -> frozenset[str]:
    items = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return frozenset(items[0])
    return frozenset()


#: Documents people paste that are about traces but hold none: each gets a
#: sentence saying what it is instead of the list of formats.
NOT_TRACES: list[tuple[Callable[[Any], bool], str]] = [
    (
        lambda d: "traces" in _keys(d) and "traceID" in _first_item_keys(d, "traces"),
        "a Tempo search result (trace ids and matched spans only; fetch a trace by id)",
    ),
    (
        lambda d: "summaries" in _keys(d) and "traceId" in _first_item_keys(d, "summaries"),
        "a Jaeger api_v3 trace summary list (fetch a trace by id)",
    ),
    (
        lambda d: _keys(d) & {"services", "operations"} == _keys(d) and bool(_keys(d)),
        "a Jaeger service or operation list",
    ),
    (
        lambda d: (
            "next_cursor" in _keys(d)
            and {"name", "id"} <= _first_item_keys(d, "data")
            and "span_id" not in _first_item_keys(d, "data")
            and "trace_id" not in _first_item_keys(d, "data")
        ),
        "a Phoenix project list",
    ),
    (
        lambda d: "openapi" in _keys(d) or "swagger" in _keys(d),
        "an OpenAPI description",
    ),
]
