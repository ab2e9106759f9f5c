"""The call tree widget: renders only the visible rows (toolong's approach).

One ``ScrollView`` whose virtual height is the number of visible rows;
``render_line`` asks the pure ``TreeModel`` for the row text on demand and
keeps an LRU of rendered strips. A 100,000-span trace is one widget.
"""

from __future__ import annotations

from functools import lru_cache

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

_STYLES = {
    "cycle": Style(color="red", bold=True),
    "error": Style(color="red"),
    "finding": Style(color="yellow"),
    "adjusted": Style(color="cyan"),
    "": Style(),
}
_CURSOR = Style(reverse=True)


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

    def __init__(self, model: TreeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._generation = 0
        self._row_cache = lru_cache(maxsize=2048)(self._render_row)
        self._cycle_index = -1

    def on_mount(self) -> None:
        self._resize_virtual()
        self.post_message(self.Highlighted(self.model.span(0)))

    def on_resize(self) -> None:
        self._resize_virtual()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.model.rows))
        self._generation += 1
        self.refresh()

    def set_model(self, model: TreeModel) -> None:
        self.model = model
        self.cursor = min(self.cursor, max(len(model.rows) - 1, 0))
        self._resize_virtual()

    # ------------------------------------------------------------ rendering

    def _render_row(self, row: int, width: int, selected: bool, generation: int) -> Strip:
        text, marker = self.model.label(row, width)
        style = _STYLES[marker]
        if selected:
            style = style + _CURSOR
        return Strip([Segment(text.ljust(width), style)], width)

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
