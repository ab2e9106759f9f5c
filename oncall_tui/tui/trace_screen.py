"""The trace screen: call tree and waterfall, span detail, findings; graph,
full values, zoom and search on demand.

``z`` zooms to the span under the cursor (only its subtree listed, the
waterfall's axis its start..end); ``Z`` or escape goes back a level. ``/``
searches the trace in a thread worker (``trace_search``); ``n``/``N`` step
through the hits in tree order, wrapping, each hit marked ◆ in the tree and
the waterfall.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.text import inert, truncate
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.presenters import banner, findings_text, span_detail
from oncall_tui.tui.trace_search import MAX_HITS, SearchResult, search, step
from oncall_tui.tui.tree_model import TreeModel
from oncall_tui.tui.waterfall_model import axis_line, time_text


class TextModal(ModalScreen[None]):
    """A scrollable page of text (full span values, the graph)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="modal.close")]

    def __init__(self, title: str, body: object) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="modal-body"):
            yield Static(inert(self._title, single_line=True), classes="modal-title", markup=False)
            yield Static(self._body, markup=False)  # type: ignore[arg-type]
        yield Footer()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class SpanSearchLine(Input):
    """The in-trace search field; escape hands the keys back to the tree."""

    BINDINGS = [Binding("escape", "screen.cancel_search", "Cancel", id="trace.search_cancel")]

    def validate_value(self, value: str) -> str:
        # Pasted text can carry escape sequences: the field shows them as text.
        return inert(value, single_line=True)


