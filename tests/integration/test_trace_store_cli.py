"""`oncall-tui trace get|search|listen` as a person runs them: the jaeger
adapter against the simulator's real Jaeger api_v3 endpoints on loopback,
and the OTLP/JSON receiver fed by a real HTTP client."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from oncall_tui.sim.thread import SimThread
from tests.unit.test_store_formats import SHARED

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED.is_dir(), reason="shared fixtures not present"),
]

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def sim_url():  # type: ignore[no-untyped-def]
    with SimThread(speed=0.0, scenarios=("tool-reentrancy",)) as server:
        yield server.url


@pytest.fixture
def config(tmp_path: Path, sim_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "default_environment: sim\n"
        "environments:\n"
        "  sim:\n"
        "    trace_stores:\n"
        "      jaeger-sim:\n"
        "        plugin: jaeger\n"
        f"        url: {sim_url}\n"
    )
    return path


def test_search_then_get_through_jaeger_api_v3(config: Path, cli_env: dict[str, str]) -> None:
    proc = run(
        ["--config", str(config), "trace", "search", "--limit", "5", "--since", "1e9", "--json"],
        cli_env,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["store"] == "jaeger-sim"
    assert 1 <= len(doc["traces"]) <= 5
    trace_id = doc["traces"][0]["trace_id"]

    proc = run(["--config", str(config), "trace", "get", trace_id, "--json"], cli_env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["trace"]["trace_id"] == trace_id
    assert got["trace"]["source"] == "jaeger-api-v3"
    assert got["analysis"]["summary"]["span_count"] == len(got["trace"]["spans"])

    human = run(["--config", str(config), "trace", "get", trace_id], cli_env)
    assert human.returncode == 0, human.stderr
    assert f"trace {trace_id}" in human.stdout


def test_search_by_route_lists_only_that_route(config: Path, cli_env: dict[str, str]) -> None:
    base = ["--config", str(config), "trace", "search", "--since", "1e9", "--limit", "50"]
    every = json.loads(run([*base, "--json"], cli_env).stdout)["traces"]
    routes = {t.get("route") for t in every}
    assert {"agent-assist", "support-chat"} <= routes  # the store holds several
    proc = run([*base, "--route", "agent-assist", "--json"], cli_env)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["traces"]
    assert rows and {t["route"] for t in rows} == {"agent-assist"}


def test_search_by_finding_keeps_only_traces_that_have_it(
    config: Path, cli_env: dict[str, str]
) -> None:
    """The tool-reentrancy scenario loops agent-assist's requests: a search for
    `cycle` lists those and says which finding matched; every listed trace
    really has the cycle, and the other routes' traces are not listed."""
    base = ["--config", str(config), "trace", "search", "--since", "1e9", "--limit", "40"]
    proc = run([*base, "--finding", "cycle", "--json"], cli_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    listed = [t["trace_id"] for t in doc["traces"]]
    assert listed
    assert {doc["findings"][t]["kind"] for t in listed} == {"reentrancy_cycle"}
    for trace_id in listed[:3]:
        got = json.loads(
            run(["--config", str(config), "trace", "get", trace_id, "--json"], cli_env).stdout
        )
        assert got["analysis"]["cycles"], trace_id
    assert {t["route"] for t in doc["traces"]} == {"agent-assist"}
    every = json.loads(run([*base, "--json"], cli_env).stdout)
    assert len(every["traces"]) > len(listed)  # the other routes do not loop

    human = run([*base, "--finding", "cycle"], cli_env)
    assert human.returncode == 0 and "FINDING" in human.stdout
    none = run([*base, "--finding", "no_such_kind"], cli_env)
    assert none.returncode == 1


def test_get_unknown_trace_exits_3(config: Path, cli_env: dict[str, str]) -> None:
    proc = run(["--config", str(config), "trace", "get", "ab" * 16], cli_env)
    assert proc.returncode == 3
    assert "not found" in proc.stderr


def test_search_with_no_match_exits_1(config: Path, cli_env: dict[str, str]) -> None:
    args = ["--config", str(config), "trace", "search", "--service", "no-such-service"]
    proc = run(args, cli_env)
    assert proc.returncode == 1, proc.stderr


def test_listen_prints_each_trace_and_saves_what_it_got(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    saved = tmp_path / "got.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oncall_tui",
            "trace",
            "listen",
            "--port",
            "0",
            "--count",
            "2",
            "--seconds",
            "60",
            "--save",
            str(saved),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[2]
        body = (SHARED / "phoenix" / "sent-as-otlp.json").read_bytes()
        with httpx.Client(timeout=10) as client:
            # A content type it cannot read is refused with a reason, not swallowed.
            refused = client.post(url, content=b"hello", headers={"content-type": "text/plain"})
            assert refused.status_code == 415
            assert "http/protobuf" in refused.json()["message"]
            bad = client.post(
                url, content=b"{not json", headers={"content-type": "application/json"}
            )
            assert bad.status_code == 400
            ok = client.post(url, content=body, headers={"content-type": "application/json"})
            assert ok.status_code == 200
            # Another trace id (the hand-made fixtures share the W3C example
            # id with Phoenix's, and one id is one trace now).
            other = (CORPUS / "otel-genai" / "plain-loop" / "trace.json").read_bytes()
            ok2 = client.post(
                url,
                content=gzip.compress(other),
                headers={"content-type": "application/json", "content-encoding": "gzip"},
            )
            assert ok2.status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert "trace 4bf92f3577b34da6a3ce929d0e0e4736  15 spans  1 errors" in out
    assert len([ln for ln in out.splitlines() if ln.startswith("trace ")]) == 2
    # The saved file is itself a trace file `trace analyze` reads.
    again = run(["trace", "analyze", str(saved), "--json", "--fail-on", "critical"], cli_env)
    assert again.returncode in (0, 1), again.stderr
    assert len(json.loads(again.stdout)["traces"]) == 2
