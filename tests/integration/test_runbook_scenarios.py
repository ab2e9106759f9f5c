"""Every shipped runbook, run headless against the real simulator staging its
failure mode, reaches its diagnosis (and, where it acts, the action applies
through the native adapter and verifies against the gateway's own status);
run against a look-alike scenario, it does not.

The simulator runs in-process on an ephemeral loopback port, stepped, not
free-running: the engine's and the action verifier's sleeps advance the
simulated clock by exactly the time they wait, so repeat-until-deadline
checks and verification are deterministic and take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from oncall_tui.actions import AuditLog, Executor
from oncall_tui.plugins import PluginContext
from oncall_tui.runbook.acting import LifecycleActions
from oncall_tui.runbook.engine import Engine, resolve_inputs
from oncall_tui.runbook.export import to_markdown
from oncall_tui.runbook.headless import RunResult, drive, split_answers
from oncall_tui.runbook.library import load_all
from oncall_tui.runbook.queries import Sources
from oncall_tui.runbook.session import Session
from oncall_tui.sim.scenarios import SCENARIOS
from oncall_tui.sim.server import SimServer, running_sim
from oncall_tui.sources.native import NativeGateway, Options

pytestmark = pytest.mark.integration

RUNBOOKS, _ = load_all()
BASELINE_ROUTE = "support-chat"


class SimClock:
    """Virtual time: sleeping steps the simulator by the same amount."""

    def __init__(self, server: SimServer):
        self.server = server
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if seconds > 0:
            self.server.engine.step(seconds)

    def monotonic(self) -> float:
        return self.now


@dataclass(frozen=True)
class Case:
    runbook: str
    scenario: str | None  # None: the baseline fleet, no incident staged
    diagnosis: str
    answers: dict[str, Any] = field(default_factory=dict)
    action: str | None = None  # the action step expected to verify
    mitigated: bool = False
    lookalike: str | None = None  # a scenario that must NOT reach the diagnosis
    lookalike_answers: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("provider-outage", "provider-outage", "provider_outage", action="failover",
         mitigated=True, lookalike="fallback-default"),
    Case("fallback-became-default", "fallback-default", "fallback_default",
         lookalike="provider-outage"),
    Case("failover-refusal-shift", "failover-refusals", "failover_policy_swap",
         answers={"choose": "kill"}, action="kill", mitigated=True, lookalike="provider-outage"),
    Case("safety-drift", "safety-drift", "provider_safety_drift", answers={"choose": "no"},
         lookalike="bad-model-upgrade"),
    Case("quota-exhaustion", "quota-exhaustion", "quota_exhaustion", answers={"choose": "yes"},
         action="failover", mitigated=True, lookalike="fallback-default"),
    Case("hidden-reasoning-latency", "hidden-reasoning", "hidden_reasoning_latency",
         lookalike="tool-reentrancy"),
    Case("retry-storm", "retry-storm", "retry_storm", answers={"choose": "yes"}, action="kill",
         mitigated=True, lookalike="provider-outage"),
    Case("structured-output-retry-loop", "structured-output-loop", "structured_output_retry_loop",
         answers={"choose": "no", "cap": "done"}, mitigated=True, lookalike="retry-storm"),
    Case("tool-reentrancy-loop", "tool-reentrancy", "tool_reentrancy", answers={"choose": "yes"},
         action="kill", mitigated=True, lookalike="hidden-reasoning"),
    Case("prompt-cache-thrash", "cache-thrash", "cache_thrash", lookalike="retry-storm"),
    Case("bad-model-upgrade", "bad-model-upgrade", "bad_model_upgrade", action="rollback",
         mitigated=True, lookalike="safety-drift"),
    Case("stream-chunking", "stream-chunking", "chunking_changed", answers={"choose": "failover"},
         action="failover", mitigated=True, lookalike="hidden-reasoning"),
    # The checks diagnose it from data age alone (no answer needed); the
    # responder's "done" does not make the index fresh, so verification fails
    # for real (the purge is test_stale_retrieval_verifies_after_the_purge).
    # Cache thrash is on a route that states no data age: the runbook asks.
    Case("stale-retrieval", "stale-retrieval", "stale_data", answers={"refresh": "done"},
         lookalike="cache-thrash", lookalike_answers={"confirm": "no"}),
]  # fmt: skip


def _route(scenario: str | None) -> str:
    return SCENARIOS[scenario].route if scenario else BASELINE_ROUTE


async def _run(
    tmp: Path,
    runbook_id: str,
    scenario: str | None,
    answers: dict[str, Any],
    *,
    up: bool = True,
    route: str | None = None,
) -> tuple[RunResult, Session]:
    rb = RUNBOOKS[runbook_id]
    async with running_sim(scenarios=(scenario,) if scenario else (), warmup_s=180) as server:
        clock = SimClock(server)
        url = f"http://127.0.0.1:{server.port}"
        if not up:
            await server.stop()  # the gateway is down: connection refused from now on
        gw = NativeGateway(
            Options(url=url, token_env="SIM_TOKEN", timeout_s=5),
            PluginContext(environ={"SIM_TOKEN": server.token}),
        )
        try:
            sources = Sources(gateways={"sim": gw}, trace_stores={"sim": gw})
            executor = Executor(audit=AuditLog(tmp / "audit.jsonl"), adapters={"sim": gw},
                                actor="test@runbooks", env="sim", verify_every_s=5,
                                verify_deadline_s=120, sleep=clock.sleep,
                                clock=clock.monotonic)  # fmt: skip
            actions = LifecycleActions(executor)
            inputs, steps = split_answers(rb, {"route": route or _route(scenario), **answers})
            if "route" not in rb.inputs:
                inputs.pop("route")
            session = Session.create(tmp, rb, resolve_inputs(rb, inputs), environment="sim")
            engine = Engine(session, sources=sources, actions=actions, sleep=clock.sleep,
                            monotonic=clock.monotonic, actor="test@runbooks")  # fmt: skip
            result = await drive(engine, steps, yes=True)
        finally:
            await gw.aclose()
    return result, session


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.runbook)
async def test_runbook_reaches_its_diagnosis_in_its_scenario(case: Case, tmp_path: Path) -> None:
    result, session = await _run(tmp_path, case.runbook, case.scenario, case.answers)
    assert result.status == "finished", result
    assert case.diagnosis in result.diagnoses, (result.diagnoses, result.checks)
    failing = [k for k, v in result.checks.items() if v["status"] == "error"]
    assert not failing, {k: result.checks[k]["error"] for k in failing}
    if case.action is not None:
        acted = [a for a in result.actions if a["step"] == case.action]
        assert acted and acted[0]["outcome"] == "verified", result.actions
        audit = AuditLog(tmp_path / "audit.jsonl")
        stages = [r.stage for r in audit.for_action(acted[0]["action_id"])]
        assert "executed" in stages and "verified" in stages, stages
        assert audit.verify().ok
    else:
        assert result.actions == []
    assert result.mitigated is case.mitigated, [e.type for e in session.events]
    md = to_markdown(Session.open(session.path))
    assert case.diagnosis in md


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.runbook)
async def test_runbook_in_a_lookalike_scenario_does_not_reach_it(case: Case, tmp_path) -> None:
    result, _ = await _run(tmp_path, case.runbook, case.lookalike, case.lookalike_answers)
    assert case.diagnosis not in result.diagnoses, (result.diagnoses, result.checks)
    assert result.actions == []  # nothing was changed on a false alarm
    assert not (tmp_path / "audit.jsonl").exists()


async def test_gateway_down_is_diagnosed_when_the_gateway_refuses(tmp_path: Path) -> None:
    result, _ = await _run(tmp_path, "gateway-down", None, {}, up=False)
    assert result.diagnoses == ["gateway_down"]
    assert result.checks["reach"]["status"] == "error"
    assert result.checks["verify"]["status"] == "error"  # it never came back
    assert not result.mitigated


async def test_gateway_down_not_diagnosed_when_the_gateway_answers(tmp_path: Path) -> None:
    result, _ = await _run(tmp_path, "gateway-down", None, {})
    assert "gateway_down" not in result.diagnoses
    assert result.checks["reach"]["status"] == "pass"


def test_every_shipped_runbook_has_a_live_test() -> None:
    covered = {c.runbook for c in CASES} | {"gateway-down"}
    assert covered == set(RUNBOOKS)


async def test_stale_retrieval_diagnosis_rests_on_data_age_not_on_answers(tmp_path: Path) -> None:
    result, session = await _run(tmp_path, "stale-retrieval", "stale-retrieval", {})
    assert result.status == "finished" and result.diagnoses == ["stale_data"]
    checks = result.checks
    assert checks["freshness"]["status"] == "fail"
    assert checks["freshness"]["values"]["data_age_p50_s"] > 3600
    assert checks["traces"]["status"] == "fail"
    assert checks["traces"]["values"]["median_age_s"] > 3600
    # The trace to open is named, and it is one the check analysed.
    evidence = next(e for e in session.events if e.type == "check" and e.step == "traces")
    assert checks["traces"]["values"]["oldest_trace"] in evidence.data["evidence"]["trace_ids"]
    assert checks["tool_cache"]["status"] == "fail", "cached tool results dominate"
    assert checks["quiet"]["status"] == "pass", "no error, latency or tier figure moved"
    assert checks["verify"]["status"] == "fail", "nobody fixed the index: still stale"
    assert not result.mitigated


async def test_stale_retrieval_verifies_after_the_purge(tmp_path: Path) -> None:
    """The responder fixes ingestion while the 'refresh' step waits (here: the
    scenario ends); the verify check then sees fresh data: mitigated."""
    rb = RUNBOOKS["stale-retrieval"]
    async with running_sim(scenarios=("stale-retrieval",), warmup_s=180) as server:
        clock = SimClock(server)
        gw = NativeGateway(
            Options(url=server.url, token_env="SIM_TOKEN", timeout_s=5),
            PluginContext(environ={"SIM_TOKEN": server.token}),
        )
        try:
            session = Session.create(
                tmp_path, rb, resolve_inputs(rb, {"route": "agent-assist"}), environment="sim"
            )
            sources = Sources(gateways={"sim": gw}, trace_stores={"sim": gw})
            engine = Engine(session, sources=sources, sleep=clock.sleep,
                            monotonic=clock.monotonic, actor="test@runbooks")  # fmt: skip
            wait = await engine.run()
            assert wait is not None and wait.step == "refresh", wait
            assert engine.diagnoses == ["stale_data"]
            server.engine.disable("stale-retrieval")  # re-indexed, cache purged
            engine.mark_done("re-indexed and purged")
            assert await engine.run() is None
        finally:
            await gw.aclose()
    assert engine.checks["verify"].passed
    assert engine.checks["verify"].attempts > 1, "the window had to roll past the stale minute"
    assert session.of_type("mitigated")


@pytest.mark.parametrize(
    ("scenario", "route"),
    [(None, "agent-assist"), ("hidden-reasoning", None), ("tool-reentrancy", None),
     ("bad-model-upgrade", None)],
)  # fmt: skip
async def test_stale_retrieval_not_reached_on_look_alikes(
    scenario: str | None, route: str | None, tmp_path: Path
) -> None:
    """Fresh data on the retrieval route ends at 'the data is fresh' without a
    question; on a route that states no data age the runbook asks, and 'no'
    ends it there."""
    result, session = await _run(
        tmp_path, "stale-retrieval", scenario, {"confirm": "no"}, route=route
    )
    assert "stale_data" not in result.diagnoses, result.checks
    assert result.status == "finished"
    asked = "confirm" in {e.step for e in session.events}
    if (route or _route(scenario)) == "agent-assist":
        assert result.checks["freshness"]["status"] == "pass"
        assert result.checks["freshness"]["values"]["known"] is True
        assert result.checks["traces"]["values"]["with_age"] > 0
        assert not asked, "data age is known: nobody needs to be asked"
    else:
        assert asked
