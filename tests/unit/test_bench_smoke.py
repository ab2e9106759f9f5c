"""The benchmark must measure the real pipeline on a trace that exercises it:
a tiny run, never the 1M-span one (that is `make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.gen import generate
from oncall_tui.core.analysis import analyze
from oncall_tui.sources.detect import read_traces

ROOT = Path(__file__).resolve().parent.parent.parent


def test_generated_trace_exercises_cycles_and_repeats() -> None:
    [trace] = read_traces(generate(3_000), source="bench")
    assert 2_990 <= len(trace.spans) <= 3_000
    a = analyze(trace)
    assert a.cycles and a.cycles[0].laps >= 2
    assert {"reentrancy_cycle", "repeated_tool_call"} <= {f.kind for f in a.findings}
    assert a.quality == []


def test_bench_command_prints_ratio_and_slope() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "1000,2000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert "per-span cost slope 1000 -> 2000" in proc.stdout
    assert proc.stdout.splitlines()[1].split()[0] == "1000"


def test_the_edge_count_bound_builds_the_same_call_graph_as_analyze() -> None:
    """The bench's interpreted lower bound must do real work, not less: its
    parent->child node edges are the call edges `analyze` finds (plus the
    root's edge from nowhere)."""
    from collections import Counter

    from bench import __main__ as bench_main

    data = generate(3_000)
    [trace] = read_traces(data, source="bench")
    calls = Counter(
        {(e.source, e.target): e.count for e in analyze(trace).graph.edges if e.kind == "call"}
    )
    assert bench_main._edges_only(data) == len(calls) + 1
