"""ISO-8601 timestamps (Phoenix, Langfuse) -> integer nanoseconds, digits kept.

``datetime.fromisoformat`` stops at microseconds; stores that keep more must
not lose them here, so the fraction is read by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ns(value: str) -> int:
    """Nanoseconds since the epoch; a value without a zone is UTC. ValueError if bad."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    frac_ns = 0
    dot = text.find(".", 10)
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        digits = text[dot + 1 : end]
        if not digits:
            raise ValueError(f"bad fraction in timestamp {value!r}")
        frac_ns = int(digits[:9].ljust(9, "0"))
        text = text[:dot] + text[end:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + frac_ns
