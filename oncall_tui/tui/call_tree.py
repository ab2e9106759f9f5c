"""The call tree widget: renders only the visible rows (toolong's approach).

One ``ScrollView`` whose virtual height is the number of visible rows;
``render_line`` asks the pure ``TreeModel`` for the row text on demand and
keeps an LRU of rendered strips. A 100,000-span trace is one widget.

With the waterfall on, each row is the tree label on the left and the span's
bar on one shared time axis on the right (``waterfall_model``), in the same
strip: the two can never scroll apart, and a row costs the same whatever the
trace size. The waterfall is on by default from ``WIDE`` columns; ``w``
toggles it (at 80 columns it gives the bars most of the width).
"""

from __future__ import annotations

from functools import lru_cache

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from oncall_tui.core.models import Span
from oncall_tui.tui.tree_model import TreeModel
from oncall_tui.tui.waterfall_model import Axis

_STYLES = {
    "cycle": Style(color="red", bold=True),
    "error": Style(color="red"),
    "finding": Style(color="yellow"),
    "adjusted": Style(color="cyan"),
    "": Style(),
}
_BAR = {**_STYLES, "": Style(color="blue")}
_GHOST = Style(dim=True)
_CURSOR = Style(reverse=True)
_CURSOR_BARS = Style(bgcolor="bright_black")
_HIT = Style(underline=True)
WIDE = 120  # from this width the waterfall shows beside the tree by default


