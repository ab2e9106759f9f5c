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
    """Parse JSON or JSON lines (one document per line) with a one-line error.

    A top-level object comes back as a lazy ``Document``.
    """
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
    # Decoding allocates millions of container objects that live on; letting
    # the cycle collector rescan them on every generation makes reading
    # superlinear. Nothing decoded here holds a reference cycle.
    enabled = gc.isenabled()
    gc.disable()
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
    finally:
        if enabled:
            gc.enable()


def _read(data: bytes, source: str) -> list[Trace]:
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
