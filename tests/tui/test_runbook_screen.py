"""Following the suggested runbook from the overview, keyboard only, at 80x24."""

from __future__ import annotations

from oncall_tui.runbook.session import Session
from oncall_tui.tui.action_screen import ActionScreen
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.runbook_screen import RunbookScreen
from tests.tui.fakes import FixedGateway, lifecycle, overview_painted
from tests.tui.test_console import screen_text
from tests.tui.test_keys_and_actions import _wait


async def _open_runbook(pilot, app) -> RunbookScreen:
    await overview_painted(pilot)
    await pilot.press("b")
    await _wait(pilot, lambda: isinstance(app.screen, RunbookScreen) and not app.screen.busy)
    return app.screen


async def test_runbook_steps_checks_decisions_action_and_postmortem(tmp_path) -> None:
    gateway = FixedGateway(alerting=False, primary_share=0.95)
    acting = lifecycle(gateway, tmp_path)
    app = OncallApp(
        gateway=gateway,
        gateway_name="fixed",
        env_name="prod",
        state_dir=tmp_path,
        action_runner=acting,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runbook(pilot, app)
        # No alert, tiers fine: the runbook comes from what the figures imply (429s,
        # low quota);
        # it ran its checks by itself, with evidence on the timeline.
        assert screen.engine.runbook.id == "quota-exhaustion"
        timeline = str(screen.query_one("#timeline").render())
        assert "check FAIL" in timeline and "rate_429=0.05" in timeline
        assert screen.wait is not None and screen.wait.kind == "mark"
        await pilot.press("d")
        await _wait(pilot, lambda: not screen.busy and screen.wait.kind == "answer")
        assert "1: yes" in str(screen.query_one("#runbook-wait").render())
        await pilot.press("1")
        await _wait(pilot, lambda: not screen.busy and screen.wait.kind == "confirm")
        # Acting shows the lifecycle's plan (the next tier, read from the gateway)
        # and goes through the typed confirmation, then the engine runs it.
        await pilot.press("a")
        await _wait(pilot, lambda: isinstance(app.screen, ActionScreen) and app.screen.plan)
        action = app.screen
        diff = str(action.query_one("#action-diff").render())
        assert "forced tier" in diff and "+ anthropic/c (forced first)" in diff
        await pilot.press(*"support-chat", "enter")
        await _wait(pilot, lambda: action.result is not None)
        assert action.result.outcome == "verified", action.result
        assert gateway.forced["support-chat"] == "anthropic/c"
        assert "u: undo" in str(action.query_one("#action-progress").render())
        # The audit log holds it under the plan the screen showed.
        stages = [r.stage for r in acting.executor.audit.for_action(action.plan.action_id)]
        assert stages[-2:] == ["verified", "undo_ready"]
        await pilot.press("escape")
        # The runbook goes on by itself: its verification check repeats against
        # the gateway, and the screen says it is running it.
        await _wait(pilot, lambda: isinstance(app.screen, RunbookScreen) and screen.busy)
        assert "running: 429s are back under 5%" in screen_text(app)
        session = Session.open(screen.engine.session.path)
        kinds = [e.type for e in session.events]
        assert {"check", "manual", "answer", "action_started", "action"} <= set(kinds)
        await pilot.press("p")
        await pilot.pause()
        draft = screen.engine.session.path.with_suffix(".md")
        assert draft.is_file() and "quota" in draft.read_text().lower()


async def _act_on_the_action_step(pilot, screen: RunbookScreen) -> None:
    """quota-exhaustion: mark the manual step, answer yes, press a to act."""
    await pilot.press("d")
    await _wait(pilot, lambda: not screen.busy and screen.wait.kind == "answer")
    await pilot.press("1")
    await _wait(pilot, lambda: not screen.busy and screen.wait.kind == "confirm")
    await pilot.press("a")
    await pilot.pause()


async def test_read_only_runbook_offers_no_action(tmp_path) -> None:
    app = OncallApp(
        gateway=FixedGateway(alerting=False, primary_share=0.95),
        gateway_name="f",
        env_name="prod",
        state_dir=tmp_path,
        read_only=True,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runbook(pilot, app)
        await _act_on_the_action_step(pilot, screen)
        assert isinstance(app.screen, RunbookScreen)  # no action screen
        assert "not offered, read-only" in screen_text(app)


async def test_runbook_action_cannot_run_without_the_lifecycle(tmp_path) -> None:
    gateway = FixedGateway(alerting=False, primary_share=0.95)
    app = OncallApp(gateway=gateway, gateway_name="f", env_name="prod", state_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runbook(pilot, app)
        await _act_on_the_action_step(pilot, screen)
        assert isinstance(app.screen, RunbookScreen)  # no action screen
        assert "cannot run here" in " ".join(screen_text(app).split())
        footer = "".join(str(w.render()) for w in app.screen.query("FooterKey"))
        assert "Act" not in footer and "Decline" in footer
    assert gateway.calls == []


async def test_b_starts_the_runbook_the_alert_line_names(tmp_path) -> None:
    app = OncallApp(gateway=FixedGateway(), gateway_name="f", env_name="prod", state_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        assert "→ runbook fallback-became-default" in " ".join(screen_text(app).split())
        screen = await _open_runbook(pilot, app)
        assert screen.engine.runbook.id == "fallback-became-default"


async def test_console_runbook_timeline_masks_the_configs_secrets(tmp_path) -> None:
    """A runbook started from the console writes its timeline through the same
    redactor as the CLI's: a configured secret that reaches an event is masked
    in the incident file, not only URL credentials."""
    from oncall_tui.redact import Redactor

    secret = "sk-console-canary-8d1f2e"
    gateway = FixedGateway(alerting=False, primary_share=0.95)
    app = OncallApp(
        gateway=gateway,
        gateway_name="fixed",
        env_name="prod",
        state_dir=tmp_path,
        redactor=Redactor([secret]),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runbook(pilot, app)
        session = screen.engine.session
        session.append("note", text=f"gateway said: Authorization: Bearer {secret}")
        written = session.path.read_text()
        assert secret not in written
        assert "gateway said" in written
