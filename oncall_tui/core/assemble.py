"""Spans from any decoder -> Traces: the one place every format funnels through.

Decoders (core/otlp.py, sources/formats/*) produce flat ``Span`` lists plus the
quality notes they met while decoding (a malformed span is a note, never a lost
trace); ``assemble`` groups by trace id, keeps the order spans arrived in, and
attaches notes and completeness. Data-quality analysis of the assembled trace
(orphans, duplicate ids, parent loops, ...) hangs off here as well, so every
format gets it for free.
"""

from __future__ import annotations

from collections.abc import Iterable

from oncall_tui.core.conventions import fill_from_requests
from oncall_tui.core.models import Completeness, QualityNote, Span, Trace
from oncall_tui.core.quality import check


def assemble(
    spans: Iterable[Span],
    *,
    source: str,
    notes: Iterable[QualityNote] = (),
    completeness: Completeness = "complete",
    reason: str | None = None,
) -> list[Trace]:
    """Group ``spans`` into Traces in first-seen order.

    ``notes`` that name a span id go to that span's trace; the rest go to
    every trace (they describe the input as a whole).
    """
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        bucket = by_trace.get(span.trace_id)
        if bucket is None:
            bucket = by_trace[span.trace_id] = []
        bucket.append(span)
    span_trace = {s.span_id: tid for tid, group in by_trace.items() for s in group}
    general: list[QualityNote] = []
    per_trace: dict[str, list[QualityNote]] = {tid: [] for tid in by_trace}
    for note in notes:
        tid = span_trace.get(note.span_id) if note.span_id else None
        (per_trace[tid] if tid else general).append(note)
    traces = []
    for tid, group in by_trace.items():
        fill_from_requests(group)  # tool arguments recorded only where the model asked
        trace = Trace(
            trace_id=tid,
            spans=group,
            completeness=completeness,
            completeness_reason=reason,
            source=source,
            quality=[*general, *per_trace[tid]],
        )
        trace.quality.extend(check(trace))
        traces.append(trace)
    return traces
