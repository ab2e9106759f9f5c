"""How every headless command speaks: stable JSON with --json, plain text otherwise.

JSON goes to stdout only, one document per command, keys as documented in
docs/cli.md. Human text is made inert first: it may carry hostile trace text.
Errors go to stderr as one line: ``oncall-tui: error: <what and where>``.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

import msgspec

from oncall_tui.core.text import inert

_encoder = msgspec.json.Encoder(order="deterministic")

# msgspec escapes C0 controls in strings but writes DEL and the C1 controls
# (U+0080..U+009F, UTF-8 C2 80..C2 9F) raw; a terminal acts on U+009B (CSI)
# as on ESC [. Outside strings JSON is ASCII, so these bytes are always inside
# one and their \u escape is the same string.
_RAW_CONTROL = re.compile(rb"\x7f|\xc2[\x80-\x9f]")


def _escape_controls(data: bytes) -> bytes:
    if b"\x7f" not in data and b"\xc2" not in data:  # nearly always: one scan each
        return data
    return _RAW_CONTROL.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)


def json_bytes(obj: Any, *, indent: int = 2) -> bytes:
    """``obj`` as JSON with every control character escaped."""
    data = _encoder.encode(obj)
    if indent:
        data = msgspec.json.format(data, indent=indent)
    return _escape_controls(data)


def to_json(obj: Any) -> str:
    return json_bytes(obj).decode()


def emit_json(obj: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(to_json(obj))
    out.write("\n")


def say(text: str = "", stream: TextIO | None = None) -> None:
    """Print one line of human output, inert: a newline inside ``text`` (a
    span name may hold one) is shown as ``\\n``, so trace text can never
    forge a line of its own (a "no findings", a second trace header)."""
    out = stream or sys.stdout
    out.write(inert(text, single_line=True))
    out.write("\n")


def say_block(text: str, stream: TextIO | None = None) -> None:
    """Print text meant to span lines (a YAML dump, a runbook summary), each line inert."""
    for line in text.splitlines() or [""]:
        say(line, stream)


def error(text: str) -> None:
    sys.stderr.write(f"oncall-tui: error: {inert(text, single_line=True)}\n")


def table(rows: list[list[str]], headers: list[str], stream: TextIO | None = None) -> None:
    """A plain, left-aligned table that survives copy-paste into a ticket."""
    cells = [headers, *rows]
    widths = [
        max(len(inert(str(r[i]), single_line=True)) for r in cells) for i in range(len(headers))
    ]
    for row in cells:
        line = "  ".join(
            inert(str(cell), single_line=True).ljust(widths[i]) for i, cell in enumerate(row)
        )
        say(line.rstrip(), stream)
