"""Search inside one trace: which spans a few typed characters match.

Pure (no textual): the trace screen runs ``search`` in a thread worker, in
chunks that check for cancellation, so a new query (or leaving the screen)
stops a scan of a million spans at once. A span matches when the text, any
case, is in its name, its status message, an attribute's key or value, a
field of its GenAI view, or starts its span id. Matching only reads the
text: nothing found in a trace is ever executed or rendered as markup.
"""

from __future__ import annotations

import json
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


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def matches(span: Span, needle: str) -> bool:
    """``needle`` is lowercase and non-empty."""
    if span.span_id.startswith(needle) or needle in span.name.lower():
        return True
    if span.status_message and needle in span.status_message.lower():
        return True
    for key, value in span.attributes.items():
        if needle in key.lower() or needle in _text(value).lower():
            return True
    g = span.gen_ai
    if g is not None:
        for value in msgspec.structs.astuple(g):
            if value is not None and value != () and needle in _text(value).lower():
                return True
    return False


def search(
    trace: Trace,
    tree: SpanTree,
    query: str,
    *,
    cancelled: Callable[[], bool] = lambda: False,
    cap: int = MAX_HITS,
) -> SearchResult:
    needle = query.strip().lower()
    if not needle:
        return SearchResult(query, [], 0)
    spans = trace.spans
    order = tree.order
    hits: list[int] = []
    total = 0
    for begin in range(0, len(order), CHUNK):
        if cancelled():
            return SearchResult(query, hits, total, cancelled=True)
        for i in order[begin : begin + CHUNK]:
            if matches(spans[i], needle):
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
