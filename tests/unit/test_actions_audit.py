"""The audit log: hash chain, fsync order, and every kind of tampering `verify` must catch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.actions.audit import AuditLog
from oncall_tui.errors import ActionError


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


def test_a_clean_log_verifies_and_reads_back_in_order(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    report = log.verify()
    assert report.ok and report.records == 4
    records = log.records()
    assert [r.stage for r in records] == ["s0", "s1", "s2", "s3"]
    assert [r.seq for r in records] == [0, 1, 2, 3]
    assert records[1].prev == records[0].hash
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o600


def test_an_edited_line_is_found_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _fill(path)
    lines = path.read_text().splitlines(keepends=True)
    doc = json.loads(lines[2])
    doc["actor"] = "someone-else"
    lines[2] = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines))
    report = AuditLog(path).verify()
    assert not report.ok
    assert [(p.line, p.kind) for p in report.problems] == [(3, "edited")]


def test_an_edit_that_recomputes_its_own_hash_still_breaks_the_chain(tmp_path: Path) -> None:
    from oncall_tui.actions.audit import _digest

    path = tmp_path / "a.jsonl"
    _fill(path)
    lines = path.read_text().splitlines(keepends=True)
    doc = json.loads(lines[1])
    doc["data"]["detail"] = "nothing happened"
    doc["hash"] = _digest(doc)
    lines[1] = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines))
    problems = AuditLog(path).verify().problems
    assert (3, "chain") in [(p.line, p.kind) for p in problems]


def test_a_deleted_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _fill(path)
    lines = path.read_text().splitlines(keepends=True)
    del lines[1]
    path.write_text("".join(lines))
    problems = AuditLog(path).verify().problems
    assert {(p.line, p.kind) for p in problems} == {(2, "chain"), (2, "sequence")}


def test_reordered_lines_are_found(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _fill(path)
    lines = path.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("".join(lines))
    report = AuditLog(path).verify()
    assert not report.ok
    assert {p.line for p in report.problems} >= {2, 3}


def test_a_deleted_last_line_is_caught_by_the_anchor(tmp_path: Path) -> None:
    # Truncating the tail leaves a valid prefix of the chain; the anchor beside
    # the log (the last record's seq and hash) is what says the end is missing.
    path = tmp_path / "a.jsonl"
    _fill(path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    problems = AuditLog(path).verify().problems
    assert [p.kind for p in problems] == ["truncated"]
    assert "seq 3" in problems[0].message
    # The residual risk (docs/actions.md): whoever also removes the anchor
    # is not caught.
    (tmp_path / "a.jsonl.anchor").unlink()
    assert AuditLog(path).verify().ok


def test_a_torn_last_line_is_reported_and_blocks_further_appends(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = _fill(path)
    with path.open("ab") as f:
        f.write(b'{"v":1,"seq":4,"ts":"2026-')  # a write cut off by a crash
    report = log.verify()
    assert [(p.line, p.kind) for p in report.problems] == [(5, "torn")]
    assert "line 5" in report.problems[0].message
    assert [r.stage for r in log.records()] == ["s0", "s1", "s2", "s3"]
    with pytest.raises(ActionError, match="torn"):
        log.append(action_id="a", key="k", stage="x", actor="me", env="e", kind="k", route="r")
    # 'audit repair' moves only the torn bytes aside; the chain goes on intact.
    sidecar = log.repair_torn_tail()
    assert sidecar is not None and sidecar.read_bytes() == b'{"v":1,"seq":4,"ts":"2026-'
    assert log.verify().ok and log.repair_torn_tail() is None
    record = log.append(action_id="a", key="k", stage="x", actor="me", env="e", kind="k", route="r")
    assert record.seq == 4 and log.verify().ok


def test_cli_audit_verify_exit_codes_and_json(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import subprocess
    import sys

    path = tmp_path / "a.jsonl"
    _fill(path)
    argv = [sys.executable, "-m", "oncall_tui", "audit", "verify", "--file", str(path), "--json"]
    ok = subprocess.run(argv, env=cli_env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[2:]))
    bad = subprocess.run(argv, env=cli_env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False and doc["problems"][0]["line"] == 2


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=12),
    op=st.sampled_from(["edit", "delete", "swap", "duplicate", "tear"]),
    data=st.data(),
)
def test_any_single_tamper_is_found(
    tmp_path_factory: pytest.TempPathFactory, n: int, op: str, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("audit") / "a.jsonl"
    _fill(path, n)
    lines = path.read_text().splitlines(keepends=True)
    i = data.draw(st.integers(min_value=0, max_value=n - 2), label="line")
    if op == "edit":
        doc = json.loads(lines[i])
        doc["route"] = doc["route"] + "x"
        lines[i] = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    elif op == "delete":
        del lines[i]
    elif op == "swap":
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    else:
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path.write_text("".join(lines))
    assert not AuditLog(path).verify().ok


def test_each_stage_is_on_disk_before_the_next_stage_starts(tmp_path: Path) -> None:
    """The target is called only after 'attempt' is durable, and verification
    only after 'executed' is."""
    import asyncio
    from datetime import UTC, datetime

    from oncall_tui.actions import ActionSpec, Confirmation, Executor
    from oncall_tui.core.gateway import ActionRecord
    from oncall_tui.sources.capabilities import ActionIntent, Observation

    path = tmp_path / "a.jsonl"
    seen: dict[str, list[str]] = {}

    def on_disk() -> list[str]:
        return [json.loads(line)["stage"] for line in path.read_text().splitlines()]

    class Target:
        target = "test target"
        on = False

        def repeat_safe(self, kind: str) -> bool:
            return True

        async def capture(self, intent: ActionIntent) -> dict[str, str | bool | None]:
            return {"kill_switch": self.on}

        async def observe(self, intent: ActionIntent) -> Observation:
            seen.setdefault("observe", on_disk())
            return Observation(holds=self.on, detail="read back")

        async def set_kill_switch(
            self, route: str, *, enabled: bool, reason: str, actor: str, idempotency_key: str
        ) -> ActionRecord:
            seen["call"] = on_disk()
            self.on = enabled
            now = datetime.now(UTC)
            return ActionRecord(
                id="x",
                kind="kill_switch",
                route=route,
                state="applied",
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
                requested_at=now,
            )

    async def go() -> None:
        ex = Executor(
            audit=AuditLog(path), adapters={"t": Target()}, actor="me", env="prod", verify_every_s=0
        )
        plan = await ex.plan(ActionSpec(kind="kill_switch", route="chat", enabled=True, reason="r"))
        await ex.execute(plan, confirm=Confirmation(assume_yes=True))

    asyncio.run(go())
    assert seen["call"] == ["captured", "planned", "confirmed", "attempt"]
    assert seen["observe"] == ["captured", "planned", "confirmed", "attempt", "executed"]


def test_audit_show_says_how_far_each_action_got(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import subprocess
    import sys

    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    for action, stages in (
        ("act-done", ["captured", "attempt", "executed", "verified", "undo_ready"]),
        ("act-cut", ["captured", "attempt"]),
    ):
        for stage in stages:
            log.append(
                action_id=action,
                key=action,
                stage=stage,
                actor="me",
                env="prod",
                kind="kill_switch",
                route="chat",
            )
    assert log.last_stages() == {"act-done": "undo_ready", "act-cut": "attempt"}
    out = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "audit", "show", "--file", str(path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "act-cut: got as far as 'attempt' (INTERRUPTED" in out.stdout
    assert "act-done: got as far as 'undo_ready' (done)" in out.stdout
