"""The Timeline/audit screen: what the audit log holds, whether its chain is
intact, and the running incident's timeline, opened from anywhere at 80x24."""

from __future__ import annotations

from oncall_tui.tui.action_screen import ActionScreen
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.audit_screen import AuditScreen
from oncall_tui.tui.overview import OverviewScreen
from oncall_tui.tui.runbook_screen import RunbookScreen
from oncall_tui.tui.trace_screen import TextModal
from tests.tui.fakes import FixedGateway, lifecycle, overview_painted
from tests.tui.test_keys_and_actions import _wait


def _app(tmp_path, gateway=None, **kw) -> OncallApp:
    gateway = gateway or FixedGateway()
    return OncallApp(
        gateway=gateway,
        gateway_name="fixed",
        env_name="test",
        action_runner=lifecycle(gateway, tmp_path),
        state_dir=tmp_path,
        **kw,
    )


async def _audit(pilot, app, key: str = "l") -> AuditScreen:
    await pilot.press(key)
    await _wait(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.report)
    return app.screen


def _banner(screen: AuditScreen) -> str:
    return str(screen.query_one("#audit-banner").render())


def _row(screen: AuditScreen, index: int) -> list[str]:
    table = screen.query_one("#audit-records")
    return [str(cell).strip() for cell in table.get_row_at(index)]


async def test_audit_screen_shows_the_action_newest_first_then_a_tampered_line(tmp_path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        await pilot.press("k")
        await _wait(pilot, lambda: isinstance(app.screen, ActionScreen) and app.screen.plan)
        action = app.screen
        await pilot.press(*"support-chat", "enter")
        await _wait(pilot, lambda: action.result is not None)
        await pilot.press("escape")
        screen = await _audit(pilot, app)
        assert "hash chain intact" in _banner(screen)
        table = screen.query_one("#audit-records")
        records = app.action_runner.executor.audit.records()
        assert table.row_count == len(records) >= 7
        newest = _row(screen, 0)
        assert newest[1:5] == ["me@here", action.result.action_id, "undo_ready", "support-chat"]
        assert _row(screen, table.row_count - 1)[3] == "captured"
        # Enter shows one record in full.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        assert '"stage": "undo_ready"' in str(app.screen.query("Static").last().render())
        await pilot.press("escape")
        # Someone edits a line of the log: the banner says where the chain breaks.
        path = app.audit_path
        lines = path.read_text().splitlines(keepends=True)
        lines[1] = lines[1].replace("support-chat", "search-summary")
        path.write_text("".join(lines))
        await pilot.press("r")
        await _wait(pilot, lambda: "BROKEN" in _banner(screen))
        assert "hash chain BROKEN at line 2" in _banner(screen)
        # A line that is not even a record: still the banner, never a crash.
        lines[0] = "not json\n"
        path.write_text("".join(lines))
        await pilot.press("r")
        await _wait(pilot, lambda: "line 1" in _banner(screen))
        assert "not a record" in _banner(screen)
        # The reader steps over a junk line (docs/actions.md): the records
        # after it are still listed, the damage is in the banner.
        await _wait(pilot, lambda: table.row_count == len(records) - 1)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_command_palette_opens_the_audit_screen(tmp_path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Audit log")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.report)
        assert "no actions recorded yet" in _banner(app.screen)


async def test_audit_screen_shows_the_running_incident_timeline(tmp_path) -> None:
    app = _app(tmp_path, FixedGateway(alerting=False, primary_share=0.95))
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        await pilot.press("b")
        await _wait(pilot, lambda: isinstance(app.screen, RunbookScreen) and not app.screen.busy)
        incident = app.screen.engine.session.id
        screen = await _audit(pilot, app)
        timeline = str(screen.query_one("#incident-timeline").render())
        assert f"incident {incident}" in timeline and "check FAIL" in timeline
