"""The real `oncall-tui` binary acting on the real simulator: killed -9 between
execute and verify then re-run (applied once, finished), and a canary token
that must never appear in output, errors or the audit log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import msgspec
import pytest

from oncall_tui.sim.server import running_sim

pytestmark = pytest.mark.integration

CANARY = "canary-7f3a9c-do-not-leak"


def _config(tmp_path, url: str) -> str:
    from oncall_tui.cli.sim_cmd import config_snippet

    path = tmp_path / "config.yaml"
    path.write_text(config_snippet(url, "SIM_TOKEN") + f"audit_log: {tmp_path / 'audit.jsonl'}\n")
    return str(path)


async def _cli(env, *args: str, timeout: float = 90) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oncall_tui", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def _stages(path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(msgspec.json.decode(line).get("stage", ""))
        except msgspec.DecodeError:
            out.append("<torn>")
    return out


async def test_killed_between_execute_and_verify_then_rerun(tmp_path, cli_env) -> None:
    # Simulated time stands still, so verification (which needs traffic that
    # shows the switch) keeps polling: the window in which to kill it.
    async with running_sim(speed=0) as sim:
        env = {**cli_env, "SIM_TOKEN": sim.token, "ONCALL_TUI_CONFIG": _config(tmp_path, sim.url)}
        args = ["kill-switch", "search-summary", "--reason", "loop", "--yes", "--json",
                "--deadline", "60"]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oncall_tui", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        audit = tmp_path / "audit.jsonl"
        for _ in range(300):  # bounded: 30 s
            await asyncio.sleep(0.1)
            if "executed" in _stages(audit) or "applied" in _stages(audit):
                break
        else:
            proc.kill()
            await proc.wait()
            pytest.fail(f"the action never got past execute: {_stages(audit)}")
        await asyncio.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        before = _stages(audit)
        assert not any(s.startswith("verified") for s in before), before
        kills = [a for a in sim.engine.actions.values() if a.kind == "kill_switch"]
        assert len(kills) == 1
        sim.step(30)  # traffic flows; the switch shows in it now
        code, out, err = await _cli(env, *args)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["result"]["verified"] is True and doc["result"]["resumed"] is True
        assert len([a for a in sim.engine.actions.values() if a.kind == "kill_switch"]) == 1
        code, out, err = await _cli(env, "audit", "verify", "--json")
        assert code == 0, out + err


async def test_canary_token_never_leaks(tmp_path, cli_env) -> None:
    async with running_sim(speed=40, token=CANARY) as sim:
        env = {**cli_env, "SIM_TOKEN": CANARY, "ONCALL_TUI_CONFIG": _config(tmp_path, sim.url)}
        texts: list[str] = []
        for args in (
            ["kill-switch", "doc-extract", "--reason", "r"],
            ["kill-switch", "doc-extract", "--reason", "r", "--yes", "--json"],
            ["audit", "show", "--json"],
            ["audit", "verify"],
            ["config", "show"],
            ["gateway", "status", "--json"],
        ):
            code, out, err = await _cli(env, *args)
            assert code in (0, 1, 5), (args, err)
            texts += [out, err]
        bad = {**env, "SIM_TOKEN": CANARY + "-wrong"}
        code, out, err = await _cli(bad, "kill-switch", "doc-extract", "--reason", "x", "--yes")
        assert code != 0
        texts += [out, err]
        code, out, err = await _cli(bad, "gateway", "status")
        assert code == 3 and "401" in err
        texts += [out, err, (tmp_path / "audit.jsonl").read_text()]
        for text in texts:
            assert CANARY not in text
