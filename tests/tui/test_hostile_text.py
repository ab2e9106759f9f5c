"""Text from stores and gateways is shown, never obeyed: escapes and markup stay visible."""

from __future__ import annotations

from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.overview import OverviewScreen
from tests.tui.fakes import FixedGateway, overview_painted
from tests.tui.test_console import screen_text
from tests.tui.test_snapshots import FixedStore


async def test_trace_search_rows_show_markup_and_escapes_literally() -> None:
    app = OncallApp(store=FixedStore())
    async with app.run_test(size=(100, 24)) as pilot:
        for _ in range(40):
            await pilot.pause(0.05)
            if "trace(s)" in screen_text(app):
                break
        text = screen_text(app)
        assert "\\x1b[2J[red]x[/red]" in text
        assert "\x1b" not in text


async def test_gateway_alert_text_is_inert() -> None:
    app = OncallApp(gateway=FixedGateway(hostile=True), gateway_name="g", env_name="e")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await overview_painted(pilot)
        text = screen_text(app)
        assert "\\x1b]0;pwned\\x07\\x1b[31m[bold]boom[/bold]" in text
        assert "\x1b" not in text and "\x07" not in text
