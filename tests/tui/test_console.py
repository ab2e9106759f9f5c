"""The console driven as a responder would: keyboard only, 80x24."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time

import pytest

from oncall_tui.core.analysis import analyze
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import running_sim
from oncall_tui.sources.native import NativeGateway, Options
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.overview import OverviewScreen
from oncall_tui.tui.trace_screen import TextModal, TraceScreen
from tests.builders import TraceBuilder
from tests.tui.fakes import overview_painted, trace_shown

TMUX_SOCKET = f"oncall-tui-test-{os.getpid()}"  # private server: nobody else ends it
EVIL = "\x1b]0;pwned\x07\x1b[31m[bold]boom[/bold]"


def reentrant_trace():
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    a1 = b.tool(EVIL, m1, 10, 890, result="x" * 5000)
    m2 = b.model(a1, 20, 880)
    b.tool(EVIL, m2, 30, 870)
    return b.trace()


def screen_text(app) -> str:
    """Everything painted on the screen, as plain text."""
    return (
        "\n".join(
            "".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()
        )
        if hasattr(app.screen, "_compositor")
        else ""
    )


def TraceApp(trace) -> OncallApp:
    return OncallApp(trace=trace)


async def test_trace_screen_marks_cycle_and_jumps_to_it() -> None:
    app = TraceApp(reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        title = str(screen.query_one("#trace-title").render())
        assert "1 ⟲" in title
        tree = screen.query_one(CallTree)
        await pilot.press("c")
        await pilot.pause()
        span = tree.model.span(tree.cursor)
        assert span is not None and span.span_id == analyze(app.trace).cycles[0].witness[-1]
        # Folding the root hides everything under it; unfolding brings it back.
        await pilot.press("home", "space")
        assert len(tree.model.rows) == 1
        await pilot.press("space")
        assert len(tree.model.rows) == len(app.trace.spans)


async def test_hostile_span_text_is_inert_and_full_value_reachable() -> None:
    app = TraceApp(reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        row = next(i for i in range(len(tree.model.rows)) if "pwned" in tree.model.label(i, 80)[0])
        text, _ = tree.model.label(row, 80)
        assert "\x1b" not in text and "\x07" not in text
        assert "\\x1b" in text and "[bold]" in text  # shown, not obeyed
        tree.cursor = row
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        body = str(app.screen.query("Static").last().render())
        assert "x" * 5000 in body.replace("\n", "")  # the full, uncut tool result
        assert "\x1b" not in body


async def test_hundred_thousand_spans_open_as_one_widget() -> None:
    from bench.gen import generate
    from oncall_tui.sources.detect import read_traces

    [trace] = read_traces(generate(100_000))
    app = TraceApp(trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot, tries=1200)
        tree = app.screen.query_one(CallTree)
        assert len(tree.model.rows) == len(trace.spans)
        await pilot.press("end")
        await pilot.pause()
        assert tree.cursor == len(trace.spans) - 1
        # No widget per span: the whole screen holds a handful of widgets.
        assert len(list(app.screen.walk_children())) < 40


async def test_overview_live_then_stale_when_gateway_goes_away() -> None:
    async with running_sim(scenarios=("fallback-default",)) as sim:
        gw = NativeGateway(
            Options(url=sim.url, token_env="T", timeout_s=2),
            PluginContext(environ={"T": sim.token}),
        )
        app = OncallApp(gateway=gw, gateway_name="sim", env_name="test")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, OverviewScreen)
            table = screen.query_one("#routes")
            await overview_painted(pilot, tries=200)  # bounded repaint rate, library loaded
            assert table.row_count == 4
            alerts = str(screen.query_one("#alerts").render())
            assert "support-chat" in alerts and "fallback-became-default" in alerts
            await sim.stop()
            for _ in range(60):
                await pilot.pause(0.1)
                if screen.error:
                    break
            assert "STALE" in str(screen.query_one("#age").render())
            assert table.row_count == 4  # last figures kept, marked stale
        await gw.aclose()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_real_binary_in_tmux_80x24(tmp_path) -> None:
    """What only a terminal shows: the real binary, keyboard only, no escape leaks."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    a1 = b.tool(EVIL, m1, 10, 890)
    m2 = b.model(a1, 20, 880)
    b.tool(EVIL, m2, 30, 870)
    path = tmp_path / "t.json"
    path.write_bytes(b.otlp())
    session = f"oncall-test-{time.monotonic_ns()}"
    cmd = f"{sys.executable} -m oncall_tui trace view {path}"
    subprocess.run(
        [
            "tmux",
            "-L",
            TMUX_SOCKET,
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "-s",
            session,
            cmd,
        ],
        check=True,
    )
    try:
        screen = ""
        for _ in range(100):
            time.sleep(0.2)
            screen = subprocess.run(
                ["tmux", "-L", TMUX_SOCKET, "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
            ).stdout
            if "⟲" in screen:
                break
        assert "1 ⟲" in screen, screen
        assert "\\x1b" in screen  # the hostile name is shown escaped
        assert "pwned" in screen
        subprocess.run(["tmux", "-L", TMUX_SOCKET, "send-keys", "-t", session, "g"], check=True)
        time.sleep(1.0)
        graph = subprocess.run(
            ["tmux", "-L", TMUX_SOCKET, "capture-pane", "-p", "-t", session],
            capture_output=True,
            text=True,
        ).stdout
        assert "call graph" in graph and "tool:" in graph
        subprocess.run(
            ["tmux", "-L", TMUX_SOCKET, "send-keys", "-t", session, "Escape"], check=True
        )
        time.sleep(0.5)  # else ESC q arrives as alt+q
        subprocess.run(["tmux", "-L", TMUX_SOCKET, "send-keys", "-t", session, "q"], check=True)
        for _ in range(50):
            time.sleep(0.1)
            alive = subprocess.run(
                ["tmux", "-L", TMUX_SOCKET, "has-session", "-t", session], capture_output=True
            )
            if alive.returncode != 0:
                break
        else:
            pytest.fail("the console did not quit on q")
    finally:
        subprocess.run(
            ["tmux", "-L", TMUX_SOCKET, "kill-session", "-t", session], capture_output=True
        )
        asyncio.set_event_loop(None)
