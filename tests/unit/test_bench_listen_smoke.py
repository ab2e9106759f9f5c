"""The listen benchmark measures the real receiver and live store: a tiny
run, never the 100k-span one (that is `python -m bench.listen`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.listen import make_batches, one

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_trace_is_received_settled_and_analysed_in_both_encodings() -> None:
    pb, js, spans, traces = make_batches(1_000)
    assert len(pb) == len(js) >= 2 and spans >= 1_000
    for bodies, ctype in ((pb, "application/x-protobuf"), (js, "application/json")):
        r = one(bodies, ctype, spans, traces, connections=2)
        assert r["failures"] == 0 and r["spans"] == spans
        assert r["traces"] == traces, "each trace settled once, whole"
        assert r["cycles"] == traces, "each generated run holds a reentrancy cycle"
        assert r["received_per_s"] > 0 and r["assembled_per_s"] > 0 and r["per_cpu_s"] > 0
        assert r["repaints"] >= 1


def test_bench_command_prints_both_encodings_against_the_goal() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.listen", "--spans", "600", "--connections", "2"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    lines = proc.stdout.splitlines()
    assert "goal 20000 spans/s" in lines[0]
    assert [ln.split()[0] for ln in lines[2:]] == ["protobuf", "json"]
