"""Timeline/audit: every action's stages from the audit log, its hash chain, the incident.

Opened from anywhere (``l``, ``app.audit``, or the command palette). A thread
worker reads and verifies the log (``AuditLog.records`` / ``verify``: the same
check as ``oncall-tui audit verify``) and posts the result; the screen shows
the records newest first under a banner that says whether the hash chain is
intact or where it breaks; enter shows one record in full. When a runbook is
running, its incident timeline shows underneath. Records and events hold text
from gateways and people: everything is rendered as inert ``Text``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from oncall_tui.actions import AuditLog, AuditRecord, VerifyReport
from oncall_tui.errors import OncallError
from oncall_tui.runbook.export import describe_event
from oncall_tui.runbook.session import Session
from oncall_tui.tui.action_view import STAGE_STYLE
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.presenters import safe

COLUMNS = ("time (UTC)", "actor", "action", "stage", "route", "outcome")
SHOWN = 1000  # newest records in the table; the banner counts them all
QUIET = ("advanced", "step_started", "opened", "check_attempt")


def outcome_of(record: AuditRecord) -> str:
    """What a stage says in one line: its detail, the error, or how it was confirmed."""
    d = record.data
    for key in ("detail", "error", "how"):
        if d.get(key):
            return str(d[key])
    if record.stage == "attempt":
        return f"call {d.get('n', '?')} sent"
    if record.stage == "captured" and isinstance(d.get("prior"), dict):
        prior = ", ".join(f"{k}={v}" for k, v in d["prior"].items())
        return f"prior state: {prior}"
    return ""


def record_row(record: AuditRecord) -> tuple[Text, ...]:
    # A leading space per cell instead of Textual's padding: the outcome fits in 80.
    cells = (
        (record.ts[5:19].replace("T", " "), ""),  # MM-DD HH:MM:SS, UTC
        (safe(record.actor, 24), ""),
        (safe(record.action_id, 20), ""),
        (safe(record.stage, 16), STAGE_STYLE.get(record.stage, "")),
        (safe(record.route, 30), ""),
        (safe(outcome_of(record), 160), ""),
    )
    return tuple(Text.assemble(" ", (text, style)) for text, style in cells)


def record_detail(record: AuditRecord) -> Text:
    """One record in full (enter on a row): every field, inert."""
    body = json.dumps(msgspec.to_builtins(record), indent=2, ensure_ascii=False)
    return Text(safe(body, None, single_line=False))


def verify_banner(path: Path | None, report: VerifyReport | None, error: str | None) -> Text:
    if path is None:
        return Text("no audit log configured for this environment", style="yellow")
    if report is None:
        return Text(f"cannot read the audit log: {safe(error, 200)}", style="bold red")
    if not report.ok:
        first = report.problems[0]
        out = Text(f" hash chain BROKEN at line {first.line} ", style="bold white on red")
        out.append(f" {safe(first.message, 200)}")
        if len(report.problems) > 1:
            out.append(f" (+{len(report.problems) - 1} more)", style="bold")
        out.append(f"\n{safe(str(path), 200)}: 'oncall-tui audit verify' lists every problem")
        return out
    if report.records == 0:
        return Text(f"no actions recorded yet in {safe(str(path), 200)}", style="dim")
    out = Text(f"hash chain intact: {report.records} records verified", style="bold green")
    out.append(f"  {safe(str(path), 200)}", style="dim")
    return out


def incident_timeline(session: Session) -> Text:
    """The running incident's timeline, as the runbook screen and postmortem say it."""
    try:
        titles = {s.id: s.title for s in session.runbook().steps}
    except (KeyError, TypeError, ValueError):
        titles = {}
    out = Text(f"incident {safe(session.id, 60)}\n", style="bold")
    for event in session.events:
        if event.type in QUIET:
            continue
        out.append(f"{event.at[11:19]}  ", style="dim")
        out.append(safe(describe_event(event, titles), 300) + "\n")
    return out


class AuditLoaded(Message):
    def __init__(
        self,
        records: list[AuditRecord],
        report: VerifyReport | None,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.records = records
        self.report = report
        self.error = error


class AuditScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="audit.back"),
        Binding("r", "reload", "Reload", id="audit.reload"),
    ]

    def __init__(self, path: Path | None, incident: Session | None = None) -> None:
        super().__init__()
        self.path = path
        self.incident = incident
        self.records: list[AuditRecord] = []
        self.report: VerifyReport | None = None
        self.shown: list[AuditRecord] = []

    def compose(self) -> ComposeResult:
        yield Static("audit log, newest first", id="audit-title", markup=False)
        yield Static("reading the audit log…", id="audit-banner", markup=False)
        yield DataTable(id="audit-records", cursor_type="row")
        if self.incident is not None:
            with VerticalScroll(id="audit-timeline"):
                yield Static("", id="incident-timeline", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#audit-records", DataTable)
        table.cell_padding = 0
        for col in COLUMNS:
            table.add_column(Text(f" {col}"), key=col)
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, exit_on_error=False, thread=True)
    def load(self) -> None:
        if self.path is None:
            self.post_message(AuditLoaded([], None, "no audit log configured"))
            return
        log = AuditLog(self.path)
        try:
            report = log.verify()
        except OSError as exc:
            self.post_message(AuditLoaded([], None, exc.strerror or str(exc)))
            return
        try:
            records = log.records()
        except OncallError as exc:
            # An unreadable line stops the reader; the banner already says where.
            self.post_message(AuditLoaded([], report, exc.message))
            return
        self.post_message(AuditLoaded(records, report))

    def on_audit_loaded(self, message: AuditLoaded) -> None:
        self.records = message.records
        self.report = message.report
        banner = verify_banner(self.path, message.report, message.error)
        if message.report is not None and message.error:
            banner.append(f"\nrecords not shown: {safe(message.error, 200)}", style="yellow")
        self.query_one("#audit-banner", Static).update(banner)
        shown = message.records[-SHOWN:][::-1]
        title = f"audit log, newest first ({len(shown)} of {len(message.records)} records)"
        self.query_one("#audit-title", Static).update(title)
        table: DataTable[Any] = self.query_one("#audit-records", DataTable)
        table.clear()
        self.shown = shown
        for record in shown:
            table.add_row(*record_row(record))
        if self.incident is not None:
            self.query_one("#incident-timeline", Static).update(incident_timeline(self.incident))
            self.query_one("#audit-timeline", VerticalScroll).scroll_end(animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from oncall_tui.tui.trace_screen import TextModal

        if 0 <= event.cursor_row < len(self.shown):
            record = self.shown[event.cursor_row]
            title = f"{record.action_id} {record.stage} (seq {record.seq})"
            self.app.push_screen(TextModal(title, record_detail(record)))
