"""``g`` on the trace screen: the call graph drawn, its loops stepped lap by lap.

The picture is ``core.layout`` (the same one ``trace graph`` prints), shown
by one ``ScrollView`` that paints only the rows on screen (``render_line``),
so a graph larger than the terminal scrolls both ways. A node is selected
with the arrow keys or tab; enter lists its spans, and choosing one closes
the graph with that span id, which the trace screen reveals in its tree.
``c``/``C`` step through the laps of each reentrancy cycle, highlighting the
lap's boxes and edges and scrolling to them.
"""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.screen import ModalScreen, Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from oncall_tui.core.analysis import Analysis
from oncall_tui.core.graph import node_key
from oncall_tui.core.laps import Lap, cycle_laps
from oncall_tui.core.layout import LEGEND, Box, Drawing, Layout, layout, path_cells, render
from oncall_tui.core.models import Trace
from oncall_tui.core.text import inert, truncate
from oncall_tui.tui.footer import Footer

_STYLES = {
    "": Style(),
    "agent": Style(color="magenta"),
    "model": Style(color="cyan"),
    "tool": Style(color="green"),
    "span": Style(),
    "edge": Style(),
    "inferred": Style(color="yellow"),
    "chose": Style(dim=True),
    "cycle": Style(color="red", bold=True),
    "label": Style(dim=True),
    "error": Style(color="red", bold=True),
}
_LAP = Style(bgcolor="yellow", color="black", bold=True)
_SELECTED = Style(reverse=True)

#: Spans listed for one node; the rest are counted.
MAX_LISTED = 200
#: Graphs with more nodes are laid out in a thread (a few hundred take a
#: second or more); smaller ones are drawn before the screen shows.
DRAW_IN_THREAD = 150


def _draw(analysis: Analysis) -> tuple[Layout, Drawing]:
    lay = layout(analysis.graph, [c.nodes for c in analysis.cycles])
    return lay, render(lay)


def _short(key: str) -> str:
    """A node's name without its kind (the boxes say it): a lap's path must
    fit one line at 80 columns."""
    name = key.split(":", 1)[-1]
    return name.rsplit("/", 1)[-1] if key.startswith("model:") else name


def _ms(ns: int) -> str:
    return f"{ns / 1_000_000:,.1f}ms"


