"""The trace screen's banner for incomplete traces, and NO_COLOR."""

from __future__ import annotations

import msgspec

from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.trace_screen import TraceScreen
from tests.tui.test_console import reentrant_trace, screen_text
from tests.tui.test_keys_and_actions import _wait


async def test_truncated_trace_says_so_in_a_banner() -> None:
    trace = msgspec.structs.replace(
        reentrant_trace(), completeness="truncated", completeness_reason="store returned 5 of 9"
    )
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.pause()
        assert "TRUNCATED TRACE: store returned 5 of 9" in screen_text(app)


async def test_complete_trace_has_no_banner() -> None:
    app = OncallApp(trace=reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        assert "TRACE:" not in screen_text(app)


async def test_no_color_opens_and_paints(monkeypatch) -> None:
    # It used to ask for a theme Textual 8 does not have and crash on start.
    monkeypatch.setenv("NO_COLOR", "1")
    app = OncallApp(trace=reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        assert app.no_color
        assert "1 ⟲" in screen_text(app)
