"""The call tree as rows: which spans are visible, in what order, how deep.

Pure (no textual): the trace screen renders only the rows on screen from
this model, so a 100,000-span trace is one list of ints, never widgets.
Collapsing or zooming recomputes the visible list in one linear pass.
Zooming to a span lists only its subtree and gives the waterfall that
span's start..end as its time axis.
"""

from __future__ import annotations

from oncall_tui.core.analysis import Analysis
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.text import inert, truncate
from oncall_tui.core.tree import SpanTree, tree_for
from oncall_tui.tui.waterfall_model import Axis, row_runs, shift_text, time_text


class TreeModel:
    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        self.trace = trace
        self.analysis = analysis
        self.tree: SpanTree = tree_for(trace)
        self.collapsed: set[int] = set()
        self.cycle_spans: set[str] = {sid for c in analysis.cycles for sid in c.witness}
        self.finding_spans: set[str] = {sid for f in analysis.findings for sid in f.span_ids}
        self.adjusted = analysis.adjusted
        # Spans the in-trace search matched (indexes), marked on their rows.
        self.hits: set[int] = set()
        # Zoomed-in spans, outermost first; the last one is shown.
        self.zoom: list[int] = []
        self.rows: list[int] = []
        self.refresh_rows()

    # ----------------------------------------------------------- time axis

    def bounds(self) -> tuple[int, int]:
        """The waterfall's time axis: the zoomed span, else the whole trace."""
        if self.zoom:
            span = self.trace.spans[self.zoom[-1]]
            return span.start_ns, max(span.end_ns, span.start_ns)
        s = self.analysis.summary
        if s.start_ns is None:
            return 0, 0
        return s.start_ns, s.start_ns + (s.duration_ns or 0)

    def zoom_in(self, row: int) -> bool:
        """List only the subtree of the span on ``row``; False if nothing changes."""
        if not 0 <= row < len(self.rows):
            return False
        i = self.rows[row]
        if self.zoom and self.zoom[-1] == i:
            return False
        self.zoom.append(i)
        self.collapsed.discard(i)
        self.refresh_rows()
        return True

    def zoom_out(self) -> int | None:
        """Back one zoom level; the span that was zoomed (to keep the cursor on)."""
        if not self.zoom:
            return None
        i = self.zoom.pop()
        self.refresh_rows()
        return i

    def in_view(self, i: int) -> bool:
        return not self.zoom or self.tree.is_descendant(i, self.zoom[-1])

    def refresh_rows(self) -> None:
        tree = self.tree
        out: list[int] = []
        stack = [self.zoom[-1]] if self.zoom else list(reversed(tree.roots))
        children = tree.children
        collapsed = self.collapsed
        while stack:
            i = stack.pop()
            out.append(i)
            if i not in collapsed:
                stack.extend(reversed(children[i]))
        self.rows = out

    def toggle(self, row: int) -> None:
        if not 0 <= row < len(self.rows):
            return
        i = self.rows[row]
        if not self.tree.children[i]:
            return
        if i in self.collapsed:
            self.collapsed.discard(i)
        else:
            self.collapsed.add(i)
        self.refresh_rows()

    def collapse_all_below(self, depth: int) -> None:
        self.collapsed = {
            i for i, kids in enumerate(self.tree.children) if kids and self.tree.depth[i] >= depth
        }
        self.refresh_rows()

    def expand_all(self) -> None:
        self.collapsed.clear()
        self.refresh_rows()

    def span(self, row: int) -> Span | None:
        if 0 <= row < len(self.rows):
            return self.trace.spans[self.rows[row]]
        return None

    def row_of(self, span_id: str) -> int | None:
        """Reveal ``span_id`` (expanding its ancestors) and return its row."""
        i = self.tree.by_id.get(span_id)
        if i is None:
            return None
        return self.row_of_index(i)

    def row_of_index(self, i: int) -> int | None:
        """Reveal span index ``i`` (leaving a zoom that hides it) and return its row."""
        if not self.in_view(i):
            self.zoom.clear()
            self.refresh_rows()
        p = self.tree.parent[i]
        changed = False
        while p >= 0:
            if p in self.collapsed:
                self.collapsed.discard(p)
                changed = True
            p = self.tree.parent[p]
        if changed:
            self.refresh_rows()
        try:
            return self.rows.index(i)
        except ValueError:
            return None

    def label(self, row: int, width: int, *, timing: bool = True) -> tuple[str, str]:
        """(plain text of the row, marker) where marker is one of
        "cycle", "finding", "error", "adjusted" or "". Without ``timing``
        (the waterfall beside it shows the duration) only name, tokens when
        the column is wide, and marks."""
        i = self.rows[row]
        span = self.trace.spans[i]
        tree = self.tree
        depth = tree.depth[i]
        has_kids = bool(tree.children[i])
        twisty = ("▸ " if i in self.collapsed else "▾ ") if has_kids else "  "
        dur = _duration(span.duration_ns)
        g = span.gen_ai
        tokens = ""
        if g is not None and (g.input_tokens or g.output_tokens):
            tokens = f" {(g.input_tokens or 0) + (g.output_tokens or 0)}tok"
        marks = ""
        marker = ""
        if span.span_id in self.adjusted:
            marks += " ⇆"
            marker = "adjusted"
        if span.status == "error":
            marks += " ✗"
            marker = "error"
        if span.span_id in self.finding_spans:
            marks += " !"
            marker = marker or "finding"
        if span.span_id in self.cycle_spans:
            marks += " ⟲"
            marker = "cycle"
        if i in self.hits:
            marks += " ◆"
        if timing:
            right = f"{dur}{tokens}{marks}"
        else:  # the bar carries the duration; a wide column keeps the tokens
            right = (tokens + marks if width >= 40 else marks).lstrip()
        # Beside the waterfall the column is narrow: one space a level.
        indent = "  " * min(depth, 40) if timing else " " * min(depth, width // 2)
        name = inert(span.name, single_line=True)
        room = max(width - len(indent) - len(twisty) - len(right) - 1, 8)
        left = f"{indent}{twisty}{truncate(name, room)}"
        pad = max(width - len(left) - len(right), 1)
        return f"{left}{' ' * pad}{right}", marker

    def waterfall(self, row: int, axis: Axis) -> list[tuple[str, str]]:
        """The row's bar on ``axis`` with its duration and marks beside it
        (``waterfall_model.row_runs``); a skew-adjusted span shows its shift."""
        i = self.rows[row]
        span = self.trace.spans[i]
        shift = self.adjusted.get(span.span_id)
        label = ("◆" if i in self.hits else "") + time_text(span.duration_ns)
        if span.status == "error":
            label += " ✗"
        if span.span_id in self.finding_spans:
            label += " !"
        if span.span_id in self.cycle_spans:
            label += " ⟲"
        if shift:
            label += " ⇆" + shift_text(shift)
        return row_runs(axis, span.start_ns, span.end_ns, label, shift)


def _duration(ns: int) -> str:
    if ns < 0:
        return "-" + _duration(-ns)
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    return f"{ns / 1_000_000_000:.2f}s"
