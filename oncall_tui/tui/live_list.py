"""The live screen's list: a header of column titles over rows of cells,
painting only the rows in view (Textual's Line API, like ``call_tree``).

A DataTable rebuilt on every repaint re-measured and re-laid-out every row
(about a tenth of the listener's CPU under a flood). Here a repaint swaps in
the new list of rows and repaints the visible lines: the widget's size never
changes, so there is no layout reflow, and each row's strip is kept until its
cells change (the caller hands the same cells object for an unchanged row).
It looks like the DataTable it replaced: same header, cell padding, cursor
colours and focus tint.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: A row: its key (the trace id), its cells in column order. The cells
#: object's identity says whether the row changed (kept strips are reused).
Row = tuple[str, tuple[Text, ...]]


def line_text(cells: Sequence[Text], widths: Sequence[int]) -> Text:
    """Cells side by side, each cut to its width and padded one cell either
    side (as the DataTable did); right-justified cells pad on the left."""
    out = Text(no_wrap=True, end="")
    for given, width in zip(cells, widths, strict=True):
        cell = given
        if cell.cell_len > width:
            cell = given.copy()
            cell.truncate(width, overflow="ellipsis")
        pad = " " * (width - cell.cell_len)
        out.append(" ")
        if cell.justify == "right":
            out.append(pad)
            out.append_text(cell)
        else:
            out.append_text(cell)
            out.append(pad)
        out.append(" ")
    return out


class LiveList(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"live-list--header", "live-list--cursor"}

    # The DataTable's own colours, so the screen looks as it did.
    DEFAULT_CSS = """
    LiveList {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .live-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .live-list--header { background-tint: $foreground 5%; }
        }
        & > .live-list--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .live-list--header { background: ansi_bright_blue; color: ansi_default; }
        & > .live-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="live.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="live.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="live.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="live.pagedown"),
        Binding("home", "jump(0)", "Top", show=False, id="live.top"),
        Binding("end", "jump(-1)", "Bottom", show=False, id="live.bottom"),
        Binding("enter", "select", "Open", show=False, id="live.open"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Selected(Message):
        """Enter on a row: ``key`` is its trace id."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self.titles: tuple[str, ...] = ()
        self.widths: tuple[int, ...] = ()
        # key -> (cells, base style, strip): a row is drawn again only when
        # its cells or the widget's colours (focus) changed.
        self._strips: dict[str, tuple[tuple[Text, ...], Style, Strip]] = {}

    # ------------------------------------------------------------ contents

    def show(self, rows: list[Row], titles: tuple[str, ...], widths: tuple[int, ...]) -> None:
        """Swap in ``rows``; the cursor stays on the same key (on the same
        index when that key is gone)."""
        key = self.selected_key()
        if titles != self.titles or widths != self.widths:
            self._strips.clear()
        self.titles, self.widths = titles, widths
        self.rows = rows
        keys = {k for k, _ in rows}
        self._strips = {k: v for k, v in self._strips.items() if k in keys}
        index = next((i for i, (k, _) in enumerate(rows) if k == key), None)
        self.virtual_size = Size(sum(widths) + 2 * len(widths), len(rows) + 1)
        target = index if index is not None else self.cursor
        self.set_reactive(LiveList.cursor, max(0, min(len(rows) - 1, target)))
        self._keep_visible()
        self.refresh()

    def selected_key(self) -> str | None:
        return self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None

    def row_texts(self) -> list[str]:
        """Each row as the text it shows (tests read the list with it)."""
        return [line_text(cells, self.widths).plain for _, cells in self.rows]

    # ------------------------------------------------------------ painting

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:  # the header stays put while the rows scroll
            header = self.get_component_rich_style("live-list--header")
            titles = line_text([Text(t) for t in self.titles], self.widths)
            segments = Segment.apply_style(titles.render(self.app.console), base + header)
            return Strip(segments).crop_extend(0, width, base)
        row = y - 1 + self.scroll_offset.y
        if row >= len(self.rows) or width <= 0:
            # A styled blank: a style of None crashes Textual's NO_COLOR filter.
            return Strip.blank(width, base)
        key, cells = self.rows[row]
        if row == self.cursor:
            # As the DataTable: the cursor's colour over the cells' own.
            cursor = self.get_component_rich_style("live-list--cursor")
            segments = Segment.apply_style(
                line_text(cells, self.widths).render(self.app.console),
                base + cursor,
                Style.from_color(cursor.color),
            )
            return Strip(segments).crop_extend(0, width, base)
        hit = self._strips.get(key)
        if hit is not None and hit[0] is cells and hit[1] == base:
            strip = hit[2]
        else:
            text = line_text(cells, self.widths)
            strip = Strip(Segment.apply_style(text.render(self.app.console), base))
            self._strips[key] = (cells, base, strip)
        return strip.crop_extend(0, width, base)

    # -------------------------------------------------------------- cursor

    def watch_cursor(self) -> None:
        self._keep_visible()
        self.refresh()

    def _keep_visible(self) -> None:
        shown = max(self.scrollable_content_region.height - 1, 1)  # under the header
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + shown:
            self.scroll_to(y=self.cursor - shown + 1, animate=False, immediate=True)

    def move_cursor(self, *, row: int) -> None:
        self.cursor = max(0, min(len(self.rows) - 1, row))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.scrollable_content_region.height - 2, 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(row=0 if where == 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.Selected(key))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int) and y > 0 and self.rows:
            self.move_cursor(row=y - 1 + self.scroll_offset.y)
