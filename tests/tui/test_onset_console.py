"""The console answers "since when, and after what?": each finding line on
the overview carries its trend over the last hour and, once the rate rose,
"since HH:MM (after <the change just before>)"; `o` opens the selected
route's timeline, finding rates and changes on one time axis.

The store (tests/tui/onset_fleet.py) holds an hour of traces in which a tool
description changes at 07:37:30 and half the traces loop from 07:40.
"""

from __future__ import annotations

from datetime import timedelta

from oncall_tui.core.onset import bucket_starts
from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery
from oncall_tui.errors import UnreachableError
from oncall_tui.sources.onset_sampling import window_from_traces
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.onset_fetch import OnsetResult
from oncall_tui.tui.overview import OverviewScreen
from oncall_tui.tui.timeline_screen import TimelineScreen, timeline_text
from tests.tui.fakes import CLOCK, EVIL, FixedGateway, overview_painted
from tests.tui.onset_fleet import ROUTE, OnsetStore, fleet

NS = 1_000_000_000
SPARK = "▁▁▁▁▁▁▁████"  # 07:05..07:35 clean, 07:40..07:55 at 50% (08:00: nothing yet)


def _app(store: OnsetStore, flags: dict[str, object] | None = None) -> OncallApp:
    return OncallApp(
        gateway=FixedGateway(),
        gateway_name="sim",
        store=store,
        clock=lambda: CLOCK,
        flag_sources=flags,
    )


async def _onset_shown(pilot, tries: int = 200) -> OverviewScreen:
    await overview_painted(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, OverviewScreen)
    for _ in range(tries):
        if (screen.onset is not None or screen.onset_error) and screen.finding_groups:
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("no onset window and findings")
    await pilot.pause(0.7)  # one repaint
    return screen


def _alerts(screen: OverviewScreen) -> str:
    return " ".join(screen.alerts_text.plain.split())


async def test_finding_line_shows_its_trend_and_since_when_after_what() -> None:
    async with _app(OnsetStore(fleet())).run_test(size=(160, 48)) as pilot:
        screen = await _onset_shown(pilot)
        line = next(ln for ln in screen.alerts_text.plain.splitlines() if "reentrancy" in ln)
        assert line.startswith(f"[high] {SPARK} reentrancy_cycle in 16 of 88 recent traces"), line
        assert (
            "(support-chat), since 07:40 (after tool lookup_order's description changed"
            " (hash eb26 -> 1911))  → runbook tool-reentrancy-loop" in line
        ), line


async def test_the_cause_is_cut_to_two_rows_at_80_columns() -> None:
    async with _app(OnsetStore(fleet())).run_test(size=(80, 24)) as pilot:
        screen = await _onset_shown(pilot)
        line = next(ln for ln in screen.alerts_text.plain.splitlines() if "reentrancy" in ln)
        assert "since 07:40 (after tool lookup_order's" in line, line
        assert line.endswith("→ runbook tool-reentrancy-loop"), line
        assert len(line) <= 2 * 80, line


async def test_a_store_failure_is_one_line_not_a_crash() -> None:
    store = OnsetStore(fleet(), fail=UnreachableError("store.local:9 refused the connection"))
    async with _app(store).run_test(size=(160, 48)) as pilot:
        await overview_painted(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, OverviewScreen)
        for _ in range(100):
            if screen.onset_error:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.7)
        assert "onset window: store.local:9 refused the connection" in _alerts(screen)
        await pilot.press("o")
        assert isinstance(pilot.app.screen, TimelineScreen)
        title = str(pilot.app.screen.query_one("#timeline-method").render())
        assert "refresh failed: store.local:9 refused the connection" in title


def _columns(lines: list[str]) -> tuple[int, int, str, str]:
    """(column of the change's ▲, of the onset's ↑, the bars row, the axis row)."""
    bars = next(ln for ln in lines if ln.startswith("reentrancy_cycle"))
    changes = next(ln for ln in lines if ln.startswith("changes"))
    arrow = next(ln for ln in lines if "↑ onset" in ln)
    axis = next(ln for ln in lines if ln.startswith("UTC"))
    return changes.index("▲"), arrow.index("↑"), bars, axis


