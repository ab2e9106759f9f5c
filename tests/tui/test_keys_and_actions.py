"""Keys (help, remapping, palette) and actions from plan to undo, at 80x24.

Actions run through a real ``Executor`` over the fixed gateway, with its audit
log in ``tmp_path``: the console has no other way to act."""

from __future__ import annotations

from textual.message import Message

from oncall_tui.tui.action_screen import ActionFinished, ActionScreen
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.graph_screen import GraphScreen
from oncall_tui.tui.help_screen import HelpScreen
from oncall_tui.tui.overview import OverviewScreen, StatusArrived
from oncall_tui.tui.trace_screen import TraceScreen
from tests.tui.fakes import FixedGateway, StatusOnlyGateway, lifecycle, overview_painted
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
        assert isinstance(app.screen, GraphScreen)
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


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def _open_action(pilot, app, key: str) -> ActionScreen:
    await pilot.press(key)
    await _wait(pilot, lambda: isinstance(app.screen, ActionScreen) and app.screen.plan is not None)
    return app.screen


async def _confirm(pilot, screen: ActionScreen, name: str) -> None:
    await pilot.press(*name, "enter")
    await _wait(pilot, lambda: screen.result is not None)


async def test_kill_switch_needs_the_typed_route_name_then_verifies_and_undoes(tmp_path) -> None:
    gateway = FixedGateway()
    acting = lifecycle(gateway, tmp_path)
    posted: list[Message] = []
    app = OncallApp(
        gateway=gateway, gateway_name="fixed", env_name="test", actor="me@here",
        action_runner=acting,
    )  # fmt: skip
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await _wait(pilot, lambda: any(isinstance(m, StatusArrived) for m in posted))
        await overview_painted(pilot)
        assert isinstance(app.screen, OverviewScreen)
        screen = await _open_action(pilot, app, "k")
        assert screen.spec.route == "support-chat" and screen.spec.enabled is True
        assert screen.spec.actor == "me@here"
        # The diff is the executor's plan, captured from the gateway.
        diff = _text(screen, "#action-diff")
        assert "- off (AI serving)" in diff and "+ ON (AI path stopped" in diff
        assert screen.plan.action_id in diff and "fixed gateway (in memory)" in diff
        # A stray enter, or the wrong name, changes nothing and logs nothing.
        await pilot.press("enter")
        await pilot.press(*"support", "enter")
        await pilot.pause()
        assert gateway.calls == [] and acting.executor.audit.records() == []
        assert "does not match" in _text(screen, "#action-progress")
        screen.query_one("#action-confirm").value = ""
        await _confirm(pilot, screen, "support-chat")
        assert gateway.calls == [("support-chat", True)]
        assert screen.result.outcome == "verified"
        assert any(isinstance(m, ActionFinished) for m in posted)
        assert "VERIFIED" in _text(screen, "#action-progress")
        stages = _text(screen, "#action-stages")
        assert "executed" in stages and "verified" in stages and "undo_ready" in stages
        # A second enter does not run it again.
        await pilot.press("enter")
        await pilot.pause()
        assert gateway.calls == [("support-chat", True)]
        # Undo: the inverse the audit log recorded, confirmed the same way.
        assert "u: undo" in _text(screen, "#action-progress")
        await pilot.press("u")
        await _wait(pilot, lambda: app.screen is not screen and app.screen.plan is not None)
        undo = app.screen
        assert isinstance(undo, ActionScreen)
        assert undo.spec.enabled is False and undo.spec.undoes == screen.result.action_id
        assert "- ON" in _text(undo, "#action-diff") and "+ off" in _text(undo, "#action-diff")
        await pilot.press("enter")
        await pilot.pause()
        assert len(gateway.calls) == 1
        await _confirm(pilot, undo, "support-chat")
        assert gateway.calls == [("support-chat", True), ("support-chat", False)]
        assert undo.result.outcome == "verified"
    ids = {r.action_id for r in acting.executor.audit.records()}
    assert ids == {screen.result.action_id, undo.result.action_id}
    assert acting.executor.audit.verify().ok


async def test_rollback_and_failover_keys_plan_from_the_gateway(tmp_path) -> None:
    gateway = FixedGateway()
    app = OncallApp(
        gateway=gateway, gateway_name="fixed", env_name="test",
        action_runner=lifecycle(gateway, tmp_path),
    )  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        footer = "".join(str(w.render()) for w in app.screen.query("FooterKey"))
        assert "v Rollback" in footer and "f Failover" in footer
        screen = await _open_action(pilot, app, "v")
        diff = _text(screen, "#action-diff")
        assert "serving version" in diff and "- v3" in diff and "+ v2" in diff
        await pilot.press("escape")
        screen = await _open_action(pilot, app, "f")
        diff = _text(screen, "#action-diff")
        assert "forced tier" in diff and "+ anthropic/c (forced first)" in diff
        await _confirm(pilot, screen, "support-chat")
        assert gateway.forced["support-chat"] == "anthropic/c"
        await pilot.press("u")
        await _wait(pilot, lambda: app.screen is not screen and app.screen.plan is not None)
        undo = app.screen
        assert "+ none (the route's own chain serves)" in _text(undo, "#action-diff")
        await _confirm(pilot, undo, "support-chat")
        assert undo.result.outcome == "verified" and gateway.forced["support-chat"] is None


async def test_no_lifecycle_means_no_action_keys(tmp_path) -> None:
    gw = FixedGateway()
    status_only = StatusOnlyGateway()
    for app in (
        # read-only: no lifecycle even when one is given
        OncallApp(gateway=gw, gateway_name="g", env_name="prod", read_only=True,
                  action_runner=lifecycle(gw, tmp_path)),
        # no lifecycle at all: the console never calls a gateway directly
        OncallApp(gateway=FixedGateway(), gateway_name="g", env_name="prod"),
        # a lifecycle whose adapters cannot act with read-back
        OncallApp(gateway=status_only, gateway_name="g", env_name="prod",
                  action_runner=lifecycle(status_only, tmp_path)),
    ):  # fmt: skip
        async with app.run_test(size=(80, 24)) as pilot:
            await overview_painted(pilot)
            await pilot.press("k", "v", "f")
            await pilot.pause()
            assert isinstance(app.screen, OverviewScreen)
            assert "k" not in app.active_bindings or not app.active_bindings["k"].enabled
            footer = "".join(str(w.render()) for w in app.screen.query("FooterKey"))
            assert "k Kill" not in footer and "Rollback" not in footer
            assert "Failover" not in footer
    assert gw.calls == [] and status_only.calls == []
