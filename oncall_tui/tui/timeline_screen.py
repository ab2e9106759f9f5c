"""One route's finding rates and changes on one time axis.

Opened with `o` on the overview's selected route. Rows: one per finding
kind, a bar per bucket (its share of the analysed traces, scaled to the
kind's own peak, printed at the right); under a kind whose rate rose, an
arrow at the onset bucket. Then a row of ▲ at the buckets where something
changed (a │ runs up through the kind rows there), the bucket start times
along the bottom, and a legend naming each change. When there are more
buckets than columns, adjacent buckets are pooled (traces with the kind over
traces analysed, summed), so an hour or a day fits 80 columns.

The window is the overview's (it recomputes it every minute and hands each
new one here). Tool and model names in change events come from traces: made
inert before they are drawn.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Static

from oncall_tui.core.onset import (
    Onset,
    Series,
    bucket_starts,
    clock,
    describe_change,
    duration,
    percent,
    series,
    sparkline,
)
from oncall_tui.core.onset_model import ChangeEvent
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.onset_fetch import OnsetResult
from oncall_tui.tui.presenters import pooled_rates, safe

LABEL_MAX = 22  # kind names beyond this are cut
RIGHT = 6  # " 100%" after the bars
MAX_CELL = 6  # characters per bucket when few buckets leave room
CHANGE_STYLE = "bold yellow"
ONSET_STYLE = "bold red"


class Axis:
    """Buckets to columns: ``per`` buckets pooled per column, ``cell``
    characters per column (a separator that carries the change marker, then
    the bar, when there is room for both)."""

    def __init__(self, starts: list[int], bucket_ns: int, room: int) -> None:
        self.starts = starts
        self.bucket_ns = max(1, bucket_ns)
        size = max(1, len(starts))
        room = max(1, room)
        self.per = -(-size // room)
        self.columns = -(-size // self.per)
        self.cell = max(1, min(MAX_CELL, room // self.columns))

    @property
    def width(self) -> int:
        return self.columns * self.cell

    def column_of(self, ns: int) -> int | None:
        if not self.starts:
            return None
        c = (ns - self.starts[0]) // (self.bucket_ns * self.per)
        return c if 0 <= c < self.columns else None

    def offset(self, column: int) -> int:
        """Where the column's bar starts, from the axis's left edge."""
        return column * self.cell + (1 if self.cell > 1 else 0)

    def cells(self, glyphs: str, marks: set[int]) -> Text:
        out = Text()
        for c, glyph in enumerate(glyphs):
            if self.cell > 1:
                out.append("│" if c in marks else " ", style=CHANGE_STYLE)
                out.append(glyph * (self.cell - 1))
            else:
                out.append(glyph, style=CHANGE_STYLE if c in marks else "")
        return out


def _route_changes(changes: list[ChangeEvent], route: str) -> list[ChangeEvent]:
    return [c for c in changes if c.route is None or c.route == route]


def timeline_text(result: OnsetResult | None, route: str, width: int) -> Text:
    """The timeline body for ``route`` at ``width`` columns (pure: tested
    without a running app)."""
    out = Text()
    if result is None:
        out.append("computing the last hour's onset window…\n", style="dim")
        return out
    window = result.window
    rows: list[Series] = [s for s in series(window) if s.route == route]
    starts = bucket_starts(window)
    label = max([len("changes"), *(min(LABEL_MAX, len(s.kind)) for s in rows)]) + 1
    axis = Axis(starts, window.query.bucket_ns, width - label - RIGHT)
    changes = _route_changes(window.changes, route)
    marks = {c for c in (axis.column_of(ch.at_ns) for ch in changes) if c is not None}
    onsets: dict[str, Onset] = {o.kind: o for o in result.onsets if o.route == route}
    if not rows:
        seen = sum(b.traces for b in window.buckets if b.route == route)
        out.append(f"no finding on {safe(route, 40)} in the window ({seen:,} traces seen)\n")
    for s in rows:
        rates = pooled_rates(s.with_kind, s.analysed, axis.per)
        peak = max((r for r in rates if r is not None), default=0.0)
        out.append(safe(s.kind, LABEL_MAX).ljust(label), style="bold")
        bars = axis.cells(sparkline(rates), marks)
        onset = onsets.get(s.kind)
        col = axis.column_of(onset.at_ns) if onset is not None else None
        if col is not None:
            at = axis.offset(col)
            bars.stylize(ONSET_STYLE, at, at + max(1, axis.cell - 1))
        out.append_text(bars)
        out.append(f" {percent(peak):>4}", style="dim")
        out.append("\n")
        if onset is not None and col is not None:
            out.append_text(_onset_note(onset, label + axis.offset(col), width))
    out.append("changes".ljust(label), style="bold")
    out.append_text(axis.cells(" " * axis.columns, set()) if not marks else _marks(axis, marks))
    out.append("\n")
    out.append_text(_times(axis, label))
    out.append("\n")
    out.append("bars: share of analysed traces with the kind, scaled to its peak\n", "dim")
    if axis.per > 1:
        bucket = duration(window.query.bucket_ns)
        out.append(f"each column pools {axis.per} buckets of {bucket}\n", style="dim")
    out.append("\n")
    if not changes:
        out.append("no change recorded on this route in the window\n", style="dim")
    for ch in changes:
        where = "" if ch.route is not None else "fleet-wide "
        inside = axis.column_of(ch.at_ns) is not None
        out.append("▲ " if inside else "  ", style=CHANGE_STYLE)
        text = f"{clock(ch.at_ns)}  {where}{ch.kind}  {describe_change(ch)}"
        if not inside:
            text += " (before the window)"
        out.append(safe(text, 300) + "\n")  # wraps: the cause is the point
    for o in sorted(onsets.values(), key=lambda o: o.at_ns):
        out.append("onset ", style=ONSET_STYLE)
        out.append(safe(o.line, 300) + "\n")
    return out


def _onset_note(onset: Onset, at: int, width: int) -> Text:
    """ "↑ onset 14:05: 0% -> 30%" with the arrow at column ``at``; ending at
    the arrow instead when the onset is too near the right edge for it."""
    rates = f"{percent(onset.before_rate)} -> {percent(onset.after_rate)}"
    note = f"↑ onset {clock(onset.at_ns)}: {rates}"
    if at + len(note) > width:
        note = f"onset {clock(onset.at_ns)}: {rates} ↑"
        at = max(0, at - len(note) + 1)
    return Text(" " * at + note[: max(1, width - at)] + "\n", style=ONSET_STYLE)


def _marks(axis: Axis, marks: set[int]) -> Text:
    out = Text()
    for c in range(axis.columns):
        glyph = "▲" if c in marks else " "
        if axis.cell > 1:
            out.append(glyph, style=CHANGE_STYLE)
            out.append(" " * (axis.cell - 1))
        else:
            out.append(glyph, style=CHANGE_STYLE)
    return out


def _times(axis: Axis, label: int) -> Text:
    """HH:MM at the start of every column that has room for one."""
    line = [" "] * (axis.width + RIGHT)
    every = -(-6 // axis.cell)  # columns per label: five characters and a space
    for c in range(0, axis.columns, every):
        text = clock(axis.starts[c * axis.per])
        at = axis.offset(c)
        if at + len(text) > len(line):
            break
        line[at : at + len(text)] = text
    return Text("UTC".ljust(label) + "".join(line).rstrip(), style="dim")


class TimelineScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="timeline.back")]

    def __init__(self, route: str, result: OnsetResult | None, error: str | None = None) -> None:
        super().__init__()
        self.route = route
        self.result = result
        self.error = error

    def compose(self) -> ComposeResult:
        yield Static("", id="timeline-title", markup=False)
        yield Static("", id="timeline-method", markup=False)
        with VerticalScroll(id="timeline-body"):
            yield Static("", id="timeline-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._paint()

    def on_resize(self, event: Resize) -> None:
        self._paint()

    def show(self, result: OnsetResult | None, error: str | None) -> None:
        """A new window from the overview (or why the refresh failed)."""
        if result is not None:
            self.result = result
        self.error = error
        if self.is_mounted:
            self._paint()

    def body_text(self) -> Text:
        body = self.query_one("#timeline-body", VerticalScroll)
        width = (body.scrollable_content_region.width or self.size.width or 80) - 1
        return timeline_text(self.result, self.route, max(40, width))

    def _paint(self) -> None:
        route = safe(self.route, 30)
        title = f"{route} · finding rates and changes"
        if self.result is not None:
            q = self.result.window.query
            title += (
                f" · {clock(q.since_ns)}-{clock(q.until_ns)} UTC, {duration(q.bucket_ns)} buckets"
            )
        self.query_one("#timeline-title", Static).update(title)
        method = Text()
        if self.result is not None:
            w = self.result.window
            method.append(safe(w.method_note or w.method, 200), style="dim")
        if self.error:
            method.append(f"  refresh failed: {safe(self.error, 120)}", style="yellow")
        self.query_one("#timeline-method", Static).update(method)
        self.query_one("#timeline-text", Static).update(self.body_text())
