"""Recent traces of a route (TraceSearch), errors first on request; enter opens one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import TraceSummary
from oncall_tui.errors import OncallError
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.tui.presenters import safe


class TracesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="traces.back"),
        Binding("x", "toggle_errors", "Errors only", id="traces.errors"),
        Binding("r", "reload", "Reload", id="traces.reload"),
    ]

    def __init__(self, store: Any, route: str | None) -> None:
        super().__init__()
        self.store = store
        self.route = route
        self.errors_only = False
        self.rows: dict[str, TraceSummary] = {}

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="traces-title", markup=False)
        yield DataTable(id="traces", cursor_type="row")
        yield Static("", id="traces-status", markup=False)
        yield Footer()

    def _title(self) -> str:
        which = "errors only" if self.errors_only else "all"
        return f"traces of {safe(self.route or 'all routes', 40)} ({which})"

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("started", "trace", "spans", "errors", "ms", "root"):
            table.add_column(col, key=col)
        self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        status = self.query_one("#traces-status", Static)
        status.update("searching…")
        try:
            rows = await self.store.search(
                TraceQuery(route=self.route, errors_only=self.errors_only, limit=50)
            )
        except OncallError as exc:
            status.update(Text(f"cannot search traces: {safe(exc.message, 150)}", style="red"))
            return
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {r.trace_id: r for r in rows}
        for r in rows:
            started = (
                datetime.fromtimestamp((r.start_ns or 0) / 1e9, UTC).strftime("%H:%M:%S")
                if r.start_ns
                else "-"
            )
            errors = Text(str(r.error_count or 0), style="red" if r.error_count else "")
            # Every cell is a Text: a str cell in a DataTable is parsed as markup,
            # and a root span name is hostile text.
            table.add_row(
                Text(started),
                Text(safe(r.trace_id, 16)),
                Text(str(r.span_count or 0)),
                errors,
                Text(f"{(r.duration_ns or 0) / 1e6:.0f}"),
                Text(safe(r.root_name or "-", 40)),
                key=r.trace_id,
            )
        status.update(f"{len(rows)} trace(s); enter opens one")

    def action_toggle_errors(self) -> None:
        self.errors_only = not self.errors_only
        self.query_one("#traces-title", Static).update(self._title())
        self.load()

    def action_reload(self) -> None:
        self.load()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_trace(str(event.row_key.value))

    @work(exclusive=True, exit_on_error=False, group="open")
    async def open_trace(self, trace_id: str) -> None:
        status = self.query_one("#traces-status", Static)
        status.update(f"fetching {safe(trace_id, 40)}…")
        try:
            trace = await self.store.get_trace(trace_id)
        except OncallError as exc:
            status.update(Text(f"cannot fetch trace: {safe(exc.message, 150)}", style="red"))
            return
        analysis = analyze(trace)
        from oncall_tui.tui.trace_screen import TraceScreen

        status.update("")
        self.app.push_screen(TraceScreen(trace, analysis))
