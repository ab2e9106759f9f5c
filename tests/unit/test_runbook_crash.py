"""A real `oncall-tui runbook run` killed with SIGKILL mid-runbook resumes where
it was, with its timeline intact (every line it wrote is still there and the
next run appends after it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUNBOOK = """\
id: slow-check
title: Slow check
summary: A repeating check that keeps the run busy long enough to kill it.
match: {alerts: [test]}
inputs:
  route: {type: route}
steps:
  - {id: ack, kind: note, title: Start, text: "started on {route}"}
  - id: poll
    kind: check
    title: The gateway answers
    query: {source: gateway_status, route: "{route}"}
    pass: "true"
    repeat: {every_s: 0.2, deadline_s: 4}
  - {id: after, kind: note, title: After the poll, text: "poll finished", diagnosis: polled}
"""


def _events(state: Path) -> list[dict]:
    files = list((state / "oncall-tui" / "incidents").glob("*.jsonl"))
    assert len(files) == 1
    lines = files[0].read_bytes().split(b"\n")
    return [json.loads(line) for line in lines if line.strip()]


def test_sigkill_mid_runbook_then_resume(tmp_path: Path, cli_env: dict[str, str]) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "slow-check.yaml").write_text(RUNBOOK)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"runbook_paths: [{books}]\nenvironments:\n  empty: {{}}\n")
    cli_env["ONCALL_TUI_CONFIG"] = str(cfg)
    state = Path(cli_env["XDG_STATE_HOME"])
    cmd = [sys.executable, "-m", "oncall_tui", "runbook", "run", "slow-check", "--answer",
           "route=chat"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                attempts = [e for e in _events(state) if e["type"] == "check_attempt"]
            except AssertionError:
                attempts = []
            if len(attempts) >= 3:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the run never reached the polling check")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    before = _events(state)
    assert [e["seq"] for e in before] == list(range(1, len(before) + 1))
    assert not any(e["type"] == "closed" for e in before)
    assert before[-1]["step"] == "poll"
    incident = next((state / "oncall-tui" / "incidents").glob("*.jsonl")).stem

    # The file changes after the crash: the session resumes with the runbook it began with.
    (books / "slow-check.yaml").write_text(RUNBOOK.replace("poll finished", "CHANGED"))
    resumed = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "runbook", "run", "--resume", incident, "--json"],
        env=cli_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "finished" and data["diagnoses"] == ["polled"]
    after = _events(state)
    assert after[: len(before)] == before  # nothing rewritten
    assert [e["seq"] for e in after] == list(range(1, len(after) + 1))
    started = [e for e in after if e["type"] == "step_started"]
    assert [e["step"] for e in started] == ["ack", "poll", "after"]  # the note ran once
    assert not any("CHANGED" in json.dumps(e) for e in after)
