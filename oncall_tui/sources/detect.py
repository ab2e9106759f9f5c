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

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from oncall_tui.core.models import Trace
from oncall_tui.errors import TraceFormatError


@dataclass(frozen=True, slots=True)
class TraceFormat:
    name: str  # "otlp-json", "jaeger-v1", "jaeger-api-v3", "tempo", "phoenix", "langfuse"
    summary: str
    sniff: Callable[[Any], bool]  # given the parsed top-level JSON value
    # Given the raw bytes too, so a format can decode straight into typed
    # Structs (msgspec) instead of walking the generic parse.
    decode: Callable[[bytes, Any, str], list[Trace]]


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


def parse_json(data: bytes, source: str) -> Any:
    """Parse JSON or JSON lines (one document per line) with a one-line error."""
    try:
        return msgspec.json.decode(data)
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{source}: not UTF-8 text at byte {exc.start}") from None
    except msgspec.DecodeError as exc:
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if len(lines) > 1:
            docs = []
            for number, line in enumerate(data.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    docs.append(msgspec.json.decode(line))
                except (msgspec.DecodeError, UnicodeDecodeError) as line_exc:
                    raise TraceFormatError(f"{source}:{number}: not JSON ({line_exc})") from None
            return {"__jsonl__": docs}
        raise TraceFormatError(f"{source}: not JSON ({exc})") from None


def detect(doc: Any) -> TraceFormat | None:
    _load_builtin_formats()
    for fmt in FORMATS:
        if fmt.sniff(doc):
            return fmt
    return None


def read_traces(data: bytes, *, source: str = "<input>") -> list[Trace]:
    """Every trace in ``data`` (any known format, gzip or not)."""
    raw = _unwrap(data, source)
    doc = parse_json(raw, source)
    if isinstance(doc, dict) and "__jsonl__" in doc:
        traces: list[Trace] = []
        for number, part in enumerate(doc["__jsonl__"], start=1):
            fmt = detect(part)
            if fmt is None:
                raise _unknown(f"{source}:{number}")
            traces.extend(fmt.decode(msgspec.json.encode(part), part, f"{source}:{number}"))
        return traces
    fmt = detect(doc)
    if fmt is None:
        raise _unknown(source)
    return fmt.decode(raw, doc, source)


def _unknown(where: str) -> TraceFormatError:
    names = ", ".join(known_formats()) or "none registered"
    return TraceFormatError(
        f"{where}: not a trace format oncall-tui knows (known: {names})",
        hint="export OTLP/JSON, or paste the JSON your trace store's API returned",
    )
