"""Overview: every route of the environment's gateway, live, with its age.

A worker follows the gateway's event stream (GatewayStream: status and alert
events) or, for gateways without one, polls GatewayStatus; either way it
posts coalescing messages and a timer repaints the table at most every
REPAINT_S. A timer re-renders only the age line. When the gateway cannot be
reached the last figures stay, marked STALE with the reason.

Each finding line carries its trend over the last hour and, when the rate
rose clearly at some point, "since HH:MM (after <the change just before>)":
the onset window (core/onset.py), computed every ONSET_S in a worker thread
from the same trace store (tui/onset_fetch.py). `o` opens a route's timeline.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from oncall_tui.core.analysis import analyze
from oncall_tui.core.finding_digest import FindingGroup, digest
from oncall_tui.core.gateway import Alert, StatusResponse
from oncall_tui.core.onset import Onset, Series, percent, series, sparkline
from oncall_tui.core.status_notes import note_lines
from oncall_tui.core.text import truncate
from oncall_tui.core.trace_metrics import RouteTraceStats, fill_status, route_stats
from oncall_tui.errors import OncallError
from oncall_tui.runbook.format import Runbook
from oncall_tui.runbook.library import load_all, suggest
from oncall_tui.runbook.signals import implied_alerts
from oncall_tui.sources.capabilities import GatewayStream
from oncall_tui.sources.trace_window import (
    FromTraces,
    can_read_window,
    needs_traces,
    traces_in_window,
)
from oncall_tui.tui.action_screen import ActionScreen, console_spec
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.onset_fetch import OnsetResult, compute
from oncall_tui.tui.presenters import (
    ROUTE_COLUMNS,
    SEVERITY_STYLE,
    age_text,
    fit_rows,
    kind_trend,
    onset_since,
    route_row,
    safe,
)

POLL_S = 2.0
#: How often the trace store's recent traces are read: their findings (what
#: a gateway cannot alert on: cycles, swallowed errors, ...) and, for gateways
#: that cannot say which tier served (LiteLLM), the figures derived from them.
#: One window read per sweep, not one per status event.
TRACE_SWEEP_S = 10.0
SWEEP_TRACES = 100
FINDING_LINES = 3
ALERT_ROWS = 6  # text rows of the alert panel at least (its border-top aside)
#: ... and at most (#alerts max-height 12): the panel grows into the rows a
#: short routes table leaves empty, so the onset lines are not cut at 80x24.
ALERT_ROWS_MAX = 11
FINDING_SHARE = 0.1  # medium findings show when this share of recent traces has them
REPAINT_S = 0.5  # bounded repaint rate of the routes table
WINDOW_S = 60
#: How often the onset window (the last hour, sampled) is recomputed: slow,
#: it reads a few hundred traces.
ONSET_S = 60.0
#: ... and sooner, at most this often, when the last minute's sweep finds a
#: kind the window has not seen (the line should not wait a minute for its trend).
ONSET_SOON_S = 15.0
ONSET_ONLY_LINES = 2  # onsets of kinds the last minute's sweep did not show


#: Columns cut (with an ellipsis) when the row is wider than the table, in
#: this order, and the fewest characters each keeps: the version (the
#: rollback screen shows it whole), then the route's name (a responder's way
#: in: kept whole while the version can give). Every other value has a
#: short form that always fits.
SHRINK = ((len(ROUTE_COLUMNS) - 1, 3), (0, 10))
SCROLLBAR = 2  # columns a vertical scrollbar takes when the routes overflow


def fit_columns(rows: list[list[Text]], width: int) -> list[list[Text]]:
    """Cut the long names so every column fits in ``width`` (one space
    before each cell but the first, as the table draws them; the caller
    takes the scrollbar off when there is one)."""
    if not rows:
        return rows
    widths = [
        max(len(h), *(c.cell_len for c in col)) + (1 if k else 0)
        for k, (h, col) in enumerate(zip(ROUTE_COLUMNS, zip(*rows, strict=True), strict=True))
    ]
    excess = sum(widths) - width
    for index, keep in SHRINK:
        if excess <= 0:
            break
        pad = 1 if index else 0
        cut = min(excess, max(widths[index] - pad - keep, 0))
        if cut:
            limit = widths[index] - pad - cut
            for row in rows:
                if row[index].cell_len > limit:
                    row[index] = Text(truncate(row[index].plain, limit), style=row[index].style)
            widths[index] -= cut
            excess -= cut
    return rows


class StatusArrived(Message):
    """Fresh figures (and, when known, the full list of alerts). Replaces its
    predecessor: a burst of status events becomes one repaint."""

    def __init__(self, status: StatusResponse, alerts: list[Alert] | None) -> None:
        super().__init__()
        self.status = status
        self.alerts = alerts

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusArrived) and (
            self.alerts is not None or message.alerts is None
        )


class AlertChanged(Message):
    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert


class TraceSweep(Message):
    """What the trace store's recent traces say: route figures and findings."""

    def __init__(self, stats: list[RouteTraceStats], traces: int, groups: list[FindingGroup]):
        super().__init__()
        self.stats = stats
        self.traces = traces
        self.groups = groups

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TraceSweep)


