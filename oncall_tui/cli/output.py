"""How every headless command speaks: stable JSON with --json, plain text otherwise.

JSON goes to stdout only, one document per command, keys as documented in
docs/cli.md. Human text is made inert first: it may carry hostile trace text.
Errors go to stderr as one line: ``oncall-tui: error: <what and where>``.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import msgspec

from oncall_tui.core.text import inert

_encoder = msgspec.json.Encoder(order="deterministic")


def to_json(obj: Any) -> str:
    return msgspec.json.format(_encoder.encode(obj), indent=2).decode()


def emit_json(obj: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(to_json(obj))
    out.write("\n")


def say(text: str = "", stream: TextIO | None = None) -> None:
    """Print one line of human output, inert."""
    out = stream or sys.stdout
    out.write(inert(text))
    out.write("\n")


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