async def test_timeline_puts_the_change_and_the_onset_at_their_buckets() -> None:
    """07:37:30 falls in the 07:35 bucket, the onset in the next one (07:40)."""
    async with _app(OnsetStore(fleet())).run_test(size=(80, 24)) as pilot:
        await _onset_shown(pilot)
        await pilot.press("o")
        screen = pilot.app.screen
        assert isinstance(screen, TimelineScreen) and screen.route == ROUTE
        lines = screen.body_text().plain.splitlines()
        change, onset, bars, axis = _columns(lines)
        # The ▲ sits on the separator before the 07:35 bar, whose time is
        # printed right after it; the │ runs up through the kind's row there.
        assert axis[change + 1 : change + 6] == "07:35", (axis, change)
        assert bars[change] == "│"
        cell = onset - change - 1  # the onset is the next bucket's bar
        assert bars[onset] == "█" and bars[onset - cell] == "▁", bars
        assert "0% -> 50%" in lines[lines.index(bars) + 1]
        assert any("07:37  tool_definition  tool lookup_order's description" in ln for ln in lines)
        method = str(screen.query_one("#timeline-method").render())
        assert "sampled up to 20 traces per route per 5m bucket (88 analysed" in method
        chart = lines[: lines.index("")]  # the legend below wraps; the axis must not
        assert all(len(ln) <= 80 for ln in chart), chart


def test_buckets_are_pooled_when_they_outnumber_the_columns() -> None:
    """Six hours of 5 min buckets (72) at 80 columns: two buckets a column,
    one character each; the change and the onset still land on their columns."""
    traces = fleet(buckets=71)
    until = int(CLOCK.timestamp() * NS) + 300 * NS
    query = OnsetQuery(since_ns=until - 6 * 3600 * NS, until_ns=until, bucket_ns=300 * NS)
    window = window_from_traces(traces, query)
    from oncall_tui.core.onset import onsets

    result = OnsetResult(window, onsets(window))
    assert len(bucket_starts(window)) == 72
    lines = timeline_text(result, ROUTE, 78).plain.splitlines()
    chart = lines[: lines.index("")]
    assert all(len(ln) <= 78 for ln in chart), chart
    assert any("each column pools 2 buckets of 5 min" in ln for ln in lines)
    change, onset, bars, axis = _columns(lines)
    # Columns start at 02:05, ten minutes each: 07:35 and 07:40 share column
    # 33, so the change's ▲ and the onset's ↑ stand on it, and its bar is
    # the first raised one (0% and 50% pooled: half height).
    left = bars.index("▁")
    assert change == onset == left + 33, (change, onset, bars)
    assert set(bars[left:change]) == {"▁"} and bars[change] == "▅", bars
    assert axis[left + 30 : left + 35] == "07:05", axis  # 07:05 starts column 30


async def test_hostile_tool_names_in_changes_are_shown_inert() -> None:
    async with _app(OnsetStore(fleet(tool="lookup" + EVIL))).run_test(size=(160, 48)) as pilot:
        await _onset_shown(pilot)
        await pilot.press("o")
        text = pilot.app.screen.body_text().plain
        assert "\x1b" not in text and "\x07" not in text
        assert "[bold]boom[/bold]" in text  # literal, not markup
        assert "\x1b" not in pilot.app.screen.query_one("#timeline-text").render().plain  # type: ignore[attr-defined]


def test_an_onset_near_the_right_edge_points_from_the_left() -> None:
    """At 60 columns the 07:40 bar is too far right for the note after the
    arrow: the note ends at the arrow instead, whole."""
    from oncall_tui.core.onset import onsets

    until = int(CLOCK.timestamp() * NS) + 300 * NS
    query = OnsetQuery(since_ns=until - 3600 * NS, until_ns=until, bucket_ns=300 * NS)
    window = window_from_traces(fleet(), query)
    lines = timeline_text(OnsetResult(window, onsets(window)), ROUTE, 60).plain.splitlines()
    bars = next(ln for ln in lines if ln.startswith("reentrancy_cycle"))
    note = lines[lines.index(bars) + 1]
    assert note.rstrip().endswith("onset 07:40: 0% -> 50% ↑"), note
    arrow = note.index("↑")
    assert bars[arrow] == "█" and len(note.rstrip()) <= 60