class GraphView(ScrollView, can_focus=True, inherit_bindings=False):
    """The drawing, painted row by row from a cell grid. The arrow keys are
    the screen's (they select nodes); these scroll."""

    DEFAULT_CSS = """
    GraphView { height: 1fr; }
    """

    BINDINGS = [
        Binding("pageup", "scroll_page_up", "Page up", show=False, id="graph.pageup"),
        Binding("pagedown", "scroll_page_down", "Page down", show=False, id="graph.pagedown"),
        Binding("shift+left", "scroll_page_left", "Page left", show=False, id="graph.pageleft"),
        Binding("shift+right", "scroll_page_right", "Page right", show=False, id="graph.pageright"),
        Binding("home", "scroll_home", "Top", show=False, id="graph.top"),
        Binding("end", "scroll_end", "Bottom", show=False, id="graph.bottom"),
    ]

    def __init__(self, lay: Layout, drawing: Drawing, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lay = lay
        self.drawing = drawing
        self.selected: Box | None = None
        self.lap_cells: frozenset[tuple[int, int]] = frozenset()
        self._generation = 0
        self._row_cache = lru_cache(maxsize=1024)(self._render_row)

    def on_mount(self) -> None:
        self.virtual_size = Size(self.lay.width, self.lay.height)

    def set_drawing(self, lay: Layout, drawing: Drawing) -> None:
        self.lay = lay
        self.drawing = drawing
        self.virtual_size = Size(lay.width, lay.height)
        self.repaint()

    def repaint(self) -> None:
        self._generation += 1
        self.refresh()

    def _render_row(self, row: int, x0: int, width: int, generation: int) -> Strip:
        cells = self.drawing.cells[row]
        codes = self.drawing.styles[row]
        sel = self.selected
        in_sel = sel is not None and sel.y <= row < sel.y + sel.h
        segments: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        end = min(x0 + width, len(cells))
        # On the widget's own background, like the padding after the drawing.
        base = self.rich_style
        styled = {code: base + style for code, style in _STYLES.items()}
        for x in range(x0, end):
            ch = cells[x]
            if ch == "" and x == x0:
                ch = " "  # the right half of a wide character cut by the edge
            elif ch and x + 1 == end and x + 1 < len(cells) and cells[x + 1] == "":
                ch = " "  # a wide character that would overhang the edge
            style = styled.get(codes[x], base)
            if (x, row) in self.lap_cells:
                style = style + _LAP
            if in_sel and sel is not None and sel.x <= x < sel.x + sel.w:
                style = style + _SELECTED
            if style is not run_style and run:
                segments.append(Segment("".join(run), run_style))
                run = []
            run_style = style
            run.append(ch)
        if run:
            segments.append(Segment("".join(run), run_style))
        used = max(end - x0, 0)
        if used < width:
            segments.append(Segment(" " * (width - used), self.rich_style))
        return Strip(segments, width)

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if row >= len(self.drawing.cells) or width <= 0:
            return Strip.blank(width, self.rich_style)
        return self._row_cache(row, self.scroll_offset.x, width, self._generation)

    def show(self, region: Region) -> None:
        self.scroll_to_region(region, animate=False, force=True)


class NodeSpans(ModalScreen[str | None]):
    """The spans of one node; enter closes with the chosen span's id."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="node_spans.close")]

    def __init__(self, title: str, options: list[Option]) -> None:
        super().__init__()
        self._title = title
        self._options = options

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="node-spans-title", markup=False)
        yield OptionList(*self._options, id="node-spans")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)


class GraphScreen(Screen[str | None]):
    """Dismissed with a span id to reveal in the tree, or None."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="graph.back"),
        Binding("c", "lap(1)", "Next lap", id="graph.next_lap"),
        Binding("C", "lap(-1)", "Previous lap", id="graph.prev_lap", show=False),
        Binding("enter", "spans", "Spans", id="graph.spans"),
        Binding("tab", "step(1)", "Next node", id="graph.next_node", show=False),
        Binding("shift+tab", "step(-1)", "Previous node", id="graph.prev_node", show=False),
        Binding("left,h", "move(-1,0)", "Node left", id="graph.left", show=False),
        Binding("right,l", "move(1,0)", "Node right", id="graph.right", show=False),
        Binding("up,k", "move(0,-1)", "Node up", id="graph.up", show=False),
        Binding("down,j", "move(0,1)", "Node down", id="graph.down", show=False),
    ]

    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        super().__init__()
        self.trace = trace
        self.analysis = analysis
        self._laps: list[tuple[int, int, Lap]] | None = None
        self.lap_index = -1
        self.order: list[Box] = []
        self.selected: Box | None = None
        self.lay = Layout(boxes=[], edges=[], dummies=[], width=0, height=0, layers=0)
        self.drawing = Drawing(cells=[], styles=[])
        self.pending = len(analysis.graph.nodes) > DRAW_IN_THREAD
        if not self.pending:
            self._take(*_draw(analysis))

    def _take(self, lay: Layout, drawing: Drawing) -> None:
        self.lay = lay
        self.drawing = drawing
        # Reading order: top to bottom, left to right.
        self.order = sorted(lay.boxes, key=lambda b: (b.y, b.x, b.key))
        self.selected = self.order[0] if self.order else None

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-title", markup=False)
        yield Static(LEGEND, id="graph-legend", markup=False)
        yield GraphView(self.lay, self.drawing, id="graph")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(GraphView)
        view.selected = self.selected
        view.focus()
        self._update_title()
        if self.pending:
            self._draw_in_thread()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _draw_in_thread(self) -> None:
        drawn = _draw(self.analysis)
        self.app.call_from_thread(self._drawn, *drawn)

    def _drawn(self, lay: Layout, drawing: Drawing) -> None:
        self.pending = False
        self._take(lay, drawing)
        view = self.query_one(GraphView)
        view.selected = self.selected
        view.set_drawing(lay, drawing)
        self._update_title()

    # ------------------------------------------------------------- header

    def _update_title(self) -> None:
        cycles = len(self.analysis.cycles)
        laps = self._laps or []
        if 0 <= self.lap_index < len(laps):
            # The lap's path is what matters now: it gets the whole line.
            ci, li, lap = laps[self.lap_index]
            count = sum(1 for c, _, _ in laps if c == ci)
            which = f" {ci + 1}/{cycles}" if cycles > 1 else ""
            text = f"⟲{which} lap {li + 1}/{count}: {' → '.join(_short(k) for k in lap.keys)}"
        elif self.pending:
            text = f"drawing the call graph: {len(self.analysis.graph.nodes)} nodes…"
        else:
            text = f"call graph  {len(self.lay.boxes)} nodes  {cycles} ⟲"
            if self.selected is not None:
                b = self.selected
                errors = f" {b.errors} errors" if b.errors else ""
                text += f"  ·  {b.key}  {b.calls} calls{errors}  (enter: its spans)"
        self.query_one("#graph-title", Static).update(inert(text, single_line=True))

    # ---------------------------------------------------------- selection

    def _select(self, box: Box | None) -> None:
        if box is None:
            return
        self.selected = box
        view = self.query_one(GraphView)
        view.selected = box
        view.repaint()
        view.show(Region(box.x, box.y, box.w, box.h))
        self._update_title()

    def action_step(self, delta: int) -> None:
        if not self.order:
            return
        self.lap_index = -1
        self.query_one(GraphView).lap_cells = frozenset()
        i = self.order.index(self.selected) if self.selected in self.order else -1
        self._select(self.order[(i + delta) % len(self.order)])

    def action_move(self, dx: int, dy: int) -> None:
        """The nearest box in that direction, favouring the straight line."""
        if self.selected is None:
            self.action_step(1)
            return
        s = self.selected
        cx, cy = s.x + s.w / 2, s.y + s.h / 2
        best: tuple[float, str] | None = None
        pick: Box | None = None
        for b in self.lay.boxes:
            bx, by = b.x + b.w / 2, b.y + b.h / 2
            along = (bx - cx) * dx + (by - cy) * dy
            if b is s or along <= 0:
                continue
            across = abs((bx - cx) * dy) + abs((by - cy) * dx)
            score = (along + 2 * across, b.key)
            if best is None or score < best:
                best, pick = score, b
        if pick is not None:
            self._select(pick)

    # --------------------------------------------------------------- laps

    def _all_laps(self) -> list[tuple[int, int, Lap]]:
        if self._laps is None:
            genai = self.analysis.graph.genai
            self._laps = [
                (ci, li, lap)
                for ci, cycle in enumerate(self.analysis.cycles)
                for li, lap in enumerate(cycle_laps(self.trace, cycle, genai=genai))
            ]
        return self._laps

    def action_lap(self, delta: int) -> None:
        laps = self._all_laps()
        if not laps:
            self.notify("no reentrancy cycle in this trace")
            return
        if self.lap_index < 0:
            self.lap_index = 0 if delta > 0 else len(laps) - 1
        else:
            self.lap_index = (self.lap_index + delta) % len(laps)
        _, _, lap = laps[self.lap_index]
        cells: set[tuple[int, int]] = set()
        boxes = [b for b in (self.lay.box(k) for k in dict.fromkeys(lap.keys)) if b]
        for b in boxes:
            cells.update((x, y) for x in range(b.x, b.x + b.w) for y in range(b.y, b.y + b.h))
        pairs = set(lap.edges)
        for e in self.lay.edges:
            if (e.source, e.target) in pairs:
                cells.update(path_cells(e.points))
        view = self.query_one(GraphView)
        view.lap_cells = frozenset(cells)
        if boxes:
            self.selected = view.selected = boxes[0]
        view.repaint()
        if cells:
            x0 = min(x for x, _ in cells)
            y0 = min(y for _, y in cells)
            x1 = max(x for x, _ in cells)
            y1 = max(y for _, y in cells)
            view.show(Region(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
        self._update_title()

    # -------------------------------------------------------------- spans

    def action_spans(self) -> None:
        box = self.selected
        if box is None:
            return
        genai = self.analysis.graph.genai
        spans = self.trace.spans
        # One pass over the spans: the node a span belongs to is its node key.
        picked = [s for s in spans if (node_key(s) if genai else f"span:{s.name}") == box.key]
        options = [
            Option(
                inert(
                    f"{truncate(s.name, 40):<40} {_ms(s.duration_ns):>9}  "
                    f"{'✗ ' if s.status == 'error' else ''}{s.span_id}",
                    single_line=True,
                ),
                id=s.span_id,
            )
            for s in picked[:MAX_LISTED]
        ]
        more = len(picked) - len(options)
        title = f"spans of {box.key}: {len(picked)}" + (
            f" (the first {MAX_LISTED} listed)" if more > 0 else ""
        )
        title += "  · enter shows one in the tree"
        self.app.push_screen(
            NodeSpans(inert(title, single_line=True), options), callback=self._chosen
        )

    def _chosen(self, span_id: str | None) -> None:
        if span_id:
            self.dismiss(span_id)

    def action_close(self) -> None:
        self.dismiss(None)
