"""The action lifecycle against the real simulator on loopback: applied once,
verified through the traffic path, undoable, audited, and safe under faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from oncall_tui.actions.audit import AuditLog
from oncall_tui.actions.executor import Executor, undo_spec_for
from oncall_tui.actions.models import ActionSpec
from oncall_tui.actions.targets import GatewayTarget
from oncall_tui.errors import ReadOnlyError, RemoteError, UnreachableError
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import running_sim
from oncall_tui.sources.native import NativeGateway, Options

pytestmark = pytest.mark.integration

CANARY = "canary-7f3a9c-do-not-leak"


def gateway(sim, token: str | None = None) -> NativeGateway:
    return NativeGateway(
        Options(url=sim.url, token_env="TOK", timeout_s=3),
        PluginContext(environ={"TOK": token or sim.token}),
    )


def executor(gw, tmp_path, **kw) -> Executor:
    async def fast_sleep(_: float) -> None:
        await asyncio.sleep(0.05)

    return Executor(
        GatewayTarget(gw, "gateway sim"),
        AuditLog(tmp_path / "audit.jsonl"),
        verify_deadline_s=kw.pop("deadline", 20.0),
        verify_every_s=0.2,
        sleep=kw.pop("sleep", fast_sleep),
        **kw,
    )


def kill(route: str = "search-summary", **kw) -> ActionSpec:
    return ActionSpec(
        kind="kill_switch", route=route, reason="cost spike", actor="tester", enabled=True, **kw
    )


def applied(sim, kind: str) -> list:
    return [a for a in sim.engine.actions.values() if a.kind == kind]


async def test_kill_switch_verified_once_then_undone(tmp_path) -> None:
    async with running_sim(speed=40) as sim:
        gw = gateway(sim)
        ex = executor(gw, tmp_path)
        plan = await ex.prepare(kill())
        assert plan.dangerous and plan.confirm_phrase == "search-summary"
        assert [(c.before, c.after) for c in plan.changes] == [(False, True)]
        refused = await ex.execute(plan, confirm="wrong-route")
        assert refused.outcome == "refused" and applied(sim, "kill_switch") == []
        result = await ex.execute(plan, confirm="search-summary")
        assert result.outcome == "verified", result.detail
        again = await ex.execute(plan, confirm="search-summary")
        assert again.outcome == "verified" and again.resumed
        assert len(applied(sim, "kill_switch")) == 1  # never applied twice
        undo = undo_spec_for(ex.audit, result.action_id)
        back = await ex.execute(undo, confirm="search-summary")
        assert back.outcome == "verified", back.detail
        assert sim.engine.fleet.routes["search-summary"].kill_switch is False
        assert ex.audit.verify() == []
        stages = [r.stage for r in ex.audit.for_action(result.action_id)]
        assert stages[:6] == [
            "planned",
            "refused",
            "confirmed",
            "executing",
            "executed",
            "verified",
        ]
        await gw.aclose()


async def test_rollback_restores_old_model_behaviour(tmp_path) -> None:
    async with running_sim(speed=40, scenarios=("bad-model-upgrade",)) as sim:
        gw = gateway(sim)
        ex = executor(gw, tmp_path)
        spec = ActionSpec(
            kind="rollback", route="support-chat", reason="bad upgrade", actor="t", to_version="v3"
        )
        result = await ex.execute(await ex.prepare(spec), confirm="support-chat")
        assert result.outcome == "verified", result.detail
        assert result.undo_spec is not None and result.undo_spec.to_version == "v4"
        await gw.aclose()


async def test_verification_fails_for_real_when_traffic_does_not_change(tmp_path) -> None:
    """No simulated time passes: the switch is on but no request proves it."""
    async with running_sim(speed=0) as sim:
        gw = gateway(sim)
        ex = executor(gw, tmp_path, deadline=1.0)
        result = await ex.execute(kill(), confirm="search-summary")
        assert result.outcome == "not_verified"
        assert "requests" in result.detail
        assert [r.stage for r in ex.audit.records()][-2:] == ["not_verified", "undo_ready"]
        await gw.aclose()


class FlakyTarget(GatewayTarget):
    """Faults a real server will not produce on demand."""

    def __init__(self, adapter, faults: list[str]) -> None:
        super().__init__(adapter, "flaky gateway")
        self.faults = faults
        self.calls = 0

    async def apply(self, spec):
        self.calls += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            raise RemoteError("flaky gateway answered 500", status=500)
        if fault == "drop":
            raise UnreachableError("connection dropped mid-request")
        if fault == "timeout-after-apply":
            await super().apply(spec)  # the change landed; the answer never came
            raise UnreachableError("read timed out")
        return await super().apply(spec)


@pytest.mark.parametrize("faults", [["500"], ["drop"], ["timeout-after-apply"], ["500", "drop"]])
async def test_faults_never_double_apply_nor_lose_audit(tmp_path, faults) -> None:
    async with running_sim(speed=40) as sim:
        gw = gateway(sim)
        target = FlakyTarget(gw, list(faults))

        async def no_wait(_: float) -> None:
            await asyncio.sleep(0.05)

        ex = Executor(target, AuditLog(tmp_path / "a.jsonl"), verify_every_s=0.2, sleep=no_wait)
        result = await ex.execute(kill(), confirm="search-summary")
        assert result.outcome == "verified", result.detail
        assert target.calls == len(faults) + 1
        assert len(applied(sim, "kill_switch")) == 1
        stages = [r.stage for r in ex.audit.records()]
        assert stages.count("executing") == 1 and stages.count("executed") == 1
        assert ex.audit.verify() == []
        await gw.aclose()


async def test_4xx_is_not_retried_and_the_failure_is_audited(tmp_path) -> None:
    async with running_sim(speed=40) as sim:
        gw = gateway(sim)
        target = FlakyTarget(gw, [])
        ex = Executor(target, AuditLog(tmp_path / "a.jsonl"))
        spec = ActionSpec(
            kind="rollback", route="support-chat", reason="r", actor="t", to_version="v3"
        )
        # v3 is already serving: the gateway answers 409.
        result = await ex.execute(spec.with_key(), confirm="support-chat")
        assert result.outcome == "failed" and "409" in result.detail
        assert target.calls == 1
        assert [r.stage for r in ex.audit.records()][-1] == "failed"
        await gw.aclose()


async def test_read_only_offers_nothing(tmp_path) -> None:
    async with running_sim() as sim:
        gw = gateway(sim)
        ex = executor(gw, tmp_path, read_only=True)
        with pytest.raises(ReadOnlyError):
            await ex.prepare(kill())
        assert not (tmp_path / "audit.jsonl").exists()
        await gw.aclose()


def _config(tmp_path, url: str) -> str:
    from oncall_tui.cli.sim_cmd import config_snippet

    path = tmp_path / "config.yaml"
    path.write_text(config_snippet(url, "SIM_TOKEN") + f"audit_log: {tmp_path / 'audit.jsonl'}\n")
    return str(path)


async def _cli(env, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "oncall_tui",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_kill_9_between_execute_and_verify_then_rerun(tmp_path, cli_env) -> None:
    async with running_sim(speed=0) as sim:
        env = {**cli_env, "SIM_TOKEN": sim.token, "ONCALL_TUI_CONFIG": _config(tmp_path, sim.url)}
        args = [
            "kill-switch",
            "search-summary",
            "--reason",
            "loop",
            "--yes",
            "--json",
            "--verify-timeout",
            "60",
        ]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "oncall_tui",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        audit = AuditLog(tmp_path / "audit.jsonl")
        for _ in range(200):  # bounded: 20 s
            await asyncio.sleep(0.1)
            if any(r.stage == "executed" for r in audit.records()):
                break
        else:
            proc.kill()
            pytest.fail("the action never reached 'executed'")
        os.kill(proc.pid, signal.SIGKILL)  # no traffic yet, so it was verifying
        await proc.wait()
        stages = [r.stage for r in audit.records()]
        assert stages[-1] == "executed" and "verified" not in stages
        sim.step(30)  # traffic flows; the switch is visible in it now
        code, out, err = await _cli(env, *args)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["result"]["outcome"] == "verified" and doc["result"]["resumed"] is True
        assert len(applied(sim, "kill_switch")) == 1
        assert audit.verify() == []


async def test_cli_exit_codes_and_canary_token_never_leaks(tmp_path, cli_env) -> None:
    async with running_sim(speed=40, token=CANARY) as sim:
        env = {**cli_env, "SIM_TOKEN": CANARY, "ONCALL_TUI_CONFIG": _config(tmp_path, sim.url)}
        outputs = []
        code, out, err = await _cli(env, "kill-switch", "doc-extract", "--reason", "r")
        assert code == 5 and "PLAN" in out  # planned only without --yes
        outputs += [out, err]
        code, out, err = await _cli(
            env, "kill-switch", "doc-extract", "--reason", "r", "--yes", "--json"
        )
        assert code == 0, err
        outputs += [out, err]
        code, out, err = await _cli(env, "audit", "show", "--json")
        outputs += [out, err]
        code, out, err = await _cli(env, "audit", "verify")
        assert code == 0
        outputs += [out, err]
        code, out, err = await _cli(
            env, "--read-only", "kill-switch", "doc-extract", "--reason", "r", "--yes"
        )
        assert code == 4 and "read-only" in err
        outputs += [out, err]
        bad = {**env, "SIM_TOKEN": CANARY + "-wrong"}
        code, out, err = await _cli(bad, "gateway", "status")
        assert code == 3 and "401" in err
        outputs += [out, err]
        outputs.append((tmp_path / "audit.jsonl").read_text())
        for text in outputs:
            assert CANARY not in text