class TraceScreen(Screen[None]):
    AUTO_FOCUS = "#tree"
    BINDINGS = [
        Binding("escape", "back", "Back", id="trace.back"),
        Binding("f", "toggle_findings", "Findings", id="trace.findings", show=False),
        Binding("g", "graph", "Graph", id="trace.graph"),
        Binding("s", "toggle_skew", "Raw/adjusted", id="trace.skew", show=False),
        Binding("slash", "search", "Search", id="trace.search"),
        # Listed by "?", not in the footer: at 80 columns "?" must stay visible.
        Binding("n", "next_hit(1)", "Next hit", id="trace.next_hit", show=False),
        Binding("N", "next_hit(-1)", "Previous hit", id="trace.prev_hit", show=False),
        Binding("z", "zoom", "Zoom to span", id="trace.zoom", show=False),
        Binding("Z", "unzoom", "Zoom out", id="trace.unzoom", show=False),
        Binding("e", "expand_all", "Expand all", id="trace.expand", show=False),
        Binding("minus", "collapse", "Collapse", id="trace.collapse", show=False),
    ]

    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        # The analysis comes ready (tui/loading.py runs it in a thread worker):
        # analysing here would freeze the console for seconds on a big trace.
        super().__init__()
        self.trace = trace
        self.analysis = analysis
        self.adjusted = bool(self.analysis.adjusted)
        self.model = TreeModel(trace, self.analysis)
        self.found: SearchResult | None = None

    def compose(self) -> ComposeResult:
        top = banner(self.analysis)
        yield Static(top or "", id="banner", markup=False, classes="" if top else "hidden")
        yield Static(self._title_text(), id="trace-title", markup=False)
        yield SpanSearchLine(
            placeholder="search: span name, attribute, GenAI field, span id prefix",
            id="trace-search",
            classes="hidden",
        )
        yield Static("", id="trace-search-status", markup=False, classes="hidden")
        yield Static("", id="waterfall-axis", markup=False, classes="hidden")
        yield CallTree(self.model, id="tree")
        yield Static(findings_text(self.analysis), id="findings", markup=False)
        yield Static("", id="detail", markup=False)
        yield Footer()

    def _title_text(self) -> str:
        s = self.analysis.summary
        if self.model.zoom:
            # Zoomed: what is shown (the subtree) matters more than the counts.
            name = inert(self.trace.spans[self.model.zoom[-1]].name, single_line=True)
            view = "adjusted" if self.adjusted else "raw"
            return inert(
                f"trace {truncate(s.trace_id, 9)}  zoom: {truncate(name, 24)}  "
                f"{len(self.model.rows)} of {s.span_count} spans  [{view}]",
                single_line=True,
            )
        view = "skew-adjusted" if self.adjusted else "raw timestamps"
        return inert(
            f"trace {truncate(s.trace_id, 17)}  {s.span_count} spans  "
            f"{len(self.analysis.cycles)} ⟲  "
            f"{len(self.analysis.findings)} findings  [{view}]",
            single_line=True,
        )

    # ------------------------------------------------------------ waterfall

    def on_call_tree_layout_changed(self, message: CallTree.LayoutChanged) -> None:
        header = self.query_one("#waterfall-axis", Static)
        axis = message.axis
        header.set_class(axis is None, "hidden")
        if axis is None:
            return
        if self.model.zoom:
            t0, _ = self.model.bounds()
            start = self.analysis.summary.start_ns
            start = t0 if start is None else start
            left = f"zoom @{time_text(t0 - start)} Z:out"
        else:
            left = "time →"
        left = left[: message.tree_width - 1].ljust(message.tree_width)
        header.update(Text(left, style="bold") + Text(axis_line(axis), style="dim"))

    def action_zoom(self) -> None:
        tree = self.query_one(CallTree)
        if not tree.zoom_in():
            self.notify("already zoomed to this span")
            return
        self._retitle()

    def action_unzoom(self) -> None:
        if self.query_one(CallTree).zoom_out():
            self._retitle()

    def action_back(self) -> None:
        """Escape leaves a zoom before it leaves the screen."""
        if self.model.zoom:
            self.action_unzoom()
        else:
            self.app.pop_screen()

    def _retitle(self) -> None:
        self.query_one("#trace-title", Static).update(self._title_text())

    # --------------------------------------------------------------- search

    def action_search(self) -> None:
        line = self.query_one(SpanSearchLine)
        line.remove_class("hidden")
        line.focus()
        line.cursor_position = len(line.value)

    def action_cancel_search(self) -> None:
        self.query_one(SpanSearchLine).add_class("hidden")
        self.query_one(CallTree).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_cancel_search()
        query = event.value.strip()
        if not query:
            self._set_hits(None)
            self._search_status("")
            return
        self._search_status(f"searching {len(self.trace.spans)} spans for {query}…")
        self._run_search(query)

    @work(exclusive=True, exit_on_error=False, thread=True, group="span-search")
    def _run_search(self, query: str) -> None:
        # Chunked: a new search (exclusive) or leaving the screen cancels the
        # scan within a few thousand spans, whatever the trace size.
        worker = get_current_worker()
        model = self.model
        result = search(model.trace, model.tree, query, cancelled=lambda: worker.is_cancelled)
        if not result.cancelled:
            self.app.call_from_thread(self._searched, model, result)

    def _searched(self, model: TreeModel, result: SearchResult) -> None:
        if model is not self.model:
            # Rebuilt (raw/adjusted) while searching: search the new one.
            self._run_search(result.query)
            return
        self._set_hits(result)
        if not result.hits:
            self._search_status(f"no span matches {result.query}")
            return
        self.action_next_hit(1)

    def _set_hits(self, result: SearchResult | None) -> None:
        self.found = result
        self.model.hits = set(result.hits) if result else set()
        self.query_one(CallTree).refresh_marks()

    def _search_status(self, text: str) -> None:
        status = self.query_one("#trace-search-status", Static)
        status.set_class(not text, "hidden")
        status.update(inert(text, single_line=True))

    def action_next_hit(self, direction: int) -> None:
        found = self.found
        if found is None or not found.hits:
            self.notify("no search hits: / searches the trace")
            return
        tree = self.query_one(CallTree)
        current = tree.model.rows[tree.cursor] if tree.model.rows else None
        at, wrapped = step(found.hits, self.model.tree.tin, current, direction > 0)
        zoomed = bool(self.model.zoom)
        tree.reveal_index(found.hits[at])  # leaves a zoom that hides the hit
        if zoomed and not self.model.zoom:
            self.notify("left the zoom to show the hit")
            self._retitle()
        if wrapped:
            self.notify("search wrapped to the " + ("first hit" if direction > 0 else "last hit"))
        more = f" (first {MAX_HITS} kept)" if found.total > len(found.hits) else ""
        self._search_status(
            f"/{truncate(found.query, 30)}  hit {at + 1}/{found.total}{more}  n/N: next/previous"
        )

    def on_call_tree_highlighted(self, message: CallTree.Highlighted) -> None:
        detail = self.query_one("#detail", Static)
        if message.span is None:
            detail.update("")
            return
        shift = self.analysis.adjusted.get(message.span.span_id)
        detail.update(span_detail(message.span, shift_ns=shift))

    def on_call_tree_selected(self, message: CallTree.Selected) -> None:
        self._open_span(message.span)

    def _open_span(self, span: Span) -> None:
        shift = self.analysis.adjusted.get(span.span_id)
        self.app.push_screen(
            TextModal(f"span {span.span_id}", span_detail(span, full=True, shift_ns=shift))
        )

    def action_toggle_findings(self) -> None:
        self.query_one("#findings").toggle_class("hidden")

    def action_graph(self) -> None:
        from oncall_tui.tui.graph_screen import GraphScreen

        screen = GraphScreen(self.model.trace, self.analysis)
        self.app.push_screen(screen, callback=self._reveal_span)

    def _reveal_span(self, span_id: str | None) -> None:
        """A span chosen on the graph screen: the tree's cursor goes to it."""
        if span_id:
            tree = self.query_one(CallTree)
            tree.reveal(span_id)
            tree.focus()

    def action_expand_all(self) -> None:
        self.model.expand_all()
        self.query_one(CallTree).set_model(self.model)

    def action_collapse(self) -> None:
        self.model.collapse_all_below(2)
        self.query_one(CallTree).set_model(self.model)

    def action_toggle_skew(self) -> None:
        self._reanalyse(not self.adjusted)

    @work(exclusive=True, exit_on_error=False, thread=True)
    def _reanalyse(self, adjust: bool) -> None:
        analysis = analyze(self.trace, adjust_skew=adjust)
        self.app.call_from_thread(self._apply, analysis, adjust)

    def _apply(self, analysis: Analysis, adjust: bool) -> None:
        if adjust and not analysis.adjusted:
            self.notify("no clock skew to adjust in this trace")
        self.analysis = analysis
        self.adjusted = adjust and bool(analysis.adjusted)
        trace = self.trace
        if self.adjusted:
            from oncall_tui.core.skew import adjust as adjust_trace
            from oncall_tui.core.tree import tree_for

            trace, _ = adjust_trace(self.trace, tree_for(self.trace))
        zoom = [self.trace.spans[i].span_id for i in self.model.zoom]
        self.model = TreeModel(trace, analysis)
        self.model.zoom = [i for i in (self.model.tree.by_id.get(z) for z in zoom) if i is not None]
        self.model.refresh_rows()
        # The same spans (same indexes) in the new model: keep the hits.
        self.model.hits = set(self.found.hits) if self.found else set()
        self.query_one(CallTree).set_model(self.model)
        self.query_one("#trace-title", Static).update(self._title_text())
        self.query_one("#findings", Static).update(findings_text(analysis))
