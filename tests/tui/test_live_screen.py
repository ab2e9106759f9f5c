"""The live screen (``trace listen --tui``, the palette's "Live traces"):
traces listed as they settle, newest first, with their findings; the list
keeps its selection and keeps updating under a trace screen; repaints are
bounded. Fed directly (a fake clock), through a real receiver (httpx posting
OTLP/JSON), and by the real OTel SDK exporter.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from oncall_tui.cli.main import build_parser
from oncall_tui.cli.trace_store_cmd import listening
from oncall_tui.core.models import Trace
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.sources.live_traces import LiveTraces
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.live_list import LiveList
from oncall_tui.tui.live_screen import MAX_ROWS, LiveScreen
from oncall_tui.tui.trace_screen import TraceScreen
from tests.builders import TraceBuilder
from tests.tui.fakes import EVIL
from tests.tui.test_console import screen_text

pytestmark = pytest.mark.timeout(60)


def agent_trace(n: int, *, name: str = "planner", reentrant: bool = True) -> Trace:
    """Trace ``n`` (id ``{n:02x}`` repeated), an agent whose tool calls the
    model that calls the same tool again; each starts 100 s after the last
    so that none overlaps another (no stitching)."""
    b = TraceBuilder(trace_id=f"{n:02x}" * 16)
    base = n * 100_000
    agent = b.agent(name, start=base, end=base + 1000)
    m1 = b.model(agent, base, base + 900)
    if reentrant:
        a1 = b.tool("lookup", m1, base + 10, base + 890)
        m2 = b.model(a1, base + 20, base + 880)
        b.tool("lookup", m2, base + 30, base + 870)
    return b.trace()


def tid(n: int) -> str:
    return f"{n:02x}" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def live_app(live: LiveTraces, *, url: str = "http://127.0.0.1:4318/v1/traces") -> OncallApp:
    class _Receiver:  # what the screen needs of a receiver: its address
        pass

    receiver = _Receiver()
    receiver.url = url  # type: ignore[attr-defined]
    return OncallApp(live=(live, receiver))


async def settle(pilot, clock: Clock | None = None, quiet_s: float = 2.0) -> None:
    """Move the fake clock past the quiet period; wait until the screen has
    ticked and painted what settled (polled: a loaded machine is slow, not wrong)."""
    if clock is not None:
        clock.now += quiet_s + 0.1
    app = pilot.app
    [screen] = [s for s in app.screen_stack if isinstance(s, LiveScreen)]
    live = screen.live
    await pilot.pause(0.3)
    for _ in range(100):
        if not live.stats().pending_traces and screen.painted_version == live.version:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.05)


async def until(pilot, ready, timeout: float = 10.0) -> None:
    """Real time (a real receiver, the default quiet period): poll, then one
    more pause for the repaint that follows."""
    for _ in range(int(timeout / 0.05)):
        if ready():
            break
        await pilot.pause(0.05)
    await pilot.pause(0.05)


def rows(screen: LiveScreen) -> list[str]:
    """The trace ids listed, top to bottom."""
    return [key for key, _cells in screen.query_one("#live", LiveList).rows]


def selected(screen: LiveScreen) -> str:
    return str(screen.query_one("#live", LiveList).selected_key())


async def test_traces_appear_newest_first_once_settled_with_their_findings() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        assert "nothing yet: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" in screen_text(app)
        live.add([agent_trace(1)])
        await pilot.pause(0.7)
        assert rows(screen) == [], "not listed before its quiet period"
        assert "pending 1" in screen_text(app)
        await settle(pilot, clock)
        live.add([agent_trace(2, reentrant=False)])
        await settle(pilot, clock)
        assert rows(screen) == [tid(2), tid(1)]
        text = screen_text(app)
        assert "⟲ reentrancy_cycle" in text, "the cycle and its finding in the row"
        assert "held 2 traces" in text and "received 2 req" in text
        assert "evicted" not in text, "no evicted count while nothing was evicted"
        assert "esc Back" not in text, "the console's only screen: nothing to go back to"


async def test_a_late_span_marks_the_trace_updated_and_the_selection_stays_put() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        whole = agent_trace(1)
        first, late = whole.spans[:-1], whole.spans[-1:]
        live.add([msgspec.structs.replace(whole, spans=first)])
        live.add([agent_trace(2)])
        await settle(pilot, clock)
        assert rows(screen) == [tid(2), tid(1)] or rows(screen) == [tid(1), tid(2)]
        table = screen.query_one("#live")
        table.move_cursor(row=rows(screen).index(tid(1)))
        await pilot.pause()
        live.add([msgspec.structs.replace(whole, spans=late)])
        live.add([agent_trace(3)])
        await settle(pilot, clock)
        assert rows(screen)[0] in {tid(1), tid(3)}
        assert selected(screen) == tid(1), "the selection follows its trace, not its row"
        entry = live.get(tid(1))
        assert (
            entry is not None and entry.updates == 1 and len(entry.trace.spans) == len(whole.spans)
        )
        row = next(
            line for line in screen_text(app).splitlines() if line.strip().startswith("01010101")
        )
        assert "↻1" in row
        assert screen.focused is screen.query_one("#live")


async def test_enter_opens_the_trace_and_the_list_keeps_updating_underneath() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        live_screen = app.screen
        assert isinstance(live_screen, LiveScreen)
        live.add([agent_trace(1)])
        await settle(pilot, clock)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TraceScreen)
        assert "reentrancy_cycle" in {f.kind for f in app.screen.analysis.findings}
        assert "1 ⟲" in screen_text(app)
        # While the trace is read, new traces settle and the list follows.
        live.add([agent_trace(2)])
        await settle(pilot, clock)
        assert isinstance(app.screen, TraceScreen), "nothing steals the screen"
        assert rows(live_screen) == [tid(2), tid(1)]
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert app.screen is live_screen
        assert selected(live_screen) == tid(1), "back where you were"
        assert "02020202" in screen_text(app)


async def test_evicted_counts_are_shown() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, max_traces=2, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        for n in (1, 2, 3):
            clock.now += 1
            live.add([agent_trace(n)])
        await settle(pilot, clock)
        text = screen_text(app)
        assert "evicted 1 trace 5 spans" in text
        assert rows(app.screen) == [tid(3), tid(2)] or set(rows(app.screen)) == {tid(2), tid(3)}


async def test_past_the_row_limit_the_newest_are_listed_and_the_header_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oncall_tui.tui import live_screen

    monkeypatch.setattr(live_screen, "MAX_ROWS", 3)
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        for n in range(1, 6):
            live.add([agent_trace(n)])
            await settle(pilot, clock)
        assert rows(app.screen) == [tid(5), tid(4), tid(3)]
        assert "held 5 traces" in screen_text(app) and "newest 3 listed" in screen_text(app)


async def test_hostile_names_are_shown_inert() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(160, 48)) as pilot:
        live.add([agent_trace(1, name=EVIL)])
        await settle(pilot, clock)
        text = screen_text(app)
        assert "\\x1b]0;pwned" in text, "the escape shows as text"
        assert "\x1b" not in text and "\x07" not in text


async def test_a_burst_of_adds_repaints_at_a_bounded_rate() -> None:
    live = LiveTraces(quiet_s=0.0)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        await pilot.pause(0.3)
        before = screen.repaints
        started = time.monotonic()
        for n in range(1, 201):
            live.add([agent_trace(n % 250, reentrant=n % 2 == 0)])
            await asyncio.sleep(0.005)
        for _ in range(100):  # the last repaint may wait out a slow one before it
            await pilot.pause(0.05)
            if screen.painted_version == live.version and len(rows(screen)) == MAX_ROWS:
                break
        elapsed = time.monotonic() - started
        repaints = screen.repaints - before
        assert live.version > 200, "every add moved the version"
        assert repaints <= elapsed / 0.25 + 3, (repaints, elapsed)
        assert repaints < 50, "far fewer repaints than adds"
        assert len(rows(screen)) == MAX_ROWS  # the newest; the rest stay held


def _body(trace: Trace) -> bytes:
    return msgspec.json.encode(traces_data(trace.spans))


def _args(tmp_path: Path, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(
        port=0,
        save=str(tmp_path / "got.jsonl"),
        quiet_s=0.3,
        max_traces=100,
        max_spans=10_000,
        max_body=1 << 20,
        **extra,
    )


async def test_a_trace_posted_over_several_requests_to_a_real_receiver_is_one_row(
    tmp_path: Path,
) -> None:
    with listening(_args(tmp_path)) as (live, receiver):
        app = OncallApp(live=(live, receiver))
        async with app.run_test(size=(160, 48)) as pilot, httpx.AsyncClient() as client:
            whole = agent_trace(1)
            for part in (whole.spans[:2], whole.spans[2:4], whole.spans[4:]):
                piece = msgspec.structs.replace(whole, spans=part)
                r = await client.post(
                    receiver.url,
                    content=_body(piece),
                    headers={"content-type": "application/json"},
                )
                assert r.status_code == 200
            screen = app.screen
            assert isinstance(screen, LiveScreen)
            await until(pilot, lambda: rows(screen) == [tid(1)])
            assert rows(screen) == [tid(1)]
            row = next(line for line in screen_text(app).splitlines() if "01010101" in line)
            assert "⟲ reentrancy_cycle" in row and " 3 " in row, row  # 3 requests
            assert receiver.url in screen_text(app)
    assert (tmp_path / "got.jsonl").read_text().count("\n") == 3, "--save under --tui too"


async def test_the_real_otel_sdk_exporter_yields_one_trace_with_its_cycle(tmp_path: Path) -> None:
    from tests.unit.test_otlp_receiver_sdk import run_reentrant_agent

    with listening(_args(tmp_path)) as (live, receiver):
        app = OncallApp(live=(live, receiver))
        async with app.run_test(size=(80, 24)) as pilot:
            trace_id = await asyncio.to_thread(run_reentrant_agent, "protobuf", receiver.url)
            screen = app.screen
            assert isinstance(screen, LiveScreen)
            await until(pilot, lambda: rows(screen) == [trace_id])
            assert rows(screen) == [trace_id]
            assert "⟲ reentrancy_cycle" in screen_text(app)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert isinstance(app.screen, TraceScreen)
            assert len(app.screen.analysis.cycles) == 1


async def test_the_palette_starts_a_listener_and_closes_it_on_exit() -> None:
    app = OncallApp(problem="nothing configured", live_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Live traces: listen for OTLP on 127.0.0.1:0" in titles
        app.open_live()
        await pilot.pause(0.3)
        assert isinstance(app.screen, LiveScreen)
        assert app.live is not None
        url = app.live[1].url
        async with httpx.AsyncClient() as client:
            r = await client.post(
                url, content=_body(agent_trace(1)), headers={"content-type": "application/json"}
            )
            assert r.status_code == 200
        await until(pilot, lambda: rows(app.screen) == [tid(1)])  # the default quiet: 2 s
        assert rows(app.screen) == [tid(1)]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LiveScreen), "opened from the console: esc goes back"
    with pytest.raises(httpx.TransportError):
        httpx.post(url, content=b"{}", timeout=2)


async def test_a_busy_port_is_one_line_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = OncallApp(problem="nothing configured", live_port=port)
        async with app.run_test(size=(80, 24)) as pilot:
            app.open_live()
            await pilot.pause()
            assert not isinstance(app.screen, LiveScreen)
            [note] = app._notifications
            assert f"cannot listen on 127.0.0.1:{port}" in note.message
            assert "\n" not in note.message


def test_trace_listen_tui_runs_the_live_screen_over_the_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "got.jsonl"
    args = build_parser().parse_args(
        ["trace", "listen", "--tui", "--port", "0", "--quiet-s", "0.2", "--save", str(saved)]
    )
    assert args.tui
    seen: dict[str, object] = {}

    async def drive(app: OncallApp) -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.live is not None
            url = app.live[1].url
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    url,
                    content=_body(agent_trace(1)),
                    headers={"content-type": "application/json"},
                )
                assert r.status_code == 200
            await until(pilot, lambda: rows(app.screen) == [tid(1)])
            seen["screen"] = type(app.screen).__name__
            seen["rows"] = rows(app.screen)

    monkeypatch.setattr(OncallApp, "run", lambda self: asyncio.run(drive(self)))
    assert args.func(args) == 0
    assert seen == {"screen": "LiveScreen", "rows": [tid(1)]}
    assert saved.read_text().count("\n") == 1


def test_trace_listen_tui_refuses_json() -> None:
    from oncall_tui.errors import UsageError

    args = build_parser().parse_args(["trace", "listen", "--tui", "--json", "--port", "0"])
    with pytest.raises(UsageError, match="--tui"):
        args.func(args)


def test_the_findings_cell_keeps_the_worst_severity_and_the_count_when_cut() -> None:
    from oncall_tui.core.analysis import analyze
    from oncall_tui.core.models import Finding
    from oncall_tui.tui.live_screen import findings_cell

    analysis = analyze(agent_trace(1))
    many = [
        Finding("hidden_reasoning_latency", "high", "x"),
        Finding("retry_amplification", "medium", "y"),
        Finding("flight_recorder_gaps", "info", "z"),
    ]
    cell = findings_cell(msgspec.structs.replace(analysis, findings=many), 25, short=True)
    assert cell.plain == "⟲ hidden_reasoni… high +2" and cell.cell_len == 25
    wide = findings_cell(msgspec.structs.replace(analysis, findings=many), 86)
    assert wide.plain == (
        "⟲ hidden_reasoning_latency high, retry_amplification medium, flight_recorder_gaps info"
    )
    hostile = [Finding("\x1b[2Jboom", "low", "x")]
    assert (
        "\x1b" not in findings_cell(msgspec.structs.replace(analysis, findings=hostile), 25).plain
    )
    none = findings_cell(msgspec.structs.replace(analysis, findings=[], cycles=[]), 25)
    assert none.plain == "-"


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(0.4, "0ms"), (999.4, "999ms"), (999.6, "1.0s"), (59_940, "59.9s"), (59_960, "1m00s"),
     (599_000, "9m59s"), (600_000, "10m"), (6_000_000, "1h"), (5_990_000, "99m")],
)  # fmt: skip
def test_durations_fit_the_took_column(ms: float, shown: str) -> None:
    from oncall_tui.tui.live_screen import took

    assert took(int(ms * 1e6)) == shown and len(shown) <= 5


async def test_the_palette_never_opens_a_second_ticker_over_the_same_store() -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        live.add([agent_trace(1)])
        await settle(pilot, clock)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TraceScreen)
        app.open_live()
        await pilot.pause()
        assert sum(isinstance(s, LiveScreen) for s in app.screen_stack) == 1
        assert isinstance(app.screen, TraceScreen)
        assert any("already open" in n.message for n in app._notifications)


async def test_a_failing_settle_is_said_in_the_status_line_and_listening_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    real_tick = live.tick

    def broken(now: float | None = None) -> list:
        raise RuntimeError("boom\x1b[2J")

    async with app.run_test(size=(80, 24)) as pilot:
        monkeypatch.setattr(live, "tick", broken)
        live.add([agent_trace(1)])
        await settle(pilot, clock)
        text = screen_text(app)
        assert "settling failed: RuntimeError: boom\\x1b[2J" in text
        assert "\x1b" not in text
        monkeypatch.setattr(live, "tick", real_tick)
        await pilot.pause(0.7)
        assert rows(app.screen) == [tid(1)] and "settling failed" not in screen_text(app)


async def test_cursor_keys_move_the_highlight_and_keep_it_in_view() -> None:
    """More traces than the screen holds: end reaches the oldest listed and
    scrolls to it, home the newest, page keys a screenful; a trace landing on
    top does not move the highlight off what you were reading."""
    clock = Clock()
    live = LiveTraces(quiet_s=2.0, clock=clock)
    app = live_app(live)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        live.add([agent_trace(n) for n in range(1, 41)])
        await settle(pilot, clock)
        listed = rows(screen)
        assert len(listed) == 40
        await pilot.press("end")
        await pilot.pause()
        assert selected(screen) == listed[-1]
        assert listed[-1][:8] in screen_text(app), "scrolled to the highlight"
        assert listed[0][:8] not in screen_text(app)
        await pilot.press("up", "up")
        await pilot.pause()
        assert selected(screen) == listed[-3]
        live.add([agent_trace(41)])
        await settle(pilot, clock)
        assert rows(screen)[0] == tid(41)
        assert selected(screen) == listed[-3], "a new trace on top moves nothing"
        await pilot.press("home")
        await pilot.pause()
        assert selected(screen) == tid(41) and "29292929" in screen_text(app)
        await pilot.press("pagedown")
        await pilot.pause()
        page = rows(screen).index(selected(screen))
        assert page > 5 and selected(screen)[:8] in screen_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert rows(screen).index(selected(screen)) == page + 1
        await pilot.press("pageup")
        await pilot.pause()
        assert rows(screen).index(selected(screen)) < page
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TraceScreen)
