"""The console built from a real config, as `oncall-tui` builds it: actions go
through the audited lifecycle, so a kill switch pulled in the console is in
the audit log; read-only environments get no executor at all."""

from __future__ import annotations

import argparse

import pytest

from oncall_tui.cli.sim_cmd import config_snippet
from oncall_tui.sim.server import running_sim
from oncall_tui.tui.action_screen import ActionScreen
from oncall_tui.tui.app import build_app
from tests.tui.fakes import overview_painted
from tests.tui.test_keys_and_actions import _wait

pytestmark = pytest.mark.integration


def _args(path, read_only: bool = False) -> argparse.Namespace:
    return argparse.Namespace(config=str(path), env=None, read_only=read_only)


async def test_kill_switch_from_the_console_is_audited(tmp_path, monkeypatch) -> None:
    async with running_sim(scenarios=("tool-reentrancy",), speed=10.0) as sim:
        monkeypatch.setenv("SIM_TOKEN", sim.token)
        audit = tmp_path / "audit.jsonl"
        cfg = tmp_path / "config.yaml"
        cfg.write_text(config_snippet(sim.url, "SIM_TOKEN") + f"audit_log: {audit}\n")
        app = build_app(_args(cfg))
        assert app.action_runner is not None
        async with app.run_test(size=(80, 24)) as pilot:
            await overview_painted(pilot, tries=200)
            await pilot.press("k")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ActionScreen)
            route = screen.spec.route
            await pilot.press(*route, "enter")
            try:
                await _wait(pilot, lambda: screen.result is not None, tries=600)
            except AssertionError:
                raise AssertionError(str(screen.query_one("#action-progress").render())) from None
            assert screen.result.outcome in ("verified", "not_verified"), screen.result
        text = audit.read_text()
        assert route in text and "kill_switch" in text

        ro = build_app(_args(cfg, read_only=True))
        assert ro.read_only and ro.action_runner is None
