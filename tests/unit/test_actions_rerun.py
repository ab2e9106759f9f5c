"""A re-run of a finished action reads the target again (the simulator, for real).

The kill switch is applied and verified; then it is turned off behind the
tool's back, through the simulator's own API. The same command run again must
not say "already done" from the log: it reads the target, says the state no
longer holds, and offers (or with --yes performs) a new action with its own
key, whose records name the old one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sim.server import SimServer, running_sim
from oncall_tui.sim.thread import SimThread

ROUTE = "support-chat"
SPEC = ActionSpec(kind="kill_switch", route=ROUTE, enabled=True, reason="INC-77 unsafe answers")


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_sim(seed=7, warmup_s=60) as server:
        yield server


def executor(sim: SimServer, tmp_path: Path) -> Executor:
    gw = build(
        "native", {"url": sim.url, "token_env": "T"}, PluginContext(environ={"T": sim.token})
    )

    async def sleep(_s: float) -> None:
        sim.step(30)  # traffic moves between read-backs (the sim runs at speed 0)

    return Executor(
        audit=AuditLog(tmp_path / "audit.jsonl"),
        adapters={"sim": gw},
        actor="tester",
        env="demo",
        verify_every_s=0.0,
        verify_deadline_s=5.0,
        sleep=sleep,
    )


_outside = iter(range(1, 1000))


async def turn_off_outside_the_tool(sim: SimServer) -> None:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        r = await http.post(
            f"/v1/routes/{ROUTE}/kill-switch",
            json={"enabled": False, "reason": "someone else", "actor": "other@elsewhere"},
            headers={
                "Authorization": f"Bearer {sim.token}",
                "Idempotency-Key": f"outside-{next(_outside)}",
            },
        )
        r.raise_for_status()
    sim.step(30)


def kill_switch_calls(sim: SimServer) -> list[str]:
    return [
        a.idempotency_key
        for a in list(sim.engine.actions.values())
        if a.kind == "kill_switch" and a.route == ROUTE
    ]


async def test_a_rerun_after_an_outside_change_reads_the_target_and_offers_a_new_action(
    sim: SimServer, tmp_path: Path
) -> None:
    async with executor(sim, tmp_path) as ex:
        first = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
        assert first.outcome == "verified", first.detail
        await turn_off_outside_the_tool(sim)
        log_before = (tmp_path / "audit.jsonl").read_bytes()

        offered = await ex.plan(SPEC)
        # Not "already done": the state does not hold, and the plan says so.
        assert offered.previous is None
        assert offered.drift is not None and not offered.drift.holds
        assert offered.drift.state["kill_switch"] is False
        assert offered.spec.supersedes == first.action_id
        assert offered.idempotency_key != first.idempotency_key
        assert any("no longer holds" in line for line in offered.describe())
        # Only offered: nothing written, nothing sent.
        assert (tmp_path / "audit.jsonl").read_bytes() == log_before

        again = await ex.execute(offered, confirm=Confirmation(assume_yes=True))
    assert again.outcome == "verified" and again.action_id != first.action_id
    assert sim.engine.fleet.routes[ROUTE].kill_switch is True
    records = AuditLog(tmp_path / "audit.jsonl").for_action(again.action_id)
    captured = next(r for r in records if r.stage == "captured")
    assert captured.data["supersedes"] == first.action_id
    assert captured.data["drift"]["holds"] is False
    assert AuditLog(tmp_path / "audit.jsonl").verify().ok


async def test_a_rerun_while_the_state_holds_reports_a_fresh_read(
    sim: SimServer, tmp_path: Path
) -> None:
    async with executor(sim, tmp_path) as ex:
        first = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
        calls = len(kill_switch_calls(sim))
        # Traffic moves on after verification: the re-run's read must be today's.
        sim.step(600)
        status = await ex.adapters["sim"].observe(SPEC.intent)  # type: ignore[attr-defined]
        again = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
    assert again.outcome == "already_done" and again.verified and again.rechecked
    assert again.action_id == first.action_id
    assert "still holds now" in again.detail
    assert again.observation is not None and again.observation.holds
    assert again.observation.detail == status.detail
    assert len(kill_switch_calls(sim)) == calls  # nothing sent


async def test_after_a_reapply_the_original_command_follows_to_the_new_action(
    sim: SimServer, tmp_path: Path
) -> None:
    async with executor(sim, tmp_path) as ex:
        first = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
        await turn_off_outside_the_tool(sim)
        second = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
        third = await ex.execute(await ex.plan(SPEC), confirm=Confirmation(assume_yes=True))
        assert third.outcome == "already_done" and third.action_id == second.action_id
        # Lost a second time: a third action, naming the second.
        await turn_off_outside_the_tool(sim)
        offered = await ex.plan(SPEC)
    assert offered.spec.supersedes == second.action_id != first.action_id
    assert offered.action_id not in (first.action_id, second.action_id)


@pytest.fixture
def sim_thread() -> Iterator[SimServer]:
    with SimThread(speed=0.0, warmup_s=60.0) as server:
        yield server


def test_cli_rerun_offers_without_yes_and_applies_with_it(
    sim_thread: SimServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    sim = sim_thread
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_environment: demo\naudit_log: {audit}\nenvironments:\n  demo:\n"
        f"    gateways:\n      sim: {{plugin: native, url: '{sim.url}', token_env: SIM_TOKEN}}\n"
    )
    env = dict(cli_env, SIM_TOKEN=sim.token, ONCALL_TUI_CONFIG=str(config))
    argv = [sys.executable, "-m", "oncall_tui", "kill-switch", ROUTE, "--reason", "INC-77"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, timeout=120)

    sim.step(1)
    first = subprocess.Popen(
        [*argv, "--yes", "--json", "--deadline", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Verification polls once a second; move traffic until it has verified.
    for _ in range(1200):
        if first.poll() is not None:
            break
        sim.step(5)
        time.sleep(0.05)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    first_id = json.loads(out)["result"]["action_id"]

    r = httpx.post(
        f"{sim.url}/v1/routes/{ROUTE}/kill-switch",
        json={"enabled": False, "reason": "someone else", "actor": "other"},
        headers={"Authorization": f"Bearer {sim.token}", "Idempotency-Key": "outside"},
        timeout=10,
    )
    r.raise_for_status()
    sim.step(30)

    offered = run()
    assert offered.returncode == 5, offered.stderr  # planned only
    assert "no longer holds" in offered.stdout and first_id in offered.stdout
    assert "ALREADY DONE" not in offered.stdout

    applied = run("--yes", "--json", "--deadline", "5")
    doc = json.loads(applied.stdout)
    assert doc["plan"]["spec"]["supersedes"] == first_id
    assert doc["result"]["action_id"] != first_id
    assert doc["result"]["outcome"] in ("verified", "not_verified")
    assert sim.engine.fleet.routes[ROUTE].kill_switch is True
