"""A damaged audit log: actions go on loudly, `audit repair` mends it and says
what it removed, the anchor catches a cut end, lock files do not pile up; and a
re-run of an action that ended not verified looks once and says what to do."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oncall_tui.actions import AuditLog, Confirmation, Executor
from oncall_tui.actions.audit import REPAIR_STAGE
from tests.unit.test_actions_faults import SPEC, FakeUnleash, make_executor


def _fill(path: Path, n: int = 4) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append(
            action_id="act-1",
            key="k1",
            stage=f"s{i}",
            actor="me",
            env="prod",
            kind="kill_switch",
            route="chat",
            data={"detail": f"stage {i}"},
        )
    return log


async def _act(ex: Executor) -> object:
    async with ex:
        plan = await ex.plan(SPEC)
        return await ex.execute(plan, confirm=Confirmation(assume_yes=True))


def _edit_line(path: Path, index: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    doc = json.loads(lines[index])
    doc["actor"] = "someone-else"
    lines[index] = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    "damage",
    [b"this is not json\n", b"\n", b'{"v":1,"seq":"x"}\n'],
    ids=["junk", "blank", "not-a-record"],
)
@pytest.mark.parametrize("where", ["middle", "end"])
async def test_a_junk_or_blank_line_does_not_stop_an_action_and_repair_mends_it(
    tmp_path: Path, damage: bytes, where: str
) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    lines = path.read_bytes().splitlines(keepends=True)
    at = 2 if where == "middle" else len(lines)
    path.write_bytes(b"".join(lines[:at]) + damage + b"".join(lines[at:]))
    assert [p.kind for p in AuditLog(path).verify().problems] == ["unreadable"]

    fake = FakeUnleash()
    result = await _act(make_executor(fake, tmp_path))
    assert result.outcome == "verified"  # type: ignore[attr-defined]
    assert any("damaged" in w for w in result.warnings)  # type: ignore[attr-defined]
    log = AuditLog(path)
    confirmed = next(r for r in log.records() if r.stage == "confirmed")
    assert any("unreadable" in w for w in confirmed.data["log_damaged"])

    repaired = log.repair(actor="me@host")
    assert repaired.changed and [r["kind"] for r in repaired.removed] == ["unreadable"]
    assert repaired.sidecar is not None and Path(repaired.sidecar).read_bytes() == damage
    assert log.verify().ok
    last = log.records()[-1]
    assert last.stage == REPAIR_STAGE and last.actor == "me@host"
    assert last.data["removed"][0]["line"] == at + 1
    # The chain goes on from the repair record.
    log.append(action_id="a", key="k", stage="x", actor="me", env="e", kind="k", route="r")
    assert log.verify().ok
    assert log.repair(actor="me").changed is False


async def test_an_edited_line_warns_every_action_and_repair_keeps_it_aside(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    _edit_line(path, 1)
    fake = FakeUnleash()
    async with make_executor(fake, tmp_path) as ex:
        plan = await ex.plan(SPEC)
        assert any("edited" in w for w in plan.warnings)
        assert any("WARNING" in line for line in plan.describe())
        result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.warnings and result.outcome == "verified"
    log = AuditLog(path)
    confirmed = next(r for r in log.records() if r.stage == "confirmed")
    assert any("edited: line 2" in w for w in confirmed.data["log_damaged"])

    edited = path.read_bytes().splitlines(keepends=True)[1]
    report = log.repair(actor="me")
    assert [(r["line"], r["kind"]) for r in report.removed] == [(2, "edited")]
    assert report.sidecar is not None and Path(report.sidecar).read_bytes() == edited
    # The gap the removal left is recorded in the repair record, so the chain
    # verifies again, and says it was repaired.
    check = log.verify()
    assert check.ok and check.repaired == 1, check.problems
    assert log.records()[-1].data["accepted"][0]["kinds"] == ["chain", "sequence"]


def test_a_cut_last_line_or_an_emptied_log_is_caught_by_the_anchor_and_repaired(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = _fill(path)
    anchor = json.loads((tmp_path / "audit.jsonl.anchor").read_text())
    assert anchor["seq"] == 3 and anchor["hash"] == log.records()[-1].hash
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    assert [p.kind for p in log.verify().problems] == ["truncated"]
    report = log.repair(actor="me")
    assert report.truncated is not None and "seq 3" in report.truncated
    assert log.verify().ok
    assert log.records()[-1].data["truncated"] == report.truncated

    path.write_bytes(b"")
    problems = log.verify().problems
    assert [p.kind for p in problems] == ["truncated"]
    assert log.repair(actor="me").changed and log.verify().ok
    assert [r.stage for r in log.records()] == [REPAIR_STAGE]

    path.unlink()
    assert [p.kind for p in log.verify().problems] == ["truncated"]


async def test_lock_files_are_removed_when_the_action_ends_and_stale_ones_swept(
    tmp_path: Path,
) -> None:
    locks = tmp_path / "audit.jsonl.locks"
    locks.mkdir()
    (locks / "otui-stale.lock").write_bytes(b"")  # left by a console killed mid-action
    held = locks / "otui-running.lock"
    fd = os.open(held, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another console, acting right now
    try:
        await _act(make_executor(FakeUnleash(), tmp_path))
        assert sorted(p.name for p in locks.iterdir()) == ["otui-running.lock"]
    finally:
        os.close(fd)
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.sweep_locks() == 1 and list(locks.iterdir()) == []


def test_a_lock_removed_by_its_holder_is_not_taken_twice(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with log.key_lock("k"):
        path = tmp_path / "a.jsonl.locks" / "k.lock"
        stale_fd = os.open(path, os.O_RDWR)  # opened while the holder still runs
    try:
        # The holder unlinked the file: locking the old inode must not count.
        fcntl.flock(stale_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with log.key_lock("k"):
            assert path.exists()
            assert os.stat(path).st_ino != os.fstat(stale_fd).st_ino
    finally:
        os.close(stale_fd)


def test_cli_audit_repair_reports_what_it_removed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "a.jsonl"
    _fill(path)
    with path.open("ab") as f:
        f.write(b"garbage\n")
    base = [sys.executable, "-m", "oncall_tui", "audit"]
    bad = subprocess.run(
        [*base, "verify", "--file", str(path)],
        env=cli_env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "unreadable: line 5" in bad.stdout
    fixed = subprocess.run(
        [*base, "repair", "--file", str(path), "--json"],
        env=cli_env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert fixed.returncode == 0, fixed.stderr
    doc = json.loads(fixed.stdout)
    assert doc["ok"] and doc["removed"][0]["line"] == 5
    assert Path(doc["moved_to"]).read_bytes() == b"garbage\n"
    assert doc["record"]["stage"] == REPAIR_STAGE
    ok = subprocess.run(
        [*base, "verify", "--file", str(path)],
        env=cli_env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout


class Stuck(FakeUnleash):
    def apply(self, enabled: bool) -> None:  # accepted, then lost (a restart)
        pass


async def test_a_rerun_of_a_not_verified_action_looks_once_and_names_the_commands(
    tmp_path: Path,
) -> None:
    fake = Stuck()
    first = await _act(make_executor(fake, tmp_path))
    assert first.outcome == "not_verified" and first.verify_polls >= 2  # type: ignore[attr-defined]
    ex = make_executor(fake, tmp_path)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    ex.sleep = sleep
    again = await _act(ex)
    assert again.outcome == "not_verified"  # type: ignore[attr-defined]
    assert again.verify_polls == 1 and slept == []  # type: ignore[attr-defined]
    hint = again.hint  # type: ignore[attr-defined]
    assert "oncall-tui kill-switch summarizer --reason 'INC-42 bad answers' --id" in hint
    assert "--yes --wait" in hint
    assert fake.writes == 1  # nothing re-sent
    last = AuditLog(tmp_path / "audit.jsonl").records()[-1]
    assert last.stage == "not_verified" and last.data["hint"] == hint
    # Asked to wait: the whole deadline again.
    async with make_executor(fake, tmp_path) as ex:
        waited = await ex.execute(
            await ex.plan(SPEC), confirm=Confirmation(assume_yes=True), wait=True
        )
    assert waited.verify_polls >= 2
