"""Make untrusted text (span names, prompts, tool output) inert for display.

Text from traces and gateways is hostile: an ANSI escape in a span name must
not move the cursor of the responder's terminal, and ``[bold]`` in a prompt is
not markup. Every presenter passes such text through ``inert`` and shows it
as plain text (Rich ``Text``, never markup strings).
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, and C1 controls (0x80-0x9f: CSI, OSC...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Unicode direction overrides can make text read differently from what it is;
# the line and paragraph separators break lines in editors and some terminals.
_BIDI = re.compile(r"[\u2028\u2029\u202a-\u202e\u2066-\u2069]")

ELLIPSIS = "…"


def inert(text: object, *, single_line: bool = False) -> str:
    """Replace every control character with a visible escape like ``\\x1b``."""
    value = text if isinstance(text, str) else str(text)
    value = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    value = _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if single_line:
        value = value.replace("\n", "\\n").replace("\t", " ")
    return value


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def preview(text: object, limit: int = 120) -> str:
    """One inert line for a table cell; the full value stays reachable elsewhere."""
    return truncate(inert(text, single_line=True), limit)


def duration_text(seconds: float) -> str:
    """A span of time as a person says it: "40 min", "26 h", "1.5 h", "9 days"."""
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    value, unit = (seconds / 3600, "h") if seconds < 2 * 86400 else (seconds / 86400, "days")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
