"""The runbook engine driven headless, against an in-memory gateway.

These pin the state machine (checks, repeat, decisions, answers, actions,
skips) and the session's crash/resume behaviour. The shipped library is run
against the real simulator in tests/integration/test_runbook_library.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from oncall_tui.core.gateway import (
    ActionRecord,
    ModelRef,
    Route,
    RoutesResponse,
    RouteStatus,
    RouteVersion,
    StatusResponse,
    TierShare,
)
from oncall_tui.errors import UsageError
from oncall_tui.runbook import format as fmt
from oncall_tui.runbook.acting import DirectActions
from oncall_tui.runbook.engine import Engine, resolve_inputs
from oncall_tui.runbook.export import to_json, to_markdown
from oncall_tui.runbook.headless import drive
from oncall_tui.runbook.queries import Sources
from oncall_tui.runbook.session import Session, hold

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
PRIMARY = ModelRef("openai", "gpt-x")
SECOND = ModelRef("anthropic", "claude-y")


class FakeGateway:
    """Implements GatewayStatus, Rollback and KillSwitch in memory."""

    def __init__(self, primary_share: float, version: str = "v2"):
        self.primary_share = primary_share
        self.version = version
        self.kill = False
        self.calls: list[tuple[str, str]] = []
        self.status_reads = 0

    async def routes(self) -> RoutesResponse:
        history = (
            RouteVersion("v1", PRIMARY, NOW),
            RouteVersion("v2", PRIMARY, NOW),
        )
        route = Route("chat", PRIMARY, self.version, (SECOND,), self.kill, history)
        return RoutesResponse(NOW, (route,))

    async def status(self, window_s: int = 300) -> StatusResponse:
        self.status_reads += 1
        mix = (
            TierShare(PRIMARY.key, self.primary_share),
            TierShare(SECOND.key, 1 - self.primary_share),
        )
        rs = RouteStatus(
            "chat", window_s, tier_mix=mix, tier_slo=0.9, kill_switch=self.kill,
            serving_version=self.version,
        )  # fmt: skip
        return StatusResponse(NOW, window_s, (rs,))

    async def rollback(
        self, route: str, *, to_version: str, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append(("rollback", idempotency_key))
        before = self.version
        if all(key != idempotency_key for _, key in self.calls[:-1]):
            self.version = to_version
            self.primary_share = 0.97
        return ActionRecord(
            "a1", "rollback", route, "applied", actor, reason, idempotency_key, NOW,
            before={"version": before}, after={"version": to_version},
        )  # fmt: skip

    async def set_kill_switch(
        self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append(("kill_switch", idempotency_key))
        self.kill = enabled
        return ActionRecord(
            "a2", "kill_switch", route, "applied", actor, reason, idempotency_key, NOW
        )


RUNBOOK = """\
id: tier-drift
title: Tier drift on {route}
summary: Primary tier share under its SLO.
postmortem: ["Why did the primary stop serving?"]
inputs:
  route: {type: route}
  target: {type: version, default: v1, required: false}
steps:
  - {id: ack, kind: manual, title: Acknowledge the page}
  - id: tier
    kind: check
    title: Primary tier serves its SLO share
    query: {source: gateway_status, route: "{route}"}
    let: {share: primary_share, slo: "default(tier_slo, 0.9)"}
    pass: share >= slo
  - id: which
    kind: decision
    title: Drifted?
    branches:
      - {when: "not checks.tier.passed", goto: confirm, label: drifted}
    otherwise: healthy
  - id: confirm
    kind: decision
    title: Roll back?
    question: Roll {route} back to {target}?
    choices: ["yes", "no"]
    diagnosis: tier_drift
    branches:
      - {when: "answer == 'yes'", goto: rollback}
    otherwise: end
  - id: rollback
    kind: action
    title: Roll back
    action: rollback
    route: "{route}"
    to_version: "{target}"
    reason: tier drift
  - id: verify
    kind: check
    title: Primary is back
    query: {source: gateway_status, route: "{route}"}
    pass: primary_share >= 0.9 and serving_version == inputs.target
    repeat: {every_s: 1, deadline_s: 3}
    mitigates: true
    end: true
  - {id: healthy, kind: note, title: Healthy, text: "tier mix fine on {route}",
     diagnosis: not_tier_drift}
