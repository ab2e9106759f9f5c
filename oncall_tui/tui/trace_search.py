"""Search inside one trace: which spans a few typed characters match.

Pure (no textual): the trace screen runs ``search`` in a thread worker, in
chunks that check for cancellation, so a new query (or leaving the screen)
stops a scan of a million spans at once. A span matches when the text, any
case, is in its name, its status message, an attribute's key or value, a
field of its GenAI view (name or value), or starts its span id. Matching
only reads the text: nothing found in a trace is ever executed or rendered
as markup.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from oncall_tui.core.models import Span, Trace
from oncall_tui.core.tree import SpanTree

MAX_HITS = 10_000  # kept for n/N; beyond, only counted
CHUNK = 4096  # spans between two cancellation checks


class SearchResult(msgspec.Struct, frozen=True):
    query: str
    hits: list[int]  # span indexes in tree order (pre-order), at most MAX_HITS
    total: int  # every matching span, kept or not
    cancelled: bool = False


_ENCODER = msgspec.json.Encoder()


def _fields(span: Span) -> tuple[object, ...]:
    # What a person may search for; ids and times are not text to match
    # (the span id is matched as a prefix, separately).
    return (span.name, span.status_message, span.attributes, span.gen_ai)


class _Needle:
    """The query in the form the haystack takes: JSON-escaped (a quote or a
    control character in a trace is escaped there), lowercase. ASCII queries
    match the encoded bytes directly; others decode first, for Unicode case."""

    __slots__ = ("ascii", "raw", "text")

    def __init__(self, query: str) -> None:
        self.raw = query
        self.text = _ENCODER.encode(query).decode()[1:-1].lower()
        self.ascii = self.text.isascii()

    def found_in(self, encoded: bytes) -> bool:
        if self.ascii:
            return self.text.encode() in encoded.lower()
        return self.text in encoded.decode().lower()


def matches(span: Span, needle: str) -> bool:
    """``needle`` is lowercase and non-empty."""
    return span.span_id.startswith(needle) or _Needle(needle).found_in(
        _ENCODER.encode(_fields(span))
    )


def search(
    trace: Trace,
    tree: SpanTree,
    query: str,
    *,
    cancelled: Callable[[], bool] = lambda: False,
    cap: int = MAX_HITS,
) -> SearchResult:
    """Every span ``query`` matches, in tree order.

    A chunk of spans is encoded to JSON in one call and searched as one
    text; only a chunk that holds the needle is looked at span by span. A
    selective search (the usual one) so costs one msgspec encode per chunk.
    """
    raw = query.strip().lower()
    if not raw:
        return SearchResult(query, [], 0)
    needle = _Needle(raw)
    spans = trace.spans
    order = tree.order
    hits: list[int] = []
    total = 0
    for begin in range(0, len(order), CHUNK):
        if cancelled():
            return SearchResult(query, hits, total, cancelled=True)
        chunk = order[begin : begin + CHUNK]
        whole = _ENCODER.encode([_fields(spans[i]) for i in chunk])
        by_text = needle.found_in(whole)
        for i in chunk:
            span = spans[i]
            if span.span_id.startswith(raw) or (
                by_text and needle.found_in(_ENCODER.encode(_fields(span)))
            ):
                total += 1
                if len(hits) < cap:
                    hits.append(i)
    return SearchResult(query, hits, total)


def step(hits: list[int], tin: list[int], current: int | None, forward: bool) -> tuple[int, bool]:
    """The hit after (or before) span index ``current`` in tree order, and
    whether it wrapped past the end (start). ``hits`` is in tree order."""
    if current is None:
        return (0 if forward else len(hits) - 1), False
    here = tin[current]
    lo, hi = 0, len(hits)
    if forward:
        while lo < hi:  # first hit strictly after here
            mid = (lo + hi) // 2
            if tin[hits[mid]] <= here:
                lo = mid + 1
            else:
                hi = mid
        return (lo, False) if lo < len(hits) else (0, True)
    while lo < hi:  # first hit at or after here; the one before it is wanted
        mid = (lo + hi) // 2
        if tin[hits[mid]] < here:
            lo = mid + 1
        else:
            hi = mid
    return (lo - 1, False) if lo > 0 else (len(hits) - 1, True)
