"""bench/onset.py at a tiny size: the real pipeline (fleet generated in
embedded ClickHouse, the adapter's SQL through its HTTP path, fetch-all
analysed here) prints its table, the ratio and the planted changes; without
chdb it says why and exits 0. The 1M-trace run is `python -m bench.onset`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.onset", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=True,
        env=env,
    )


def test_a_tiny_fleet_prints_times_memory_ratio_and_the_planted_changes() -> None:
    pytest.importorskip("chdb")
    out = run("--sizes", "2000", "--sample", "300").stdout
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["traces", "spans"]
    assert lines[1].split()[0] == "2,000"
    assert "fetch-all and analyse here:" in out
    assert "measured on the first 300 traces, extrapolated linearly" in out
    assert "pushdown vs fetch-all at 2,000 traces:" in out
    # Dated by the first trace carrying the new value: within minutes of the change.
    assert re.search(r"change found: 14:0\d agent-assist tool_definition lookup_order", out)
    assert re.search(r"change found: 09:0\d search model_version gpt-4o: \S+08-06 -> \S+11-20", out)


def test_without_chdb_it_says_why_and_skips(tmp_path: Path) -> None:
    blocker = tmp_path / "chdb"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = run("--sizes", "10", env=env).stdout
    assert out.startswith("bench.onset skipped: chdb is not installed (blocked for this test)")
