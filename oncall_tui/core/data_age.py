"""How old the data a retrieval or tool span handed the model was.

Stale retrieval breaks answers with no error, latency or tier change: the
only evidence is the age of the data (DESIGN: "age of the data a trace
used"). No convention names it yet; we read ``retrieval.document.age_s``
when a span states it (our simulator does), else the oldest ``indexed_at``
in OpenInference document metadata (``retrieval.documents.N.document.metadata``),
measured from the span's start.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec

from oncall_tui.core.models import Span

DATA_AGE_ATTR = "retrieval.document.age_s"
_DOC_METADATA = re.compile(r"^retrieval\.documents\.\d+\.document\.metadata$")
_DOC_PREFIX = "retrieval.documents."
_FIRST_DOCUMENT = "retrieval.documents.0.document.metadata"
MAX_DOCUMENTS_READ = 50  # per span: hostile traces may list thousands


def data_age_s(span: Span) -> float | None:
    """Seconds; None when the span does not say."""
    attrs = span.attributes
    raw = attrs.get(DATA_AGE_ATTR)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if _FIRST_DOCUMENT not in attrs:
        # OpenInference flattens documents from index 0: no document 0, none at
        # all. One lookup instead of a walk over every tool span's attributes
        # (a tenth of analyze's findings time on a 100k-span agent trace).
        return None
    oldest: float | None = None
    read = 0
    for key, value in attrs.items():
        if not isinstance(value, str) or not key.startswith(_DOC_PREFIX):
            continue
        if not _DOC_METADATA.match(key):
            continue
        read += 1
        if read > MAX_DOCUMENTS_READ:
            break
        try:
            meta = msgspec.json.decode(value)
            stamp = meta.get("indexed_at") if isinstance(meta, dict) else None
            if not isinstance(stamp, str):
                continue
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)  # OTel stamps are UTC
            age = span.start_ns / 1e9 - when.timestamp()
        except (msgspec.DecodeError, AttributeError, TypeError, ValueError, RecursionError):
            continue  # unreadable metadata is no evidence either way
        oldest = age if oldest is None else max(oldest, age)
    return oldest