def tree_width(width: int) -> int:
    """Columns of the tree label when the waterfall shares the row: most of
    the width goes to the bars, never less than 24 for the names."""
    return max(24, min(width * 7 // 20, 60))


class CallTree(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    CallTree { height: 1fr; }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="tree.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="tree.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="tree.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="tree.pagedown"),
        Binding("home", "jump(0)", "Top", show=False, id="tree.top"),
        Binding("end", "jump(-1)", "Bottom", show=False, id="tree.bottom"),
        Binding("space,right,left", "fold", "Fold", id="tree.toggle", show=False),
        Binding("c", "next_cycle", "Next ⟲", id="tree.next_cycle"),
        Binding("w", "toggle_waterfall", "Waterfall", id="tree.waterfall"),
    ]

    cursor: reactive[int] = reactive(0)

    class Highlighted(Message):
        """The span under the cursor changed (replaces its predecessor)."""

        def __init__(self, span: Span | None) -> None:
            super().__init__()
            self.span = span

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CallTree.Highlighted)

    class Selected(Message):
        def __init__(self, span: Span) -> None:
            super().__init__()
            self.span = span

    class LayoutChanged(Message):
        """Waterfall shown or hidden, axis rescaled (zoom, resize, new model):
        the header line above the rows must follow. ``axis`` None: no waterfall."""

        def __init__(self, axis: Axis | None, tree_width: int) -> None:
            super().__init__()
            self.axis = axis
            self.tree_width = tree_width

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CallTree.LayoutChanged)

    def __init__(self, model: TreeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._generation = 0
        self._row_cache = lru_cache(maxsize=2048)(self._render_row)
        self._cycle_index = -1
        # None: decided by the width (WIDE); True/False once the user chose.
        self.waterfall: bool | None = None
        self.axis: Axis | None = None
        self._tree_width = 0

    def on_mount(self) -> None:
        self._resize_virtual()
        self.post_message(self.Highlighted(self.model.span(0)))

    def on_resize(self) -> None:
        self._resize_virtual()

    def waterfall_shown(self) -> bool:
        width = self.scrollable_content_region.width
        return self.waterfall if self.waterfall is not None else width >= WIDE

    def _resize_virtual(self) -> None:
        width = self.scrollable_content_region.width
        self.virtual_size = Size(width, len(self.model.rows))
        if self.waterfall_shown() and width > 0:
            self._tree_width = min(tree_width(width), max(width - 10, 0))
            t0, t1 = self.model.bounds()
            self.axis = Axis(t0, t1, width - self._tree_width)
        else:
            self._tree_width = width
            self.axis = None
        self._generation += 1
        self.refresh()
        self.post_message(self.LayoutChanged(self.axis, self._tree_width))

    def refresh_marks(self) -> None:
        """Search hits changed: repaint rows (the cached strips are stale)."""
        self._generation += 1
        self.refresh()

    def set_model(self, model: TreeModel) -> None:
        self.model = model
        self.cursor = min(self.cursor, max(len(model.rows) - 1, 0))
        self._resize_virtual()

    # ------------------------------------------------------------ rendering

    def _render_row(self, row: int, width: int, selected: bool, generation: int) -> Strip:
        axis = self.axis
        left = self._tree_width if axis is not None else width
        room = left - 1 if axis is not None else left  # a space before the bars
        text, marker = self.model.label(row, room, timing=axis is None)
        style = _STYLES[marker]
        if self.model.rows[row] in self.model.hits:
            style = style + _HIT
        if selected:
            style = style + _CURSOR
        # Cut and pad by terminal cells, not characters: a wide character in
        # a span name must not push the bars out of line.
        segments = [Segment(set_cell_size(set_cell_size(text, room), left), style)]
        if axis is not None:
            bar, base = _BAR[marker], _CURSOR_BARS if selected else None
            for run, role in self.model.waterfall(row, axis):
                if role == "bar":
                    s = bar
                elif role == "inlabel":
                    s = Style(color="bright_white", bgcolor=bar.color, bold=True)
                elif role == "ghost":
                    s = _GHOST
                elif role == "label":
                    s = _STYLES[marker]
                else:
                    s = Style()
                segments.append(Segment(run, base + s if base else s))
        return Strip(segments, width)

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        row = y + scroll_y
        width = self.scrollable_content_region.width
        if row >= len(self.model.rows) or width <= 0:
            # A styled blank: a style of None crashes Textual's NO_COLOR filter.
            return Strip.blank(width, self.rich_style)
        return self._row_cache(row, width, row == self.cursor, self._generation)

    # -------------------------------------------------------------- cursor

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh(Region(0, old - self.scroll_offset.y, self.size.width, 1))
        self.refresh(Region(0, new - self.scroll_offset.y, self.size.width, 1))
        self.scroll_to_region(Region(0, new, 1, 1), animate=False)
        self.post_message(self.Highlighted(self.model.span(new)))

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.model.rows) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 1, 1))

    def action_jump(self, where: int) -> None:
        self.cursor = 0 if where == 0 else max(len(self.model.rows) - 1, 0)

    def action_fold(self) -> None:
        self.model.toggle(self.cursor)
        self._resize_virtual()

    def action_toggle_waterfall(self) -> None:
        self.waterfall = not self.waterfall_shown()
        self._resize_virtual()

    def zoom_in(self) -> bool:
        if not self.model.zoom_in(self.cursor):
            return False
        self.cursor = 0
        self._resize_virtual()
        self.scroll_to(y=0, animate=False)
        self.post_message(self.Highlighted(self.model.span(0)))
        return True

    def zoom_out(self) -> bool:
        was = self.model.zoom_out()
        if was is None:
            return False
        self._resize_virtual()
        row = self.model.row_of_index(was)
        self.cursor = row if row is not None else 0
        return True

    def reveal_index(self, i: int) -> None:
        """Put the cursor on span index ``i``, expanding (or un-zooming) to it."""
        row = self.model.row_of_index(i)
        if row is not None:
            self._resize_virtual()
            self.cursor = row

    def action_next_cycle(self) -> None:
        cycles = self.model.analysis.cycles
        if not cycles:
            self.notify("no reentrancy cycle in this trace")
            return
        self._cycle_index = (self._cycle_index + 1) % len(cycles)
        target = cycles[self._cycle_index].witness[-1]
        self.reveal(target)

    def reveal(self, span_id: str) -> None:
        row = self.model.row_of(span_id)
        if row is not None:
            self._resize_virtual()
            self.cursor = row

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self.cursor = max(0, min(len(self.model.rows) - 1, y + self.scroll_offset.y))

    def key_enter(self) -> None:
        span = self.model.span(self.cursor)
        if span is not None:
            self.post_message(self.Selected(span))
