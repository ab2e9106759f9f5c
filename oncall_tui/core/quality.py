"""Data-quality analysis: what is wrong with the trace data itself.

Responders must know when the picture is incomplete before they trust it:
orphans (parent missing), duplicate span ids, parent-pointer loops, spans
that end before they start, times no real span has, and attribute values an
SDK or store cut short.
"""

from __future__ import annotations

from oncall_tui.core.models import QualityNote, Trace
from oncall_tui.core.tree import SpanTree, tree_for

# Markers SDKs and stores append when they cut a value, and the limits they cut
# at (OTel SDK defaults are unlimited, but common configs and stores use these).
_TRUNCATION_MARKERS = ("...[truncated]", "[truncated]", "…", "...")
_CUT_LENGTHS = frozenset({1024, 2048, 4095, 4096, 8191, 8192, 16384, 32768, 65536})

_MIN_CUT = 64

# Times no real span has: a duration over a year (10^25 ms came from a broken
# exporter), a start before 1970 or after 2200. The span is kept as given.
_MAX_DURATION_NS = 366 * 86_400 * 10**9
_LATEST_START_NS = 7_258_118_400 * 10**9  # 2200-01-01T00:00:00Z

#: Cap per kind so a 1M-span trace full of orphans stays readable.
MAX_NOTES_PER_KIND = 50


def check(trace: Trace, tree: SpanTree | None = None) -> list[QualityNote]:
    tree = tree or tree_for(trace)
    spans = trace.spans
    notes: list[QualityNote] = []
    counts: dict[str, int] = {}

    def add(kind: str, detail: str, span_id: str | None) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] <= MAX_NOTES_PER_KIND:
            notes.append(QualityNote(kind, detail, span_id))

    for i in tree.orphans:
        s = spans[i]
        add("orphan", f"parent {s.parent_id} of span {s.span_id} is not in the trace", s.span_id)
    for i in tree.duplicates:
        s = spans[i]
        add("duplicate_id", f"span id {s.span_id} appears more than once; first kept", s.span_id)
    for i in tree.loop_cut:
        s = spans[i]
        add(
            "parent_loop",
            f"parent pointers loop back to span {s.span_id}; loop cut there",
            s.span_id,
        )
    for s in spans:
        if s.end_ns < s.start_ns:
            add(
                "negative_duration",
                f"span {s.span_id} ends {(s.start_ns - s.end_ns) / 1e6:.3f} ms before it starts",
                s.span_id,
            )
        if s.end_ns - s.start_ns > _MAX_DURATION_NS:
            add(
                "absurd_time",
                f"span {s.span_id} lasts {(s.end_ns - s.start_ns) / 86_400e9:.3g} days "
                "(timestamps not in nanoseconds, or broken)",
                s.span_id,
            )
        if not 0 <= s.start_ns <= _LATEST_START_NS:
            when = "before 1970" if s.start_ns < 0 else "after the year 2200"
            add("absurd_time", f"span {s.span_id} starts {when}", s.span_id)
        for key, value in s.attributes.items():
            # Length first: nearly every value is short and cannot be a cut.
            if type(value) is str and len(value) >= _MIN_CUT and _looks_truncated(value):
                add("truncated_attribute", f"{key} of span {s.span_id} looks cut short", s.span_id)
    for kind, count in counts.items():
        if count > MAX_NOTES_PER_KIND:
            notes.append(
                QualityNote(kind, f"{count - MAX_NOTES_PER_KIND} more {kind} notes not listed")
            )
    return notes


def _looks_truncated(value: str) -> bool:
    if len(value) in _CUT_LENGTHS:
        return True
    return len(value) >= 64 and value.endswith(_TRUNCATION_MARKERS)
