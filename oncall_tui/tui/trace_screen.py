"""The trace screen: call tree, span detail, findings; graph and full values on demand."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.text import inert, truncate
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.presenters import banner, findings_text, span_detail
from oncall_tui.tui.tree_model import TreeModel


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


class TraceScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="trace.back"),
        Binding("f", "toggle_findings", "Findings", id="trace.findings"),
        Binding("g", "graph", "Graph", id="trace.graph"),
        Binding("s", "toggle_skew", "Raw/adjusted", id="trace.skew"),
        # Listed by "?", not in the footer: at 80 columns "?" must stay visible.
        Binding("e", "expand_all", "Expand all", id="trace.expand", show=False),
        Binding("z", "collapse", "Collapse", id="trace.collapse", show=False),
    ]

    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        # The analysis comes ready (tui/loading.py runs it in a thread worker):
        # analysing here would freeze the console for seconds on a big trace.
        super().__init__()
        self.trace = trace
        self.analysis = analysis
        self.adjusted = bool(self.analysis.adjusted)
        self.model = TreeModel(trace, self.analysis)

    def compose(self) -> ComposeResult:
        top = banner(self.analysis)
        yield Static(top or "", id="banner", markup=False, classes="" if top else "hidden")
        yield Static(self._title_text(), id="trace-title", markup=False)
        yield CallTree(self.model, id="tree")
        yield Static(findings_text(self.analysis), id="findings", markup=False)
        yield Static("", id="detail", markup=False)
        yield Footer()

    def _title_text(self) -> str:
        s = self.analysis.summary
        view = "skew-adjusted" if self.adjusted else "raw timestamps"
        return inert(
            f"trace {truncate(s.trace_id, 17)}  {s.span_count} spans  "
            f"{len(self.analysis.cycles)} ⟲  "
            f"{len(self.analysis.findings)} findings  [{view}]",
            single_line=True,
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
        self.model = TreeModel(trace, analysis)
        self.query_one(CallTree).set_model(self.model)
        self.query_one("#trace-title", Static).update(self._title_text())
        self.query_one("#findings", Static).update(findings_text(analysis))
