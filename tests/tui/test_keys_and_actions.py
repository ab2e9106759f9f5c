"""Keys (help, remapping, palette) and the kill switch from plan to undo, at 80x24."""

from __future__ import annotations

from textual.message import Message

from oncall_tui.tui.action_screen import ActionFinished, ActionScreen
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.help_screen import HelpScreen
from oncall_tui.tui.overview import OverviewScreen, StatusArrived
from oncall_tui.tui.trace_screen import TextModal, TraceScreen
from tests.tui.fakes import FixedGateway, StatusOnlyGateway, overview_painted
from tests.tui.test_console import reentrant_trace


async def _wait(pilot, cond, tries: int = 50) -> None:
    for _ in range(tries):
        await pilot.pause(0.05)
        if cond():
            return
    raise AssertionError("condition never held")


async def test_question_mark_lists_the_keys_of_the_current_screen() -> None:
    app = OncallApp(trace=reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        body = str(app.screen.query_one("#help-body").render())
        assert "trace.graph" in body and "Graph" in body  # trace screen's keys, with ids
        assert "overview.kill_switch" not in body  # not another screen's
        await pilot.press("escape")
        assert isinstance(app.screen, TraceScreen)


async def test_keys_remapped_from_config_work_and_help_shows_them() -> None:
    app = OncallApp(trace=reentrant_trace(), keys={"trace.graph": "ctrl+g"})
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("g")  # the old key does nothing now
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert "ctrl+g" in str(app.screen.query_one("#help-body").render())


async def test_command_palette_offers_the_help_screen() -> None:
    app = OncallApp(trace=reentrant_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Keys")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_kill_switch_needs_the_typed_route_name_then_verifies_and_undoes() -> None:
    gateway = FixedGateway()
    posted: list[Message] = []
    app = OncallApp(gateway=gateway, gateway_name="fixed", env_name="test", actor="me@here")
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await _wait(pilot, lambda: any(isinstance(m, StatusArrived) for m in posted))
        await overview_painted(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("k")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        assert screen.spec.route == "support-chat" and screen.spec.enabled is True
        assert screen.spec.actor == "me@here"
        # A stray enter, or the wrong name, changes nothing.
        await pilot.press("enter")
        await pilot.press(*"support", "enter")
        await pilot.pause()
        assert gateway.calls == []
        assert "does not match" in str(screen.query_one("#action-progress").render())
        screen.query_one("#action-confirm").value = ""
        await pilot.press(*"support-chat", "enter")
        await _wait(pilot, lambda: screen.result is not None)
        assert gateway.calls == [("support-chat", True)]
        assert screen.result.outcome == "verified"
        assert any(isinstance(m, ActionFinished) for m in posted)
        assert "VERIFIED" in str(screen.query_one("#action-progress").render())
        # Undo offers the inverse, confirmed the same way.
        await pilot.press("u")
        await pilot.pause()
        undo = app.screen
        assert isinstance(undo, ActionScreen) and undo.spec.enabled is False
        await pilot.press(*"support-chat", "enter")
        await _wait(pilot, lambda: undo.result is not None)
        assert gateway.calls == [("support-chat", True), ("support-chat", False)]
        assert undo.result.outcome == "verified"


async def test_read_only_environment_offers_no_kill_switch() -> None:
    for app in (
        OncallApp(gateway=FixedGateway(), gateway_name="g", env_name="prod", read_only=True),
        OncallApp(gateway=StatusOnlyGateway(), gateway_name="g", env_name="prod"),
    ):
        async with app.run_test(size=(80, 24)) as pilot:
            await overview_painted(pilot)
            await pilot.press("k")
            await pilot.pause()
            assert isinstance(app.screen, OverviewScreen)
            assert "k" not in app.active_bindings or not app.active_bindings["k"].enabled
            footer = "".join(str(w.render()) for w in app.screen.query("FooterKey"))
            assert "Kill switch" not in footer
