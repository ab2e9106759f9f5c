"""Traces as they arrive over OTLP: the live screen of ``trace listen --tui``
and of the palette's "Live traces".

The screen owns the one ticker of its ``LiveTraces`` (settling and analysis
run in a thread worker, never on the event loop: a big trace takes a while)
and repaints at most every ``REPAINT_S``, only when the store's ``version``
moved, whatever the arrival rate. Rows are newest first; the selection
follows its trace id across repaints, so a trace arriving on top never moves
what you are reading. ``enter`` opens the trace screen with the analysis the
store already made; the list keeps updating underneath.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from oncall_tui.tui.footer import Footer
from oncall_tui.tui.live_list import LiveList
from oncall_tui.tui.presenters import SEVERITY_STYLE, safe

if TYPE_CHECKING:
    from oncall_tui.core.analysis import Analysis
    from oncall_tui.core.models import Finding
    from oncall_tui.sources.live_traces import LiveEntry, LiveStats, LiveTraces
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

TICK_S = 0.25  # how often pending traces are checked for their quiet period
REPAINT_S = 0.25  # at most this often the list is redrawn (4 Hz)
#: Rows listed; older settled traces stay held (the header counts them). A
#: repaint formats only new or changed rows and paints only those in view.
MAX_ROWS = 200
#: Under a flood a repaint may take at most this share of the UI thread: the
#: next waits BUSY_FACTOR times as long as the last took (receivers share the GIL).
BUSY_FACTOR = 9
COLUMNS = ("trace", "root", "spans", "took", "req", "", "findings")
#: Fixed widths; root takes what is left after findings' minimum, then both grow.
WIDTHS = {"trace": 8, "spans": 5, "took": 5, "req": 3, "": 3}
FINDINGS_MIN = 26  # "⟲ reentrancy_cycle high +2"
SHORT_SEVERITY = {"critical": "crit", "medium": "med"}  # below WIDE
ROOT_MIN = 14
WIDE = 100  # below this the requests column goes (findings, root, spans, took come first)


def start_listener(port: int) -> tuple[LiveTraces, OtlpReceiver]:
    """A store and a started receiver on 127.0.0.1:``port`` with the listen
    defaults (the palette's listener); OSError when the port is taken."""
    from oncall_tui.sources.live_traces import LiveTraces
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

    live = LiveTraces()
    receiver = OtlpReceiver(
        lambda traces, _lines: live.add(traces),
        port=port,
        keep_lines=False,
        on_events=lambda batch, _lines: live.add_events(batch),
    )
    receiver.start()
    return live, receiver


def took(ns: int | None) -> str:
    """A duration in at most 5 characters: 940ms, 12.3s, 4m05s, 42m, 3h."""
    ms = (ns or 0) / 1e6
    if ms < 999.5:
        return f"{ms:.0f}ms"
    if ms < 59_950:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 10:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes}m" if minutes < 100 else f"{minutes // 60}h"


def findings_cell(analysis: Analysis, width: int, *, short: bool = False) -> Text:
    """The worst findings, worst first: ``⟲ reentrancy_cycle high +2``
    (``short``: severities in at most 4 letters). The worst one's severity
    and the count of the others always show; its kind is cut to fit."""
    findings = analysis.findings  # sorted worst first by the engine
    out = Text()
    if analysis.cycles:
        out.append("⟲ ", style="bold red")
    if not findings:
        out.append("-", style="dim")
        return out

    def severity(f: Finding) -> str:
        return SHORT_SEVERITY.get(f.severity, f.severity) if short else f.severity

    def tail(shown: int) -> str:
        return f" +{len(findings) - shown}" if len(findings) > shown else ""

    worst = findings[0]
    room = width - out.cell_len - len(severity(worst)) - 1 - len(tail(1))
    out.append(safe(worst.kind, max(room, 1)), style=SEVERITY_STYLE.get(worst.severity, ""))
    out.append(f" {severity(worst)}", style=SEVERITY_STYLE.get(worst.severity, ""))
    shown = 1
    for f in findings[1:]:
        piece = f", {safe(f.kind, 30)} {severity(f)}"
        if out.cell_len + len(piece) + len(tail(shown + 1)) > width:
            break
        out.append(", ")
        out.append(piece[2:], style=SEVERITY_STYLE.get(f.severity, ""))
        shown += 1
    out.append(tail(shown), style="dim")
    return out


def flags_cell(entry: LiveEntry) -> Text:
    """↻N updated N times; … reopened by a late span; ⤷ ran inside another trace."""
    out = Text()
    if not entry.settled:
        out.append("…", style="yellow")
    if entry.updates:
        out.append(f"↻{entry.updates}", style="cyan")
    if entry.inside_trace_id:
        out.append("⤷", style="magenta")
    return out


def header_text(url: str, live: LiveTraces, stats: LiveStats, shown: int) -> Text:
    """Where it listens, what came in and what is held; a third line, in red,
    only once the bounds have evicted something."""
    out = Text()
    out.append("listening ", style="bold")
    out.append(safe(url, 60))
    out.append(f" · quiet {live.quiet_s:g}s\n")
    out.append(
        f"received {stats.received_requests:,} req {stats.received_spans:,} spans · "
        f"held {stats.held_traces:,} traces {stats.held_spans:,} spans"
    )
    if stats.received_events:
        out.append(f" · {stats.received_events:,} events (logs)")
    if stats.pending_traces:
        out.append(f" · pending {stats.pending_traces:,}", style="yellow")
    if stats.settled_traces > shown:
        out.append(f" · newest {shown:,} listed", style="dim")
    if stats.evicted_traces or stats.evicted_spans or stats.evicted_events:
        events = f" {_n(stats.evicted_events, 'event')}" if stats.evicted_events else ""
        out.append(
            f"\nevicted {_n(stats.evicted_traces, 'trace')} {_n(stats.evicted_spans, 'span')}"
            f"{events} (held at most {live.max_traces:,} traces, {live.max_spans:,} spans)",
            style="bold red",
        )
    return out


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class LiveScreen(Screen[None]):
    AUTO_FOCUS = "#live"
    BINDINGS = [Binding("escape", "back", "Back", id="live.back")]

    def __init__(self, live: LiveTraces, url: str, *, closable: bool = True) -> None:
        super().__init__()
        self.live = live
        self.url = url
        # Under `trace listen --tui` this is the console's only screen: no Back.
        self.closable = closable
        self.painted_version = -1
        self.repaints = 0  # how many times the list was redrawn (tests bound it)
        self._ticking = False
        self._tick_error: str | None = None
        self._width = 0
        self._next_paint = 0.0
        # trace id -> (the entry, screen width, its cells): entries are frozen,
        # so a row is only formatted again when its entry was replaced (the
        # list keeps its drawn line while the cells object is the same).
        self._row_cache: dict[str, tuple[LiveEntry, int, tuple[Text, ...]]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="live-header", markup=False)
        yield LiveList(id="live")
        yield Static("", id="live-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._repaint()
        self.set_interval(TICK_S, self._tick)
        self.set_interval(REPAINT_S, self._repaint_if_moved)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.closable if action == "back" else True

    def action_back(self) -> None:
        if self.closable:
            self.app.pop_screen()

    # ------------------------------------------------------------- ticking

    def _tick(self) -> None:
        """Settle and analyse in a thread; a tick still running is not doubled."""
        if self._ticking:
            return
        self._ticking = True
        self.run_worker(
            self._tick_in_thread,
            name="live tick",
            description="live tick",
            group="live-tick",
            exit_on_error=False,
            thread=True,
        )

    def _tick_in_thread(self) -> None:
        try:
            self.live.tick()
            self._tick_error = None
        except Exception as exc:  # an engine bug on one trace: say so, keep listening
            self._tick_error = f"settling failed: {type(exc).__name__}: {exc}"
        finally:
            self._ticking = False

    # ------------------------------------------------------------ painting

    def on_resize(self) -> None:
        self.painted_version = -1  # column widths follow the terminal
        self._repaint_if_moved()

    def _repaint_if_moved(self) -> None:
        if time.monotonic() < self._next_paint:
            return
        moved = self.live.version != self.painted_version or self.size.width != self._width
        if moved or self._tick_error:
            started = time.monotonic()
            self._repaint()
            self._next_paint = started + BUSY_FACTOR * (time.monotonic() - started)

    def _columns(self) -> tuple[str, ...]:
        return COLUMNS if self.size.width >= WIDE else tuple(c for c in COLUMNS if c != "req")

    def _widths(self) -> dict[str, int]:
        # Each column pads one cell either side; the scrollbar takes two.
        columns = self._columns()
        fixed = sum(WIDTHS.get(c, 0) for c in columns)
        free = self.size.width - 2 * len(columns) - 2 - fixed
        root = max(ROOT_MIN, free - FINDINGS_MIN if free < 80 else free // 2)
        return {**WIDTHS, "root": root, "findings": max(FINDINGS_MIN, free - root)}

    def _repaint(self) -> None:
        version = self.live.version  # read first: a change during the repaint shows next time
        entries = self.live.entries()[:MAX_ROWS]
        stats = self.live.stats()
        self.query_one("#live-header", Static).update(
            header_text(self.url, self.live, stats, len(entries))
        )
        widths = self._widths()
        columns = self._columns()
        cache: dict[str, tuple[LiveEntry, int, tuple[Text, ...]]] = {}
        rows = []
        for e in entries:
            hit = self._row_cache.get(e.trace_id)
            if hit is not None and hit[0] is e and hit[1] == self.size.width:
                cells = hit[2]
            else:
                formatted = self._cells(e, widths)
                cells = tuple(formatted[c] for c in columns)
            cache[e.trace_id] = (e, self.size.width, cells)
            rows.append((e.trace_id, cells))
        self._row_cache = cache
        self.query_one("#live", LiveList).show(rows, columns, tuple(widths[c] for c in columns))
        self._width = self.size.width
        self.painted_version = version
        self.repaints += 1
        self._status(entries, stats)

    def _cells(self, e: LiveEntry, widths: dict[str, int]) -> dict[str, Text]:
        s = e.analysis.summary
        # Every cell is a Text (a str cell would be parsed as markup) and every
        # piece of trace text goes through safe(): it is hostile.
        return {
            "trace": Text(safe(e.trace_id[:8]), style="dim"),
            "root": Text(safe(s.root_name or "-", widths["root"])),
            "spans": Text(f"{len(e.trace.spans):,}", justify="right"),
            "took": Text(took(s.duration_ns), justify="right"),
            "req": Text(str(e.requests), justify="right"),
            "": flags_cell(e),
            "findings": findings_cell(e.analysis, widths["findings"], short=self.size.width < WIDE),
        }

    def _status(self, entries: list[LiveEntry], stats: LiveStats) -> None:
        if self._tick_error:
            error = Text(safe(self._tick_error, 200), style="red")
            self.query_one("#live-status", Static).update(error)
            return
        if entries:
            text = "newest first; enter opens a trace; ↻ updated, … reopened, ⤷ ran inside another"
        elif stats.received_requests:
            text = f"{stats.pending_traces} trace(s) waiting {self.live.quiet_s:g}s for quiet…"
        else:
            text = "nothing yet: OTEL_EXPORTER_OTLP_ENDPOINT=" + safe(
                self.url.removesuffix("/v1/traces"), 60
            )
        self.query_one("#live-status", Static).update(Text(text, style="dim"))

    # ---------------------------------------------------------------- open

    def on_live_list_selected(self, event: LiveList.Selected) -> None:
        event.stop()
        from oncall_tui.tui.trace_screen import TraceScreen

        entry = self.live.get(event.key)
        if entry is None:
            self.notify("that trace was evicted (--max-traces, --max-spans)", severity="warning")
            return
        # The store analysed it when it settled: no second analysis here.
        self.app.push_screen(TraceScreen(entry.trace, entry.analysis))
