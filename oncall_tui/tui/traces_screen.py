"""Recent traces of a route (TraceSearch), narrowed by the search line; enter opens one.

``/`` focuses the search line (the language is in ``trace_query``): ``route:``,
``errors`` and ``finding:`` narrow the list, ``id:`` and ``file:`` open one
trace. Fetches run in async workers, every read of a file and every analysis
in a thread worker (``loading``); results arrive as messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerFailed

from oncall_tui.core.analysis import matching_finding
from oncall_tui.core.models import Finding, TraceSummary
from oncall_tui.core.text import inert
from oncall_tui.errors import NotFoundError, OncallError
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.loading import (
    TraceAnalysed,
    TraceAnalysing,
    TraceLoadFailed,
    TraceSearchFailed,
    TracesListed,
    analysed,
    start_loading,
)
from oncall_tui.tui.presenters import SEVERITY_STYLE, safe
from oncall_tui.tui.trace_query import (
    OpenFile,
    OpenTrace,
    QueryError,
    Search,
    parse,
)

LIMIT = 50  # rows per search; a finding: search fetches and analyses each of them
HINT = "/ search: route:NAME  errors  finding:KIND  id:HEX  file:PATH  all"


class SearchLine(Input):
    """The one-line query field; escape gives the keys back to the table."""

    BINDINGS = [Binding("escape", "screen.cancel_search", "Cancel", id="traces.search_cancel")]

    def validate_value(self, value: str) -> str:
        # A pasted id or path can carry escape sequences; the field shows them
        # as text (the query then holds the visible form, e.g. "\x1b").
        return inert(value, single_line=True)


class TracesScreen(Screen[None]):
    AUTO_FOCUS = "#traces"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="traces.back"),
        Binding("slash", "focus_search", "Search", id="traces.search"),
        Binding("x", "toggle_errors", "Errors only", id="traces.errors"),
        Binding("r", "reload", "Reload", id="traces.reload"),
    ]

    def __init__(self, store: Any, route: str | None) -> None:
        super().__init__()
        self.store = store
        self.search = Search(route=route)
        self.rows: dict[str, TraceSummary] = {}
        self.findings: dict[str, Finding] = {}

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="traces-title", markup=False)
        yield SearchLine(self._query_text(), placeholder=HINT, id="traces-search")
        yield DataTable(id="traces", cursor_type="row")
        yield Static("", id="traces-status", markup=False)
        yield Footer()

    def _query_text(self) -> str:
        return "" if self.search == Search() else self.search.text()

    def _title(self) -> str:
        return f"traces: {safe(self.search.text(), 70)}"

    def _status(self, text: str | Text) -> None:
        self.query_one("#traces-status", Static).update(text)

    def _error(self, text: str) -> None:
        self._status(Text(safe(text, 200), style="red"))

    def on_mount(self) -> None:
        self.load()

    # ---------------------------------------------------------------- search

    def action_focus_search(self) -> None:
        line = self.query_one(SearchLine)
        line.focus()
        line.cursor_position = len(line.value)

    def action_cancel_search(self) -> None:
        self.query_one(SearchLine).value = self._query_text()
        self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_query(event.value)

    def run_query(self, text: str) -> None:
        """Do what the search line says; a bad query only says why, in the status line."""
        try:
            query = parse(text)
        except QueryError as exc:
            self._error(f"bad query: {exc.message}")
            return
        self.query_one(DataTable).focus()
        if isinstance(query, OpenTrace):
            self.open_trace(query.trace_id)
        elif isinstance(query, OpenFile):
            self.open_file(query.path)
        else:
            self._set_search(query)

    def _set_search(self, search: Search) -> None:
        self.search = search
        self.query_one("#traces-title", Static).update(self._title())
        self.query_one(SearchLine).value = self._query_text()
        self.load()

    def action_toggle_errors(self) -> None:
        s = self.search
        self._set_search(Search(route=s.route, errors_only=not s.errors_only, finding=s.finding))

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, exit_on_error=False, group="search")
    async def load(self) -> None:
        search = self.search
        query = search.text()
        self._status("searching…")
        try:
            rows = await self.store.search(
                TraceQuery(route=search.route, errors_only=search.errors_only, limit=LIMIT)
            )
        except OncallError as exc:
            self.post_message(TraceSearchFailed(query, exc.message))
            return
        if search.route:
            # Stores that cannot filter by route return every trace: drop those
            # whose root names another route (a row with no route is kept).
            rows = [r for r in rows if r.route is None or r.route == search.route]
        findings: dict[str, Finding] | None = None
        if search.finding:
            try:
                findings = await self._with_finding(rows, search.finding)
            except OncallError as exc:
                self.post_message(TraceSearchFailed(query, exc.message))
                return
            except WorkerFailed as exc:  # the engine broke on one: say so, not hang
                self.post_message(TraceSearchFailed(query, f"analysis failed: {exc.error}"))
                return
            rows = [r for r in rows if r.trace_id in findings]
        self.post_message(TracesListed(query, rows, findings))

    async def _with_finding(self, rows: list[TraceSummary], wanted: str) -> dict[str, Finding]:
        """As ``trace search --finding``: fetch each listed trace, analyse it (in a
        thread) and keep the most severe finding whose kind matches."""
        out: dict[str, Finding] = {}
        for n, row in enumerate(rows, 1):
            self._status(f"analysing trace {n} of {len(rows)} for finding:{safe(wanted, 40)}…")
            try:
                trace = await self.store.get_trace(row.trace_id)
            except NotFoundError:
                continue  # aged out of the store since the search: nothing to match
            hit = matching_finding(await analysed(self, trace), wanted)
            if hit is not None:
                out[row.trace_id] = hit
        return out

    def on_traces_listed(self, message: TracesListed) -> None:
        message.stop()
        table = self.query_one(DataTable)
        table.clear(columns=True)
        columns = ["started", "trace", "spans", "errors", "ms", "root"]
        if message.findings is not None:
            columns.insert(5, "finding")
        rows = [self._cells(r, message.findings) for r in message.rows]
        # Widths from the cells now: left to DataTable, they follow on a later
        # idle tick and a busy console paints the columns label-wide first.
        for i, col in enumerate(columns):
            table.add_column(
                col, key=col, width=max([len(col), *(row[i].cell_len for row in rows)])
            )
        self.rows = {r.trace_id: r for r in message.rows}
        self.findings = message.findings or {}
        for r, cells in zip(message.rows, rows, strict=True):
            table.add_row(*cells, key=r.trace_id)
        what = "" if message.query == "all" else f" matching {safe(message.query, 60)}"
        self._status(f"{len(message.rows)} trace(s){what}; enter opens one, / searches")

    def _cells(self, r: TraceSummary, findings: dict[str, Finding] | None) -> list[Text]:
        started = (
            datetime.fromtimestamp(r.start_ns / 1e9, UTC).strftime("%H:%M:%S")
            if r.start_ns
            else "-"
        )
        # Every cell is a Text: a str cell in a DataTable is parsed as markup,
        # and a root span name is hostile text.
        cells = [
            Text(started),
            Text(safe(r.trace_id, 16)),
            Text(str(r.span_count or 0)),
            Text(str(r.error_count or 0), style="red" if r.error_count else ""),
            Text(f"{(r.duration_ns or 0) / 1e6:.0f}"),
            Text(safe(r.root_name or "-", 40)),
        ]
        if findings is not None:
            hit = findings.get(r.trace_id)
            style = SEVERITY_STYLE.get(hit.severity, "") if hit else ""
            cells.insert(5, Text(safe(hit.kind, 24) if hit else "-", style=style))
        return cells

    def on_trace_search_failed(self, message: TraceSearchFailed) -> None:
        message.stop()
        self._error(f"cannot search traces: {message.reason}")

    # ------------------------------------------------------------------ open

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_trace(str(event.row_key.value))

    @work(exclusive=True, exit_on_error=False, group="open")
    async def open_trace(self, trace_id: str) -> None:
        """Fetch on the event loop (the store's client lives there), analyse in a thread."""
        origin = f"trace {trace_id}"
        self._status(f"fetching {safe(trace_id, 40)}…")
        try:
            trace = await self.store.get_trace(trace_id)
        except OncallError as exc:
            self.post_message(TraceLoadFailed(origin, exc.message))
            return
        start_loading(self, origin, trace=trace)

    def open_file(self, path: str) -> None:
        self.workers.cancel_group(self, "open")  # a fetch still under way must not open later
        self._status(f"reading {safe(path, 60)}…")
        start_loading(self, path, path=path)

    def on_trace_analysing(self, message: TraceAnalysing) -> None:
        message.stop()
        self._status(message.text)

    def on_trace_analysed(self, message: TraceAnalysed) -> None:
        message.stop()
        from oncall_tui.tui.trace_screen import TraceScreen

        self._status("")
        if isinstance(self.app.screen, ModalScreen):  # keys opened while it analysed
            self.app.pop_screen()
        self.app.push_screen(TraceScreen(message.trace, message.analysis))

    def on_trace_load_failed(self, message: TraceLoadFailed) -> None:
        message.stop()
        self._error(message.text)
