"""`oncall-tui trace analyze|graph` as a script and a person use them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

from tests.builders import TraceBuilder


def run(args: list[str], env: dict[str, str], stdin: bytes | None = None):
    return subprocess.run(
        [sys.executable, "-m", "oncall_tui", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def _reentrant_file(tmp_path) -> tuple[str, TraceBuilder]:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    a1 = b.tool("search", m1, 10, 890)
    m2 = b.model(a1, 20, 880)
    b.tool("search", m2, 30, 870)
    path = tmp_path / "loop.json.gz"
    path.write_bytes(gzip.compress(b.otlp()))
    return str(path), b


def test_analyze_json_reports_cycle_and_fails_on_high(tmp_path, cli_env) -> None:
    path, b = _reentrant_file(tmp_path)
    proc = run(["trace", "analyze", path, "--json"], cli_env)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    [trace] = doc["traces"]
    assert doc["failed"] is True and doc["fail_on"] == "high"
    assert trace["summary"]["span_count"] == len(b.spans)
    [cycle] = trace["cycles"]
    assert set(cycle["nodes"]) == {"tool:search", "model:openai/gpt-x"}
    assert trace["findings"][0]["kind"] == "reentrancy_cycle"
    # The same file passes a gate set above the finding's severity.
    assert run(["trace", "analyze", path, "--fail-on", "critical"], cli_env).returncode == 0


def test_analyze_stdin_human_output(cli_env) -> None:
    b = TraceBuilder()
    agent = b.agent("support", end=100)
    b.model(agent, 0, 10)
    proc = run(["trace", "analyze", "-"], cli_env, stdin=b.otlp())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "2 spans" in out and "no findings" in out


def test_unreadable_input_is_exit_2_one_line(tmp_path, cli_env) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"nope": 1}')
    proc = run(["trace", "analyze", str(bad)], cli_env)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "otlp-json" in err
    missing = run(["trace", "analyze", str(tmp_path / "nope.json")], cli_env)
    assert missing.returncode == 2 and "no such file" in missing.stderr.decode()


def test_hostile_span_names_are_inert_in_every_output(tmp_path, cli_env) -> None:
    b = TraceBuilder()
    evil = "\x1b]0;pwned\x07\x1b[2J[bold red]x[/]"
    agent = b.agent(evil, end=1000)
    t1 = b.tool(evil, agent, 0, 900)
    m = b.model(t1, 10, 800)
    b.tool(evil, m, 20, 700)
    path = tmp_path / "evil.json"
    path.write_bytes(b.otlp())
    for args in (
        ["trace", "analyze", str(path)],
        ["trace", "graph", str(path)],
        ["trace", "graph", str(path), "--format", "dot"],
        ["trace", "graph", str(path), "--format", "mermaid"],
    ):
        out = run(args, cli_env).stdout
        assert b"\x1b" not in out and b"\x07" not in out, args
        assert b"\\x1b" in out


def test_graph_formats(tmp_path, cli_env) -> None:
    path, _ = _reentrant_file(tmp_path)
    dot = run(["trace", "graph", path, "--format", "dot"], cli_env).stdout.decode()
    assert dot.startswith("digraph") and 'color="red"' in dot
    mer = run(["trace", "graph", path, "--format", "mermaid"], cli_env).stdout.decode()
    assert mer.startswith("flowchart LR") and "stroke:#f00" in mer
    doc = json.loads(run(["trace", "graph", path, "--format", "json"], cli_env).stdout)
    assert {e["kind"] for e in doc["graph"]["edges"]} == {"call"}
    text = run(["trace", "graph", path], cli_env).stdout.decode()
    assert "⟲" in text
    # The default text is the graph drawn: boxes, arrowheads, the loop going
    # back up; then each node's full name and figures.
    assert "┏" in text and "▼" in text and "▲" in text
    assert "calls=" in text
    listed = run(["trace", "graph", path, "--format", "list"], cli_env).stdout.decode()
    assert "->" in listed and "┌" not in listed and "calls=" in listed


def test_unknown_trace_id_is_an_input_error_naming_what_the_file_has(tmp_path, cli_env) -> None:
    path, b = _reentrant_file(tmp_path)
    proc = run(["trace", "analyze", path, "--trace-id", "ff" * 16], cli_env)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and b.trace_id in err
