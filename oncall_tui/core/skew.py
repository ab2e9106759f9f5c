"""Clock skew between hosts: detect it, and adjust on request.

Client hosts stamp client spans with their own clocks, so a child on another
host can start before its parent or end after it. Raw timestamps are the
default everywhere; ``adjust`` gives the Jaeger-style view: shift a cross-host
child into its parent by centring it, apply the same shift to its same-host
descendants, and never by more than ``MAX_SHIFT_NS``. Every moved span is
listed with its shift, so a presenter can mark it.
"""

from __future__ import annotations

import msgspec

from oncall_tui.core.models import Span, Trace
from oncall_tui.core.tree import SpanTree

MAX_SHIFT_NS = 3600 * 10**9  # beyond an hour it is bad data, not skew


class Skew(msgspec.Struct, frozen=True):
    span_id: str
    parent_id: str
    host: str | None
    parent_host: str | None
    shift_ns: int  # what ``adjust`` adds to the span's times (0 in raw view)


def detect(trace: Trace, tree: SpanTree) -> list[Skew]:
    """Cross-host children that do not fit inside their parent."""
    spans = trace.spans
    out: list[Skew] = []
    for i in tree.order:
        p = tree.parent[i]
        if p < 0:
            continue
        s, ps = spans[i], spans[p]
        if s.host == ps.host:
            continue
        if s.start_ns < ps.start_ns or s.end_ns > ps.end_ns:
            out.append(Skew(s.span_id, ps.span_id, s.host, ps.host, _centre_shift(s, ps)))
    return out


def _centre_shift(s: Span, parent: Span) -> int:
    slack = parent.duration_ns - s.duration_ns
    target = parent.start_ns + slack // 2 if slack >= 0 else parent.start_ns
    shift = target - s.start_ns
    return max(-MAX_SHIFT_NS, min(MAX_SHIFT_NS, shift))


def adjust(trace: Trace, tree: SpanTree) -> tuple[Trace, dict[str, int]]:
    """A copy of ``trace`` with skewed subtrees shifted; and span id -> shift."""
    spans = trace.spans
    shift = [0] * len(spans)
    moved: dict[str, int] = {}
    for i in tree.order:  # parents first, so a parent's own shift is known
        p = tree.parent[i]
        if p < 0:
            continue
        inherited = shift[p] if spans[i].host == spans[p].host else 0
        s = spans[i]
        start, end = s.start_ns + shift[p], s.end_ns + shift[p]
        if s.host != spans[p].host:
            ps_start, ps_end = spans[p].start_ns + shift[p], spans[p].end_ns + shift[p]
            if start < ps_start or end > ps_end:
                moved_parent = msgspec.structs.replace(spans[p], start_ns=ps_start, end_ns=ps_end)
                inherited = shift[p] + _centre_shift(
                    msgspec.structs.replace(s, start_ns=start, end_ns=end), moved_parent
                )
            else:
                inherited = shift[p]
        shift[i] = inherited
        if inherited:
            moved[s.span_id] = inherited
    adjusted = [
        msgspec.structs.replace(s, start_ns=s.start_ns + d, end_ns=s.end_ns + d) if d else s
        for s, d in zip(spans, shift, strict=True)
    ]
    return msgspec.structs.replace(trace, spans=adjusted), moved
