"""The waterfall's bar math: span times -> cells on one shared time axis.

Pure (no textual, no rich): the call tree asks for one row's cells only when
that row is painted, so a million spans cost nothing until they scroll into
view. The widget maps each run's role to a style; the glyphs alone must say
what the colour says (16 colours, NO_COLOR, a colour-blind reader).
"""

from __future__ import annotations

from typing import NamedTuple

FULL = "█"
TICK = "┃"  # a zero-duration span: a point in time, not a bar
GHOST = "░"  # where a skew-adjusted span was before the shift
BEFORE = "◂"  # the span starts (or lies wholly) before the axis (zoomed in)
AFTER = "▸"  # ... ends (or lies wholly) after it


class Bar(NamedTuple):
    """Cells ``first`` .. ``end - 1`` of the axis; at least one cell."""

    first: int
    end: int
    zero: bool  # zero (or negative) duration: drawn as a tick
    clip_left: bool
    clip_right: bool


class Axis:
    """Times ``t0`` .. ``t1`` (ns) laid over ``cells`` terminal cells."""

    __slots__ = ("cells", "t0", "t1", "total")

    def __init__(self, t0: int, t1: int, cells: int) -> None:
        self.t0 = t0
        self.t1 = max(t1, t0)
        self.total = max(self.t1 - t0, 1)
        self.cells = max(cells, 1)

    def bar(self, start: int, end: int) -> Bar:
        """The cells a span covers: floor of its start to ceiling of its end,
        so a span shorter than a cell still shows as one cell; a span outside
        the axis shows as an arrow at the edge it went past."""
        cells, t0, total = self.cells, self.t0, self.total
        zero = end <= start
        if zero:
            end = start
        if end < t0:
            return Bar(0, 1, zero, True, False)
        if start > self.t1:
            return Bar(cells - 1, cells, zero, False, True)
        clip_left = start < t0
        clip_right = end > self.t1
        first = max((start - t0) * cells // total, 0)
        last = min(-(-(end - t0) * cells // total), cells)
        first = min(first, cells - 1)
        if last <= first:
            last = first + 1
        if zero:
            last = first + 1
        return Bar(first, last, zero, clip_left, clip_right)


def time_text(ns: int) -> str:
    """A duration in the unit that keeps it short: 850µs, 12.5ms, 1.25s."""
    if ns < 0:
        return "-" + time_text(-ns)
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.3g}ms"
    return f"{ns / 1_000_000_000:.3g}s"


def shift_text(ns: int) -> str:
    return ("+" if ns >= 0 else "-") + time_text(abs(ns))


def axis_line(axis: Axis) -> str:
    """One header line of ``axis.cells`` characters: tick labels from 0 to the
    axis length at the quarters (fewer when the pane is narrow)."""
    cells = axis.cells
    line = [" "] * cells
    ticks = 4 if cells >= 40 else 2 if cells >= 16 else 1
    taken = -1  # last cell a label used: labels never overlap
    for k in range(ticks + 1):
        pos = k * cells // ticks
        label = "0" if k == 0 else time_text(axis.total * k // ticks)
        label = ("╷" + label) if k < ticks else (label + "╷")
        begin = pos if k < ticks else pos - len(label)
        begin = max(0, min(begin, cells - len(label)))
        if begin <= taken:
            continue
        line[begin : begin + len(label)] = label[: cells - begin]
        taken = begin + len(label)
    return "".join(line)[:cells]


def row_runs(
    axis: Axis, start: int, end: int, label: str, shift_ns: int | None = None
) -> list[tuple[str, str]]:
    """One waterfall row as (text, role) runs covering exactly ``axis.cells``.

    Roles: "" (empty time), "bar", "ghost" (the pre-adjustment position of a
    skew-adjusted span), "label" (duration and marks beside the bar) and
    "inlabel" (written over the bar when neither side has room).
    """
    cells = axis.cells
    chars = [" "] * cells
    roles = [""] * cells
    if shift_ns:
        ghost = axis.bar(start - shift_ns, end - shift_ns)
        for c in range(ghost.first, ghost.end):
            chars[c] = GHOST
            roles[c] = "ghost"
    bar = axis.bar(start, end)
    for c in range(bar.first, bar.end):
        chars[c] = TICK if bar.zero else FULL
        roles[c] = "bar"
    if bar.clip_left:
        chars[bar.first] = BEFORE
    if bar.clip_right:
        chars[bar.end - 1] = AFTER
    n = len(label)
    if n:
        if bar.end + 1 + n <= cells:
            at, role = bar.end + 1, "label"
        elif bar.first - 1 - n >= 0:
            at, role = bar.first - 1 - n, "label"
        else:
            at, role = bar.first, "inlabel"
            label = label[: cells - at]
        for k, ch in enumerate(label):
            chars[at + k] = ch
            roles[at + k] = role if roles[at + k] == "bar" or role == "label" else "label"
    runs: list[tuple[str, str]] = []
    begin = 0
    for c in range(1, cells + 1):
        if c == cells or roles[c] != roles[begin]:
            runs.append(("".join(chars[begin:c]), roles[begin]))
            begin = c
    return runs
