"""The lifecycle against the real simulator (the native control protocol), and a
console killed with SIGKILL between execute and verify, then run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sim.server import SimServer
from oncall_tui.sim.thread import SimThread

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[SimServer]:
    # speed 0: simulated time moves only when a test steps it, so "verify"
    # waits exactly as long as a test wants it to.
    with SimThread(speed=0.0, warmup_s=60.0) as server:
        yield server


def step(sim: SimServer, seconds: float) -> None:
    r = httpx.post(
        f"{sim.url}/v1/sim/step",
        json={"seconds": seconds},
        headers={"Authorization": f"Bearer {sim.token}"},
        timeout=10,
    )
    r.raise_for_status()


def executor(sim: SimServer, tmp_path: Path, **kw: object) -> Executor:
    gw = build(
        "native", {"url": sim.url, "token_env": "T"}, PluginContext(environ={"T": sim.token})
    )
    return Executor(
        audit=AuditLog(tmp_path / "audit.jsonl"),
        adapters={"sim": gw},
        actor="tester",
        env="demo",
        verify_every_s=0.1,
        **kw,  # type: ignore[arg-type]
    )


def applied_actions(sim: SimServer, kind: str, route: str) -> int:
    return sum(1 for a in list(sim.engine.actions.values()) if a.kind == kind and a.route == route)


async def test_rollback_verifies_when_the_old_models_share_returns_and_undo_rolls_forward(
    sim: SimServer, tmp_path: Path
) -> None:
    async with executor(sim, tmp_path, verify_deadline_s=1.0) as ex:
        plan = await ex.plan(
            ActionSpec(kind="rollback", route="support-chat", to_version="v1", reason="INC-8")
        )
        assert plan.prior["version"] == "v3"
        # Not verified while no traffic has been served by v1 yet.
        early = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
        assert early.outcome == "not_verified" and early.applied
        step(sim, 30)
        # Re-running the same command verifies again; it never re-applies.
        again = await ex.execute(await ex.plan(plan.spec), confirm=Confirmation(assume_yes=True))
        assert again.outcome == "verified", again.detail
        assert "openai/gpt-4o" in again.detail
        assert applied_actions(sim, "rollback", "support-chat") == 1

        undo = await ex.plan(ex.undo_spec(again.action_id))
        assert undo.spec.to_version == "v3"
        await ex.execute(undo, confirm=Confirmation(assume_yes=True))
        assert sim.engine.fleet.routes["support-chat"].version == "v3"


async def test_failover_forces_the_tier_and_verifies_through_the_tier_mix(
    sim: SimServer, tmp_path: Path
) -> None:
    async with executor(sim, tmp_path, verify_deadline_s=1.0) as ex:
        spec = ActionSpec(
            kind="failover", route="support-chat", to_tier="openai/gpt-4o-mini", reason="INC-9"
        )
        plan = await ex.plan(spec)
        step(sim, 1)
        await ex.execute(plan, confirm=Confirmation(assume_yes=True))
        step(sim, 30)
        result = await ex.execute(await ex.plan(spec), confirm=Confirmation(assume_yes=True))
    assert result.verified, result.detail
    assert (
        result.observation is not None
        and result.observation.state["top_tier"] == "openai/gpt-4o-mini"
    )


def _stages(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [
        json.loads(line)["stage"] for line in path.read_text().splitlines() if line.endswith("}")
    ]


def test_sigkill_between_execute_and_verify_then_rerun_finishes_without_reapplying(
    sim: SimServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_environment: demo\naudit_log: {audit}\nenvironments:\n  demo:\n"
        f"    gateways:\n      sim: {{plugin: native, url: '{sim.url}', token_env: SIM_TOKEN}}\n"
    )
    env = dict(cli_env, SIM_TOKEN=sim.token, ONCALL_TUI_CONFIG=str(config))
    argv = [
        sys.executable,
        "-m",
        "oncall_tui",
        "kill-switch",
        "support-chat",
        "--reason",
        "INC-77 unsafe answers",
        "--yes",
        "--json",
        "--deadline",
        "60",
    ]
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while "executed" not in _stages(audit):  # the call landed; verify is polling
            assert proc.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, "the action never reached 'executed'"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert _stages(audit) == ["captured", "planned", "confirmed", "attempt", "executed"]
    assert AuditLog(audit).verify().ok
    assert applied_actions(sim, "kill_switch", "support-chat") == 1

    step(sim, 30)  # traffic moves on: the route's AI share is now zero
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    doc = json.loads(rerun.stdout)
    assert doc["result"]["outcome"] == "verified" and doc["result"]["resumed"] is True
    assert applied_actions(sim, "kill_switch", "support-chat") == 1  # never twice
    stages = _stages(audit)
    assert stages.count("attempt") == 1 and stages.count("executed") == 1
    assert stages[-3:] == ["confirmed", "verified", "undo_ready"]
    assert AuditLog(audit).verify().ok

    # And a third run only reports.
    third = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0
    assert json.loads(third.stdout)["result"]["outcome"] == "already_done"
    assert applied_actions(sim, "kill_switch", "support-chat") == 1