class OnsetComputed(Message):
    """A new onset window, or why there is none (``error``)."""

    def __init__(self, result: OnsetResult | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OnsetComputed)


class StatusFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusFailed)


class OverviewScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open_route", "Traces", id="overview.traces"),
        # Short labels and a hidden refresh: at 80 columns "?" must stay in the
        # footer (it lists every key, refresh included).
        Binding("r", "refresh", "Refresh", id="overview.refresh", show=False),
        Binding("b", "runbook", "Runbook", id="overview.runbook"),
        Binding("a", "all_alerts", "All alerts", id="overview.alerts", show=False),
        Binding("k", "act('kill_switch')", "Kill", id="overview.kill_switch"),
        Binding("v", "act('rollback')", "Rollback", id="overview.rollback"),
        Binding("f", "act('failover')", "Failover", id="overview.failover"),
        Binding("o", "timeline", "Timeline", id="overview.timeline", show=False),
    ]

    def __init__(self, gateway: Any, gateway_name: str, env_name: str) -> None:
        super().__init__()
        self.gateway = gateway
        self.gateway_name = gateway_name
        self.env_name = env_name
        self.status: StatusResponse | None = None
        self.alerts: list[Alert] = []
        self.error: str | None = None
        self.alerts_text = Text("no data yet")  # everything the alert panel would show
        # The last trace sweep: route figures (applied to every status of a
        # gateway that cannot say which tier served, until the next sweep)
        # and findings.
        self.derived: FromTraces | None = None
        self.finding_groups: list[FindingGroup] = []
        self.swept: int | None = None  # traces read by the last sweep
        self._gateway_status: StatusResponse | None = None  # as the gateway said it
        # The last onset window (None until the first one is computed) and
        # its series; a failure keeps the last one and says why in one line.
        self.onset: OnsetResult | None = None
        self.onset_series: list[Series] = []
        self.onset_error: str | None = None
        self._onset_busy = False  # one computation at a time: a thread cannot be cancelled
        self._onset_started = -ONSET_SOON_S

    def compose(self) -> ComposeResult:
        yield Static(
            f"{safe(self.env_name, 30)} / {safe(self.gateway_name, 30)}", id="where", markup=False
        )
        yield Static("", id="age", markup=False)
        table: DataTable[Text] = DataTable(id="routes", cursor_type="row", zebra_stripes=False)
        yield table
        yield Static("", id="alerts", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#routes", DataTable)
        # One space between columns instead of Textual's two (none before the
        # first): all 13 columns fit in 80 (fit_columns cuts long names).
        table.cell_padding = 0
        for k, col in enumerate(ROUTE_COLUMNS):
            table.add_column(Text(f" {col}" if k else col), key=col)
        self._dirty = False
        self.runbooks: list[Runbook] = []
        self.load_library()
        if isinstance(self.gateway, GatewayStream):
            self.listen()
            # A quiet stream is not a dead gateway: read status directly when
            # no status event came for a while, so the age shown stays honest.
            self.set_interval(POLL_S * 2, self._freshen)
        else:
            self.poll()
        self.set_interval(1.0, self._render_age)
        self.set_interval(TRACE_SWEEP_S, self._sweep)
        self._sweep()
        self._loop = asyncio.get_running_loop()
        self.set_interval(ONSET_S, self._onset_tick)
        self._onset_tick()
        self.set_interval(REPAINT_S, self._repaint)

    @work(exclusive=True, exit_on_error=False, group="library", thread=True)
    def load_library(self) -> None:
        runbooks, _ = load_all(getattr(self.app, "runbook_paths", ()))
        self.app.call_from_thread(self._library_loaded, list(runbooks.values()))

    def _library_loaded(self, runbooks: list[Runbook]) -> None:
        self.runbooks = runbooks
        self._dirty = True

    def _runbook_for(self, alert_kind: str) -> str | None:
        """The runbook `b` would start for this alert (the library's own match)."""
        found = suggest(self.runbooks, alerts=[alert_kind])
        return found[0].runbook.id if found else None

    def _telling_findings(self) -> list[FindingGroup]:
        """High findings always; medium ones when common (a fallback in 4 of
        100 traces is the gateway doing its job, in 40 it is the incident)."""
        swept = self.swept or 0
        return [
            g
            for g in self.finding_groups
            if g.severity in ("high", "critical") or g.traces >= FINDING_SHARE * swept
        ]

    def _runbook_for_finding(self, kind: str) -> str | None:
        found = suggest(self.runbooks, findings=[kind])
        return found[0].runbook.id if found else None

    async def _fetch(self) -> None:
        try:
            status = await self.gateway.status(WINDOW_S)
            alerts = await self.gateway.alerts() if hasattr(self.gateway, "alerts") else None
            self.post_message(StatusArrived(status, alerts))
        except OncallError as exc:
            self.post_message(StatusFailed(exc.message))
        except Exception as exc:  # the screen must survive any adapter bug
            self.post_message(StatusFailed(f"{type(exc).__name__}: {exc}"))

    @work(exclusive=True, exit_on_error=False, group="poll")
    async def poll(self) -> None:
        while True:
            await self._fetch()
            await asyncio.sleep(POLL_S)

    @work(exclusive=True, exit_on_error=False, group="fetch")
    async def fetch_once(self) -> None:
        await self._fetch()

    def _now(self) -> datetime:
        clock = getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def _freshen(self) -> None:
        received = self.status.received_at if self.status else None
        if received is None or (self._now() - received).total_seconds() > POLL_S * 2:
            self.fetch_once()

    @work(exclusive=True, exit_on_error=False, group="stream")
    async def listen(self) -> None:
        await self._fetch()
        try:
            async for event in self.gateway.events():
                if event.type == "status" and event.status is not None:
                    stamped = msgspec.structs.replace(event.status, received_at=self._now())
                    self.post_message(StatusArrived(stamped, None))
                elif event.type == "alert" and event.alert is not None:
                    self.post_message(AlertChanged(event.alert))
                elif event.type == "reset":
                    # Events were lost (or the stream dropped): say so, then
                    # re-read the whole picture instead of trusting deltas.
                    self.post_message(StatusFailed(event.detail or "event stream reset"))
                    await self._fetch()
        except OncallError as exc:
            self.post_message(StatusFailed(f"event stream ended: {exc.message}"))
            self.poll()

    def action_refresh(self) -> None:
        self.fetch_once()

    def _trace_store(self) -> object | None:
        store = getattr(self.app, "store", None)
        return store if store is not None and can_read_window(store) else None

    def _sweep(self) -> None:
        if self._trace_store() is not None:
            self.sweep_traces()

    @work(exclusive=True, exit_on_error=False, group="traces")
    async def sweep_traces(self) -> None:
        store = self._trace_store()
        if store is None:
            return
        try:
            traces = await traces_in_window(store, WINDOW_S, limit=SWEEP_TRACES)
        except OncallError as exc:
            self.notify(f"trace store: {safe(exc.message, 100)}", severity="warning")
            return
        except Exception as exc:  # an adapter bug must not end the sweeps
            self.notify(f"trace store: {type(exc).__name__}", severity="warning")
            return

        def crunch() -> tuple[list[RouteTraceStats], list[FindingGroup]]:
            return route_stats(traces), digest(analyze(t) for t in traces)

        # Off the event loop: 100 analyses must not stall a keypress.
        stats, groups = await asyncio.to_thread(crunch)
        self.post_message(TraceSweep(stats, len(traces), groups))

    def _onset_tick(self) -> None:
        store = self._trace_store()
        if store is not None and not self._onset_busy:
            self._onset_busy = True
            self._onset_started = time.monotonic()
            now_ns = int(self._now().timestamp() * 1e9)
            self.compute_onsets(store, now_ns)

    @work(exclusive=True, exit_on_error=False, group="onset", thread=True)
    def compute_onsets(self, store: object, now_ns: int) -> None:
        """In a thread: sampling analyses hundreds of traces (tui/onset_fetch.py)."""
        audit = getattr(self.app, "audit_path", None)
        try:
            flags = getattr(self.app, "flag_sources", None)
            result = compute(store, self.gateway, self._loop, now_ns, audit_path=audit, flags=flags)
        except OncallError as exc:
            self.post_message(OnsetComputed(None, safe(exc.message, 120)))
            return
        except Exception as exc:  # an adapter bug must not end the refreshes
            self.post_message(OnsetComputed(None, safe(f"{type(exc).__name__}: {exc}", 120)))
            return
        self.post_message(OnsetComputed(result))

    def on_onset_computed(self, message: OnsetComputed) -> None:
        self._onset_busy = False
        if message.result is not None:
            self.onset = message.result
            self.onset_series = series(message.result.window)
            self.onset_error = None
        else:
            self.onset_error = message.error
        from oncall_tui.tui.timeline_screen import TimelineScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, TimelineScreen):
                screen.show(self.onset, self.onset_error)
        self._dirty = True
        if self.status is not None:
            self._render_alerts()

    def _onset_of(self, kind: str, routes: list[str] | tuple[str, ...] = ()) -> Onset | None:
        """The earliest onset of ``kind`` on any of ``routes`` (any route when empty)."""
        found = [
            o
            for o in (self.onset.onsets if self.onset else ())
            if o.kind == kind and (not routes or o.route in routes)
        ]
        return min(found, key=lambda o: o.at_ns, default=None)

    def _trend_text(self, kind: str, routes: list[str] | tuple[str, ...] = ()) -> str:
        rates = kind_trend(self.onset_series, kind, routes)
        # Blank buckets at the ends (before the store's first trace, the one
        # just begun) are not worth columns of a crowded line; gaps inside
        # stay. The timeline screen shows the whole axis.
        return sparkline(rates).strip() + " " if rates is not None else ""

    def on_trace_sweep(self, message: TraceSweep) -> None:
        known = {s.kind for s in self.onset_series}
        new_kind = self.onset is not None and any(g.kind not in known for g in message.groups)
        if new_kind and time.monotonic() - self._onset_started >= ONSET_SOON_S:
            self._onset_tick()
        self.finding_groups = message.groups
        self.swept = message.traces
        self.derived = FromTraces("store", message.traces, [], message.stats)
        if self._gateway_status is not None:
            self._apply_status(self._gateway_status)
        self._dirty = True

    def _apply_status(self, status: StatusResponse) -> None:
        """Keep the gateway's own figures; fill only what it cannot say."""
        self._gateway_status = status
        if self.derived is not None and needs_traces(status):
            status, filled = fill_status(status, self.derived.stats, WINDOW_S)
            self.derived = msgspec.structs.replace(self.derived, routes=filled)
        self.status = status
        self._dirty = True

    def on_status_arrived(self, message: StatusArrived) -> None:
        self._apply_status(message.status)
        if message.alerts is not None:
            self.alerts = [a for a in message.alerts if a.resolved_at is None]
        self.error = None
        self._dirty = True

    def on_alert_changed(self, message: AlertChanged) -> None:
        alert = message.alert
        self.alerts = [a for a in self.alerts if a.id != alert.id]
        if alert.resolved_at is None:
            self.alerts.append(alert)
        self._dirty = True

    def _repaint(self) -> None:
        """At most one repaint per REPAINT_S, whatever the event rate."""
        if not self._dirty or self.status is None:
            return
        self._dirty = False
        table = self.query_one("#routes", DataTable)
        keep = table.cursor_row
        table.clear()
        for column in table.columns.values():
            # clear() keeps each column as wide as the widest value it ever
            # held; a version that was cut must not leave its old width.
            column.content_width = column.label.cell_len
        width = table.size.width or 80
        if len(self.status.routes) >= table.size.height:  # rows and the header row
            width -= SCROLLBAR
        rows = fit_columns([route_row(r) for r in self.status.routes], width)
        for r, row in zip(self.status.routes, rows, strict=True):
            cells = [row[0], *(Text.assemble(" ", cell) for cell in row[1:])]
            table.add_row(*cells, key=r.route)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._render_alerts()
        self._render_age()

    def on_status_failed(self, message: StatusFailed) -> None:
        self.error = message.error
        self._render_age()

    def _render_age(self) -> None:
        self.query_one("#age", Static).update(age_text(self.status, self.error, self._now()))

    def _render_alerts(self) -> None:
        out = Text()
        if not self.alerts:
            out.append("no alerts firing\n", style="green")
        for a in self.alerts:
            out.append(f"[{a.severity}] ", style=SEVERITY_STYLE.get(a.severity, ""))
            out.append(safe(a.summary, 100))
            runbook = self._runbook_for(a.kind)
            if runbook:
                out.append(f"  → runbook {runbook}", style="bold cyan")
            out.append("\n")
        width = self.query_one("#alerts", Static).size.width or 80
        shown = self._telling_findings()[:FINDING_LINES]
        for g in shown:
            row = Text()
            row.append(f"[{g.severity}] ", style=SEVERITY_STYLE.get(g.severity, ""))
            row.append(self._trend_text(g.kind, g.routes), style="cyan")
            where = f" ({safe(', '.join(g.routes), 40)})" if g.routes else ""
            row.append(f"{g.kind} in {g.traces} of {self.swept} recent traces{where}")
            self._finish_finding(row, g.kind, self._onset_of(g.kind, g.routes), width)
            out.append_text(row)
        kinds = {g.kind for g in shown}
        others = [o for o in (self.onset.onsets if self.onset else ()) if o.kind not in kinds]
        for o in others[:ONSET_ONLY_LINES]:
            row = Text()
            row.append("[onset] ", style="bold yellow")
            row.append(self._trend_text(o.kind, (o.route,)), style="cyan")
            row.append(safe(f"{o.kind} on {o.route}", 60))
            row.append(f" {percent(o.before_rate)} -> {percent(o.after_rate)}")
            self._finish_finding(row, o.kind, o, width)
            out.append_text(row)
        if self.onset_error:
            out.append(f"onset window: {self.onset_error}\n", style="yellow")
        elif self.onset is not None and self.onset.warnings:
            # A source of changes that did not answer: its changes are missing
            # from the "after ..." clauses, which must not read as complete.
            more = len(self.onset.warnings) - 1
            tail = f" (and {more} more)" if more else ""
            first = safe(self.onset.warnings[0], 110)
            out.append(f"onset changes: {first}{tail}: left out\n", style="yellow")
        if self.status is not None:
            for line in note_lines(self.status):
                out.append(safe(line, 160) + "\n", style="yellow")
            if self.derived is not None and self.derived.routes:
                routes = safe(", ".join(self.derived.routes), 60)
                out.append(
                    f"tier mix, fallback and error rates of {routes}"
                    f" from {self.derived.traces} trace(s) in the trace store\n",
                    style="dim",
                )
        self.alerts_text = out
        panel = self.query_one("#alerts", Static)
        # max-height 12 in app.tcss: one row of border, up to eleven of text.
        panel.update(fit_rows(out, panel.size.width or 80, self._alert_rows(), "a shows all"))

    def _alert_rows(self) -> int:
        """Rows the alert panel may use: what the routes table leaves (it
        needs a header and a row per route; the two lines above it, the
        footer and the panel's border take four more)."""
        table = self.query_one("#routes", DataTable)
        spare = self.size.height - 4 - (table.row_count + 1)
        return max(ALERT_ROWS, min(ALERT_ROWS_MAX, spare))

    def _finish_finding(self, line: Text, kind: str, onset: Onset | None, width: int) -> None:
        """The onset and the runbook, ending a finding line; the cause is
        cut so the line takes at most two rows of the panel."""
        runbook = self._runbook_for_finding(kind)
        tail = f"  → runbook {runbook}" if runbook else ""
        if onset is not None:
            # Less a few characters: wrapping at word breaks wastes some.
            room = 2 * width - len(line.plain) - len(tail) - len(", since 00:00 (after )") - 6
            line.append(", " + onset_since(onset, max(room, 24)), style="bold")
        if tail:
            line.append(tail, style="bold cyan")
        line.append("\n")

    def action_all_alerts(self) -> None:
        from oncall_tui.tui.trace_screen import TextModal

        self.app.push_screen(TextModal("alerts, trace findings and notes", self.alerts_text))

    def _current_route(self) -> str | None:
        table = self.query_one("#routes", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            # Only what the audited lifecycle can do here, with read-back; a
            # read-only environment shows no action at all (k9s hides what
            # cannot be done).
            return bool(self.app.offers(str(parameters[0])))  # type: ignore[attr-defined]
        return True

    def action_act(self, kind: str) -> None:
        route = self._current_route()
        if route is None or self.status is None or not self.app.offers(kind):  # type: ignore[attr-defined]
            self.notify("no route status yet", severity="warning")
            return
        current = next((r for r in self.status.routes if r.route == route), None)
        target: dict[str, object] = {}
        if kind == "kill_switch":
            enabled = not (current is not None and current.kill_switch)
            target["enabled"] = enabled
            reason = "pulled from the console overview" if enabled else "AI serving restored"
        elif kind == "rollback":
            reason = "rolled back from the console overview"  # to the version before
        else:
            reason = "failed over from the console overview"  # to the next tier
        spec = console_spec(
            kind,
            route,
            actor=getattr(self.app, "actor", "oncall-tui"),
            reason=reason,
            request_id=self.app.request_id(),  # type: ignore[attr-defined]
            **target,
        )
        screen = ActionScreen(self.app.action_runner, spec)  # type: ignore[attr-defined]
        self.app.push_screen(screen, self._after_action)

    def action_runbook(self) -> None:
        route = self._current_route()
        if route is None:
            self.notify("no route selected", severity="warning")
            return
        # The gateway's own alerts decide (the same runbook the alert line names);
        # only a gateway that raises none gets a runbook from its figures.
        kinds = [a.kind for a in self.alerts if a.route == route]
        routes = self.status.routes if self.status else ()
        current = next((r for r in routes if r.route == route), None)
        if not kinds and current is not None:
            kinds = implied_alerts(current, None)
        # What the route's recent traces show counts too (a cycle raises no rate).
        findings = [g.kind for g in self.finding_groups if route in g.routes]
        self.app.open_runbook(route, kinds, findings)  # type: ignore[attr-defined]

    def _after_action(self, result: object) -> None:
        self.fetch_once()  # show the gateway's answer now, not at the next tick

    def action_timeline(self) -> None:
        """The selected route's finding rates and changes on one time axis."""
        from oncall_tui.tui.timeline_screen import TimelineScreen

        route = self._current_route()
        if route is None:
            self.notify("no route selected", severity="warning")
            return
        if self._trace_store() is None:
            self.notify("no trace store that can list a time window", severity="warning")
            return
        self.app.push_screen(TimelineScreen(route, self.onset, self.onset_error))

    def action_open_route(self) -> None:
        table = self.query_one("#routes", DataTable)
        if not table.row_count:
            return
        route = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.app.open_traces(route)  # type: ignore[attr-defined]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_route()
