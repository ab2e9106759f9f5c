"""The simulator's commands as a user and a script run them: ``sim``, ``demo``,
``gateway status|watch``, each a real ``oncall-tui`` process.

A simulator for the gateway commands runs in this test process (a background
thread, stepped, on an ephemeral loopback port), reached through a config file
that names the token's environment variable, as production configs do.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from oncall_tui.cli.sim_cmd import config_snippet, schema_text
from oncall_tui.sim.scenarios import SCENARIOS
from oncall_tui.sim.server import SimServer
from oncall_tui.sim.thread import SimThread

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "SIM_TEST_TOKEN"


def _run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _port_free(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 0)) != 0


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimThread(scenarios=("cache-thrash",), speed=0, seed=3, warmup_s=120) as server:
        yield server


@pytest.fixture
def sim_env(cli_env: dict[str, str], sim: SimServer, tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(config_snippet(sim.url, TOKEN_ENV))
    cli_env["ONCALL_TUI_CONFIG"] = str(cfg)
    cli_env[TOKEN_ENV] = sim.token
    return cli_env


def test_protocol_schema_file_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "protocol.schema.json").read_text()
    assert committed == schema_text(), (
        "docs/protocol.schema.json is stale; regenerate it with "
        "oncall-tui sim --print-schema > docs/protocol.schema.json"
    )
    assert {"RoutesResponse", "StatusResponse", "Event", "ActionRequest", "ActionRecord",
            "ErrorResponse"} <= set(json.loads(committed)["$defs"])  # fmt: skip


def test_sim_lists_every_scenario(cli_env: dict[str, str]) -> None:
    proc = _run(["sim", "--list-scenarios", "--json"], cli_env)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["scenarios"]
    assert {r["name"] for r in rows} == set(SCENARIOS)
    assert all(r["route"] and r["summary"] and r["runbook"] for r in rows)
    human = _run(["sim", "--list-scenarios"], cli_env)
    assert all(name in human.stdout for name in SCENARIOS)


def test_sim_rejects_an_unknown_scenario(cli_env: dict[str, str]) -> None:
    proc = _run(["sim", "--scenario", "meteor-strike"], cli_env)
    assert proc.returncode == 2
    assert "meteor-strike" in proc.stderr and "--list-scenarios" in proc.stderr


def test_sim_runs_in_the_foreground_and_stops_cleanly(cli_env: dict[str, str]) -> None:
    cli_env["ONCALL_TUI_SIM_TOKEN"] = "fg-token-for-test"
    cli_env["ONCALL_TUI_SIM_READ_TOKEN"] = "fg-read-token"
    with subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", "sim", "--port", "0", "--speed", "20",
         "--scenario", "retry-storm"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env,
    ) as proc:  # fmt: skip
        _foreground(proc)
        code = proc.returncode
    assert code == 0


def _foreground(proc: subprocess.Popen[str]) -> None:
    url = ""
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first + (
            proc.stderr.read() if proc.poll() else ""
        )
        url = first.split("listening on ")[1].split()[0]
        rest = [proc.stdout.readline() for _ in range(10)]
        assert any("plugin: native" in line for line in rest), rest
        assert "fg-token-for-test" not in first + "".join(rest), "the token is never printed"
        resp = httpx.get(
            f"{url}/v1/routes", headers={"Authorization": "Bearer fg-token-for-test"}, timeout=5
        )
        assert resp.status_code == 200
        denied = httpx.post(
            f"{url}/v1/routes/support-chat/kill-switch",
            json={"reason": "r", "actor": "a", "enabled": True},
            headers={"Authorization": "Bearer fg-read-token", "Idempotency-Key": "k"},
            timeout=5,
        )
        assert denied.status_code == 403, "the read-only token from the environment reads only"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert _port_free(url)


def test_gateway_status_json(sim_env: dict[str, str]) -> None:
    proc = _run(["gateway", "status", "--window", "60", "--json"], sim_env)
    doc = json.loads(proc.stdout)
    assert doc["environment"] == "sim" and doc["gateway"] == "sim"
    routes = {r["route"]: r for r in doc["status"]["routes"]}
    assert routes["support-chat"]["cache_hit_rate"] < 0.15
    assert doc["status"]["received_at"], "the client stamps when it got the numbers"
    kinds = {a["kind"] for a in doc["alerts"]}
    assert "cache_hit_low" in kinds
    assert proc.returncode == 1, "an alert is firing: scripts can gate on it"


def test_gateway_status_human(sim_env: dict[str, str]) -> None:
    proc = _run(["gateway", "status"], sim_env)
    assert proc.returncode == 1
    assert "support-chat" in proc.stdout and "TTFT/TTFV" in proc.stdout
    assert "alerts:" in proc.stdout
    # The retrieval route's data age, against its promise (stale data moves no column).
    line = next(x for x in proc.stdout.splitlines() if x.startswith("data age agent-assist"))
    assert "promise 1 h" in line and "0% of retrievals older" in line, line


def test_gateway_status_says_what_it_cannot_reach(cli_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = tmp_path / "down.yaml"
    cfg.write_text(config_snippet(f"http://127.0.0.1:{port}", TOKEN_ENV))
    cli_env["ONCALL_TUI_CONFIG"] = str(cfg)
    cli_env[TOKEN_ENV] = "x"
    proc = _run(["gateway", "status", "--json"], cli_env)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], proc.stderr


def test_gateway_watch_json_lines(sim_env: dict[str, str], sim: SimServer) -> None:
    proc = _run(["gateway", "watch", "--since", "0", "--count", "3", "--json"], sim_env)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(events) == 3
    assert all(e["type"] != "status" for e in events)
    seqs = [e["seq"] for e in events if e["type"] not in ("hello", "reset")]
    assert seqs == sorted(seqs)


def test_gateway_watch_bad_token_is_auth_error(sim_env: dict[str, str]) -> None:
    sim_env[TOKEN_ENV] = "wrong"
    proc = _run(["gateway", "watch", "--count", "1", "--seconds", "10"], sim_env)
    assert proc.returncode == 3
    assert "401" in proc.stderr


def _clean_env(cli_env: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], Path]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cli_env["TMPDIR"] = str(tmp)
    cli_env["HOME"] = str(tmp_path / "home")
    return cli_env, tmp


def test_demo_headless_prints_status_and_leaves_nothing_behind(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env, tmp = _clean_env(cli_env, tmp_path)
    proc = _run(["demo", "--headless", "--speed", "0"], env)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("simulated AI fleet on http://127.0.0.1:")
    url = first.split(" on ")[1].split()[0]
    assert "ROUTE" in proc.stdout and "support-chat" in proc.stdout
    assert "oncall-tui demo --print-config" in proc.stdout
    assert _port_free(url), "the simulator's port is released"
    assert list(tmp.iterdir()) == [], "the temp config is removed"
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        assert not Path(env[var]).exists(), f"nothing written under ${var}"
    assert not (tmp_path / "home").exists()


def test_demo_json_is_one_document(cli_env: dict[str, str], tmp_path: Path) -> None:
    env, _ = _clean_env(cli_env, tmp_path)
    proc = _run(["demo", "--json", "--scenario", "tool-reentrancy", "--speed", "0"], env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["scenarios"] == ["tool-reentrancy"]
    # A person's simulator reads about the wall clock, so "the last hour" finds its traces.
    gateway_time = datetime.fromisoformat(doc["status"]["gateway_time"])
    assert abs((gateway_time - datetime.now(UTC)).total_seconds()) < 300
    assert {r["route"] for r in doc["status"]["routes"]} >= {"agent-assist"}


def test_demo_print_config_is_a_valid_config(cli_env: dict[str, str], tmp_path: Path) -> None:
    proc = _run(["demo", "--print-config", "--port", "8711"], cli_env)
    assert proc.returncode == 0
    assert "url: http://127.0.0.1:8711" in proc.stdout
    cfg = tmp_path / "c.yaml"
    cfg.write_text(proc.stdout)
    cli_env["ONCALL_TUI_SIM_TOKEN"] = "set"
    check = _run(["config", "validate", str(cfg), "--json"], cli_env)
    assert json.loads(check.stdout)["valid"] is True, check.stdout


def test_gateway_watch_says_what_it_cannot_reach(cli_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = tmp_path / "down.yaml"
    cfg.write_text(config_snippet(f"http://127.0.0.1:{port}", TOKEN_ENV))
    cli_env["ONCALL_TUI_CONFIG"] = str(cfg)
    cli_env[TOKEN_ENV] = "x"
    proc = _run(["gateway", "watch", "--seconds", "1.5"], cli_env)
    assert proc.returncode == 3
    assert f"ws://127.0.0.1:{port}/v1/events lost" in proc.stdout, "each retry is reported"
    assert "never reached" in proc.stderr and str(port) in proc.stderr


def test_sim_refuses_a_busy_port_and_non_loopback_hosts(cli_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = _run(["sim", "--port", str(port)], cli_env)
    assert busy.returncode == 2
    assert busy.stderr.count("\n") == 1 and "--port 0" in busy.stderr
    wide = _run(["sim", "--host", "0.0.0.0", "--port", "0"], cli_env)
    assert wide.returncode == 2 and "loopback only" in wide.stderr