"""


@pytest.fixture
def runbook(tmp_path: Path) -> fmt.Runbook:
    path = tmp_path / "rb.yaml"
    path.write_text(RUNBOOK)
    return fmt.load_file(path)


async def _nosleep(_: float) -> None:
    return None


class Clock:
    """Virtual time: sleeping advances it, so deadlines pass without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _engine(session: Session, gw: FakeGateway) -> Engine:
    clock = Clock()
    sources = Sources(gateways={"main": gw})
    actions = DirectActions(sources, verify_every_s=1, verify_deadline_s=5, sleep=clock.sleep,
                            monotonic=clock.monotonic)  # fmt: skip
    return Engine(session, sources=sources, actions=actions, sleep=clock.sleep,
                  monotonic=clock.monotonic)  # fmt: skip


async def test_drift_is_diagnosed_rolled_back_and_verified(runbook: fmt.Runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(tmp_path, runbook, resolve_inputs(runbook, {"route": "chat"}),
                             environment="test")  # fmt: skip
    engine = _engine(session, gw)
    wait = await engine.run()
    assert wait is not None and wait.kind == "mark" and wait.step == "ack"
    engine.mark_done()
    wait = await engine.run()
    assert wait is not None and wait.kind == "answer"
    assert wait.prompt == "Roll chat back to v1?"
    assert engine.checks["tier"].status == "fail"
    assert engine.checks["tier"].values == {"share": 0.4, "slo": 0.9}
    assert engine.diagnoses == ["tier_drift"]
    engine.answer("yes")
    wait = await engine.run()
    assert wait is not None and wait.kind == "confirm" and wait.dangerous
    assert wait.plan == "rollback to v1 on route chat (dangerous)"
    result = await engine.confirm(yes=True)
    assert result is not None and result.outcome == "verified"
    assert gw.calls == [("rollback", f"{session.id}:rollback")]
    assert await engine.run() is None
    assert engine.finished
    assert engine.checks["verify"].passed
    types = [e.type for e in session.events]
    assert types.count("mitigated") == 1 and types[-1] == "closed"


async def test_healthy_route_does_not_reach_the_diagnosis(runbook: fmt.Runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.97)
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    engine = _engine(session, gw)
    await engine.run()
    engine.skip("already acknowledged in the pager")
    assert await engine.run() is None
    assert engine.diagnoses == ["not_tier_drift"]
    assert gw.calls == []


async def test_check_on_a_missing_route_is_an_error_never_a_pass(runbook, tmp_path: Path):
    session = Session.create(tmp_path, runbook, {"route": "nope", "target": "v1"}, environment=None)
    engine = _engine(session, FakeGateway(primary_share=1.0))
    await engine.run()
    engine.mark_done()
    await engine.run()
    assert engine.checks["tier"].status == "error"
    assert "no route 'nope'" in (engine.checks["tier"].error or "")


async def test_repeat_polls_until_deadline_and_keeps_each_attempt(runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    engine = _engine(session, gw)
    await engine.run()
    engine.mark_done()
    await engine.run()
    engine.answer("yes")
    await engine.run()
    result = await engine.confirm(yes=False)  # declined: nothing changes
    assert result is None and gw.calls == []
    await engine.run()
    verify = next(e for e in session.events if e.step == "verify" and e.type == "check")
    assert verify.data["status"] == "fail" and verify.data["attempts"] >= 2
    assert session.of_type("check_attempt")
    assert not session.of_type("mitigated")


async def test_killed_session_resumes_where_it_was(runbook: fmt.Runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    engine = _engine(session, gw)
    await engine.run()
    engine.mark_done()
    await engine.run()
    engine.answer("yes")
    await engine.run()
    # The console dies mid-action: the start is on disk, the result is not,
    # and the last line was cut off mid-write.
    session.append("action_started", "rollback", spec={"kind": "rollback"})
    await gw.rollback("chat", to_version="v1", reason="r", actor="a",
                      idempotency_key=f"{session.id}:rollback")  # fmt: skip
    before = session.path.read_bytes()
    with session.path.open("ab") as fh:
        fh.write(b'{"seq": 99, "at": "2026-')
    resumed = Session.open(session.path)
    assert resumed.torn is not None and "line" in resumed.torn
    assert session.path.read_bytes() == before
    engine2 = _engine(resumed, gw)
    assert engine2.current_id == "rollback"
    assert engine2.interrupted_action() == "rollback"
    assert engine2.checks["tier"].status == "fail" and engine2.answers == {"confirm": "yes"}
    wait = await engine2.run()
    assert wait is not None and wait.kind == "confirm"
    result = await engine2.confirm(yes=True)
    assert result is not None and result.outcome == "verified"
    # Same idempotency key both times: the gateway applied it once.
    assert [k for _, k in gw.calls] == [f"{session.id}:rollback"] * 2
    await engine2.run()
    assert engine2.finished
    seqs = [e.seq for e in Session.open(session.path).events]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_export_reads_as_a_postmortem(runbook: fmt.Runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(
        tmp_path, runbook, {"route": "chat", "target": "v1"}, environment="prod"
    )
    engine = _engine(session, gw)
    await engine.run()
    engine.mark_done()
    await engine.run()
    engine.answer("yes")
    await engine.run()
    await engine.confirm(yes=True)
    await engine.run()
    md = to_markdown(Session.open(session.path))
    assert md.startswith(f"# Incident {session.id}: Tier drift on chat")
    for heading in ("## Summary", "## Timeline", "## Actions", "## Postmortem questions"):
        assert heading in md
    assert "Time to mitigate" in md and "tier_drift" in md
    assert "rollback to v1 on route chat" in md and "verified" in md
    assert "Why did the primary stop serving?" in md
    data = msgspec.json.decode(to_json(Session.open(session.path)))
    assert data["incident"] == session.id
    assert data["diagnoses"] == ["tier_drift"]
    assert data["actions"][0]["outcome"] == "verified"
    assert data["time_to_mitigate_s"] is not None and data["time_to_mitigate_s"] >= 0


def test_inputs_are_typed_and_every_missing_one_named(runbook: fmt.Runbook) -> None:
    with pytest.raises(UsageError, match="needs input route"):
        resolve_inputs(runbook, {})
    with pytest.raises(UsageError, match="has no input rout"):
        resolve_inputs(runbook, {"rout": "x"})
    assert resolve_inputs(runbook, {"route": "chat"}) == {"route": "chat", "target": "v1"}


async def test_read_only_environment_never_acts(runbook: fmt.Runbook, tmp_path: Path) -> None:
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    sources = Sources(gateways={"main": gw})
    clock = Clock()
    engine = Engine(session, sources=sources, actions=None, read_only=True, sleep=clock.sleep,
                    monotonic=clock.monotonic)  # fmt: skip
    result = await drive(engine, {"ack": "done", "confirm": "yes"}, yes=True)
    assert gw.calls == []
    skipped = [e for e in session.events if e.step == "rollback" and e.type == "manual"]
    assert skipped[0].data["reason"] == "read-only environment: no actions"
    assert result.status == "finished" and not result.mitigated


async def test_headless_stops_for_a_missing_answer_and_resumes(runbook, tmp_path: Path):
    gw = FakeGateway(primary_share=0.4)
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    result = await drive(_engine(session, gw), {}, yes=False)
    assert result.status == "needs_answer" and result.waiting is not None
    assert result.waiting["step"] == "confirm"
    skipped = next(e for e in session.events if e.step == "ack" and e.type == "manual")
    assert skipped.data == {"outcome": "skipped", "reason": "headless run: nobody did this step"}
    again = await drive(_engine(Session.open(session.path), gw), {"confirm": "yes"}, yes=False)
    assert again.status == "planned" and again.plan == "rollback to v1 on route chat (dangerous)"
    assert gw.calls == []
    final = await drive(_engine(Session.open(session.path), gw), {}, yes=True)
    assert final.status == "finished" and final.mitigated
    assert len(gw.calls) == 1


def test_one_driver_per_incident(runbook: fmt.Runbook, tmp_path: Path) -> None:
    session = Session.create(tmp_path, runbook, {"route": "chat", "target": "v1"}, environment=None)
    busy = pytest.raises(UsageError, match="being driven by another process")
    with hold(session.path), busy, hold(session.path):
        pass
    with hold(session.path):  # released when the first driver is done
        pass


class FailoverGateway(FakeGateway):
    async def failover(
        self, route: str, *, to_tier: str | None, reason: str, actor: str, idempotency_key: str
    ) -> ActionRecord:
        self.calls.append(("failover", str(to_tier)))
        return ActionRecord("a3", "failover", route, "applied", actor, reason, idempotency_key, NOW)


async def test_failover_to_next_tier_names_the_first_fallback() -> None:
    from oncall_tui.runbook.acting import ActionSpec

    gw = FailoverGateway(primary_share=0.2)
    actions = DirectActions(Sources(gateways={"main": gw}), verify_deadline_s=0)
    spec = ActionSpec("failover", "chat", "r", "a", "k")
    result = await actions.execute(spec)
    # Never sent as "no tier" (the protocol would read that as "clear the failover").
    assert gw.calls == [("failover", SECOND.key)]
    assert result.outcome == "verified"  # the fallback is the top tier in this status


async def test_failover_without_any_fallback_fails_and_sends_nothing() -> None:
    from oncall_tui.runbook.acting import ActionSpec

    class Lonely(FailoverGateway):
        async def routes(self) -> RoutesResponse:
            return RoutesResponse(NOW, (Route("chat", PRIMARY, "v2"),))

    gw = Lonely(primary_share=0.2)
    result = await DirectActions(Sources(gateways={"g": gw})).execute(
        ActionSpec("failover", "chat", "r", "a", "k")
    )
    assert result.outcome == "refused" and "no fallback tier" in result.detail
    assert gw.calls == []


def test_postmortem_lists_each_finding_kind_once_with_its_traces(
    runbook: fmt.Runbook, tmp_path: Path
) -> None:
    """Twenty traces with the same finding are one fact with witnesses: one
    line per kind, worst first, up to three trace ids and how many more."""
    session = Session.create(
        tmp_path, runbook, {"route": "chat", "target": "v1"}, environment="prod"
    )

    def finding(kind: str, severity: str, trace: int) -> dict[str, str]:
        return {"kind": kind, "severity": severity, "trace_id": f"{trace:032x}", "summary": kind}

    found = [finding("error_swallowed", "low", t) for t in range(5)]
    found.append(finding("reentrancy_cycle", "high", 9))
    session.append("check", "look", status="fail", evidence={"findings": found})
    md = to_markdown(Session.open(session.path))
    lines = [line for line in md.splitlines() if line.startswith("- ") and "`" in line]
    high = next(i for i, line in enumerate(lines) if "reentrancy_cycle" in line)
    low = [line for line in lines if "error_swallowed" in line]
    assert len(low) == 1 and high < lines.index(low[0])
    assert "in 5 traces" in low[0] and "and 2 more" in low[0]
    assert f"`{9:032x}`" in lines[high] and "in trace (" in lines[high]
