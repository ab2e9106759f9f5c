"""The call tree as rows: which spans are visible, in what order, how deep.

Pure (no textual): the trace screen renders only the rows on screen from
this model, so a 100,000-span trace is one list of ints, never widgets.
Collapsing recomputes the visible list in one linear pass.
"""

from __future__ import annotations

from oncall_tui.core.analysis import Analysis
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.text import inert, truncate
from oncall_tui.core.tree import SpanTree, tree_for


class TreeModel:
    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        self.trace = trace
        self.analysis = analysis
        self.tree: SpanTree = tree_for(trace)
        self.collapsed: set[int] = set()
        self.cycle_spans: set[str] = {sid for c in analysis.cycles for sid in c.witness}
        self.finding_spans: set[str] = {sid for f in analysis.findings for sid in f.span_ids}
        self.adjusted = analysis.adjusted
        self.rows: list[int] = []
        self.refresh_rows()

    def refresh_rows(self) -> None:
        tree = self.tree
        out: list[int] = []
        stack = list(reversed(tree.roots))
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

    def label(self, row: int, width: int) -> tuple[str, str]:
        """(plain text of the row, marker) where marker is one of
        "cycle", "finding", "error", "adjusted" or ""."""
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
        right = f"{dur}{tokens}{marks}"
        indent = "  " * min(depth, 40)
        name = inert(span.name, single_line=True)
        room = max(width - len(indent) - len(twisty) - len(right) - 1, 8)
        left = f"{indent}{twisty}{truncate(name, room)}"
        pad = max(width - len(left) - len(right), 1)
        return f"{left}{' ' * pad}{right}", marker


def _duration(ns: int) -> str:
    if ns < 0:
        return "-" + _duration(-ns)
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    return f"{ns / 1_000_000_000:.2f}s"