async def test_a_kind_new_to_the_window_brings_the_next_refresh_forward(monkeypatch) -> None:
    """The window is computed every minute; when the last minute's sweep
    finds a kind the window has not seen, it is recomputed at once (at most
    every ONSET_SOON_S), so the new line gets its trend and cause without
    waiting out the minute."""
    from oncall_tui.tui import overview

    monkeypatch.setattr(overview, "TRACE_SWEEP_S", 0.5)
    monkeypatch.setattr(overview, "ONSET_SOON_S", 0.0)
    traces = fleet()
    store = OnsetStore(traces[:56])  # up to 07:40: no loop yet
    async with _app(store).run_test(size=(160, 48)) as pilot:
        await overview_painted(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, OverviewScreen)
        for _ in range(200):
            if screen.onset is not None:
                break
            await pilot.pause(0.05)
        assert screen.onset is not None and not screen.onset.onsets
        store.traces = traces  # the loop starts
        for _ in range(300):
            if screen.onset is not None and screen.onset.onsets:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.7)
        assert "since 07:40 (after tool lookup_order's" in _alerts(screen)


async def test_an_onset_the_last_minute_did_not_show_gets_its_own_line(monkeypatch) -> None:
    """The panel shows the last minute's findings; an onset of a kind it does
    not show (here: no finding lines at all) still gets a line of its own."""
    from oncall_tui.tui import overview

    monkeypatch.setattr(overview, "FINDING_LINES", 0)
    async with _app(OnsetStore(fleet())).run_test(size=(160, 48)) as pilot:
        screen = await _onset_shown(pilot)
        line = next(ln for ln in screen.alerts_text.plain.splitlines() if "reentrancy" in ln)
        assert line.startswith(
            f"[onset] {SPARK} reentrancy_cycle on support-chat 0% -> 50%, since 07:40 (after tool"
        ), line


class FlagLog:
    """A flag service that lists its events (the `FlagEvents` capability),
    as Unleash's adapter does; ``fail`` makes every read fail."""

    def __init__(self, events: list[ChangeEvent], fail: Exception | None = None) -> None:
        self.events = events
        self.fail = fail
        self.asked: list[tuple[int, int]] = []

    async def flag_events(self, since_ns: int, until_ns: int) -> list[ChangeEvent]:
        self.asked.append((since_ns, until_ns))
        if self.fail is not None:
            raise self.fail
        return [e for e in self.events if since_ns <= e.at_ns < until_ns]


def _flag_flip(minutes_before_clock: int) -> ChangeEvent:
    at = CLOCK - timedelta(minutes=minutes_before_clock)
    return ChangeEvent(int(at.timestamp() * NS), "flag", "ai-support-chat", ROUTE, "on", "off")


async def test_a_flag_flipped_just_before_the_rise_is_named_as_in_the_cli() -> None:
    """`trace onset` reads the flag service's event log; the console's
    overview does too: a flag flipped at 07:39, after the tool change at
    07:37:30, is the nearest change before the 07:40 onset."""
    flags = FlagLog([_flag_flip(21)])  # 07:39
    async with _app(OnsetStore(fleet()), {"unleash": flags}).run_test(size=(160, 48)) as pilot:
        screen = await _onset_shown(pilot)
        line = next(ln for ln in screen.alerts_text.plain.splitlines() if "reentrancy" in ln)
        assert "since 07:40 (after flag ai-support-chat changed (on -> off))" in line, line
        assert flags.asked, "the flag service was asked for its events"
        since, until = flags.asked[0]
        assert since <= int(CLOCK.timestamp() * NS) - 3600 * NS < until


async def test_a_flag_service_that_fails_leaves_its_changes_out_and_says_so() -> None:
    flags = FlagLog([], fail=UnreachableError("flags.local:4242 refused the connection"))
    async with _app(OnsetStore(fleet()), {"unleash": flags}).run_test(size=(160, 48)) as pilot:
        screen = await _onset_shown(pilot)
        text = _alerts(screen)
        assert "since 07:40 (after tool lookup_order's description changed" in text, text
        assert (
            "onset changes: flags unleash: flags.local:4242 refused the connection: left out"
            in text
        ), text
