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

import codecs
import gc
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from oncall_tui.core.assemble import EventBatch, merge_fragments
from oncall_tui.core.models import QualityNote, Trace
from oncall_tui.core.otlp import NoSpansRead, why_dropped
from oncall_tui.errors import TraceFormatError, UsageError


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


#: Environment variable bounding how big a gzip input may unpack (bytes).
MAX_UNPACKED_ENV = "ONCALL_TUI_MAX_UNPACKED_BYTES"
DEFAULT_MAX_UNPACKED = 1 << 30  # 1 GiB: far above any trace a person reads whole

_GZIP = b"\x1f\x8b"
_CHUNK = 1 << 20


def max_unpacked() -> int:
    """The unpacked-size limit for gzip input: ``$ONCALL_TUI_MAX_UNPACKED_BYTES`` or 1 GiB."""
    raw = os.environ.get(MAX_UNPACKED_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UNPACKED
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(f"{MAX_UNPACKED_ENV}={raw!r}: expected a positive number of bytes")
    return value


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def gunzip(data: bytes, source: str, limit: int | None = None) -> bytes:
    """Unpack gzip (every member) in chunks, stopping as soon as the output
    passes ``limit``: a 2 MB bomb must not allocate gigabytes before it fails."""
    limit = max_unpacked() if limit is None else limit
    out = bytearray()
    rest = data
    try:
        while rest[:2] == _GZIP:
            inflater = zlib.decompressobj(wbits=31)
            pending = rest
            while not inflater.eof:
                piece = inflater.decompress(pending, _CHUNK)
                out += piece
                if len(out) > limit:
                    raise TraceFormatError(
                        f"{source}: gzip unpacks to more than {_size(limit)}; if the trace is "
                        f"really that big, raise the limit with {MAX_UNPACKED_ENV}=BYTES"
                    )
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    raise TraceFormatError(f"{source}: broken gzip (the data ends early)")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise TraceFormatError(f"{source}: broken gzip ({exc})") from None
    if rest.strip(b"\0"):
        raise TraceFormatError(f"{source}: broken gzip (other data after the compressed data)")
    return bytes(out)


def _unwrap(data: bytes, source: str, limit: int | None = None) -> bytes:
    if data[:2] == _GZIP:
        data = gunzip(data, source, limit)
    return _utf8(data, source)


#: Byte-order marks of the encodings JSON must not be in, longest first.
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
# Without a mark: JSON starts with an ASCII character, so the zero bytes among
# the first four give the encoding away (RFC 4627, section 3).
_ZEROS: dict[tuple[bool, ...], str] = {
    (True, True, True, False): "UTF-32 (big-endian)",
    (False, True, True, True): "UTF-32 (little-endian)",
    (True, False, True, False): "UTF-16 (big-endian)",
    (False, True, False, True): "UTF-16 (little-endian)",
}


def _utf8(data: bytes, source: str) -> bytes:
    """``data`` without a UTF-8 byte-order mark; an error naming the encoding
    of a UTF-16 or UTF-32 file (Windows tools write those)."""
    if data[:3] == codecs.BOM_UTF8:
        return data[3:]
    name = next((n for bom, n in _BOMS if data.startswith(bom)), None)
    if name is None and len(data) >= 4 and 0 in data[:4]:
        name = _ZEROS.get(tuple(b == 0 for b in data[:4]))
    if name is not None:
        family = name.split()[0]
        raise TraceFormatError(
            f"{source}: file is {name}; convert it to UTF-8 "
            f"(iconv -f {family} -t UTF-8 FILE > FILE.utf8.json)"
        )
    return data


def bad_utf8_at(data: bytes) -> int | None:
    """Offset of the first byte that is not UTF-8, in chunks (no copy of the
    whole file as text); None when all of it is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for at in range(0, len(data), _CHUNK):
        held = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
        try:
            decoder.decode(data[at : at + _CHUNK], final=at + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return at - held + exc.start
    return None


def _not_utf8(data: bytes, source: str) -> TraceFormatError | None:
    at = bad_utf8_at(data)
    if at is None:
        return None
    line = data.count(b"\n", 0, at) + 1
    return TraceFormatError(f"{source}: not UTF-8 text at byte {at} (line {line})")


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
        raise _not_utf8(data, source) or TraceFormatError(f"{source}: not JSON ({exc})") from None


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
            raise _not_utf8(line, where) or TraceFormatError(f"{where}: not JSON ({exc})") from None
        return msgspec.json.decode(line)


def detect(doc: Any) -> TraceFormat | None:
    _load_builtin_formats()
    for fmt in FORMATS:
        if fmt.sniff(doc):
            return fmt
    return None


def read_traces(
    data: bytes, *, source: str = "<input>", max_unpacked: int | None = None
) -> list[Trace]:
    """Every trace in ``data`` (any known format, gzip or not)."""
    return read_many([(data, source)], max_unpacked=max_unpacked)


def read_many(
    inputs: Iterable[tuple[bytes, str]],
    *,
    need_spans: bool = False,
    max_unpacked: int | None = None,
) -> list[Trace]:
    """Every trace in several inputs read together, as ``(data, source)``:
    the spans of one trace id are assembled across all of them, and log
    records (OTLP logs) are attached to the spans they name, wherever either
    was read. Log records alone give no trace; with ``need_spans`` (a person
    named the files) that is an error saying what to pass instead. A
    document whose every span was malformed lends its notes to the traces
    read with it; when no trace is left at all, the error shows them.
    ``max_unpacked`` bounds gzip input (default: ``max_unpacked()``)."""
    # Decoding allocates millions of container objects that live on; letting
    # the cycle collector rescan them on every generation makes reading
    # superlinear. Nothing decoded here holds a reference cycle.
    enabled = gc.isenabled()
    gc.disable()
    try:
        traces: list[Trace] = []
        batches: list[EventBatch] = []
        sources: list[str] = []
        dropped: list[NoSpansRead] = []
        for data, source in inputs:
            sources.append(source)
            for part in _decode_input(data, source, max_unpacked, dropped):
                if isinstance(part, EventBatch):
                    batches.append(part)
                else:
                    traces.append(part)
        if not traces and dropped:
            if len(dropped) == 1:
                raise dropped[0]
            notes = [n for exc in dropped for n in exc.notes]
            raise TraceFormatError(
                f"{', '.join(sources)}: no span could be read: {why_dropped(notes)}"
            )
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


# An escaped UTF-16 surrogate pair, or half of one. JavaScript exporters write
# half (``"\\ud83d"``) when an SDK cut a value inside an emoji; msgspec refuses it.
_SURROGATE = re.compile(rb"(\\u[dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|"
                        rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")  # fmt: skip


def _lone_surrogates(raw: bytes) -> tuple[bytes, int]:
    """``raw`` with every half surrogate escape read as U+FFFD, and how many."""
    count = 0

    def fix(m: re.Match[bytes]) -> bytes:
        nonlocal count
        if m.group(1) and m.group(2):
            return m.group()  # a whole pair: one real character
        count += 1
        return b"\\ufffd"

    return _SURROGATE.sub(fix, raw), count


def _decode_input(
    data: bytes, source: str, limit: int | None, dropped: list[NoSpansRead]
) -> list[Trace | EventBatch]:
    raw = _unwrap(data, source, limit)
    try:
        return _decode_raw(raw, source, dropped)
    except TraceFormatError as exc:
        if "surrogate" not in str(exc):
            raise
        fixed, count = _lone_surrogates(raw)
        if not count:
            raise
    note = QualityNote(
        "malformed_span",
        f"{count} half UTF-16 character(s) (an escape like \\ud83d without its pair: "
        "a value cut inside an emoji) read as U+FFFD",
        None,
        source,
    )
    return [*_decode_raw(fixed, source, dropped), EventBatch({}, {}, [note])]


def _decode_raw(raw: bytes, source: str, dropped: list[NoSpansRead]) -> list[Trace | EventBatch]:
    try:
        return _read(raw, source, dropped)
    except NoSpansRead as exc:
        dropped.append(exc)
        return [EventBatch({}, {}, list(exc.notes))]
    except UnicodeDecodeError as exc:
        raise _not_utf8(raw, source) or TraceFormatError(
            f"{source}: not UTF-8 text ({exc.reason})"
        ) from None
    except msgspec.DecodeError as exc:
        # Members are parsed lazily, so bad bytes deep inside surface here.
        raise _not_utf8(raw, source) or TraceFormatError(f"{source}: not JSON ({exc})") from None
    except TraceFormatError as exc:
        # A decoder that met bad UTF-8 in a member knows only the member's offset.
        if "UTF-8" in str(exc):
            raise _not_utf8(raw, source) or exc from None
        raise
    except RecursionError:
        # msgspec's decoder (and any value walk) has a depth limit; a hostile
        # or broken export can nest AnyValues deeper than that.
        raise TraceFormatError(
            f"{source}: JSON nested too deeply to read (about 1,000 levels is the "
            f"limit; an attribute value nests arrays or key/value lists deeper)"
        ) from None


def _read(raw: bytes, source: str, dropped: list[NoSpansRead]) -> list[Trace | EventBatch]:
    """The decoded pieces of one unpacked input; the caller joins them by trace id."""
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
            try:
                parts.extend(fmt.decode(line, part, where))
            except NoSpansRead as exc:
                # One bad line must not lose the trace the other lines hold.
                dropped.append(exc)
                parts.append(EventBatch({}, {}, list(exc.notes)))
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
