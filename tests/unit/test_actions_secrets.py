"""A canary token in the config's env var never appears in the audit log, the
--json output, stderr (our log) or error messages, even when the target echoes
it back in its error bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CANARY = "canary-7f3e9c41d2b8a6e0"


class EchoGateway(BaseHTTPRequestHandler):
    """Speaks just enough of the native protocol, and leaks the token back."""

    fail_routes = False

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _leak(self) -> None:
        header = self.headers.get("Authorization", "")
        self._send(500, {"error": {"code": "internal", "message": f"bad auth {header} ({header})"}})

    def do_GET(self) -> None:
        if self.path.startswith("/v1/routes") and not EchoGateway.fail_routes:
            self._send(
                200,
                {
                    "gateway_time": "2026-11-24T08:00:00Z",
                    "routes": [
                        {
                            "name": "chat",
                            "version": "v2",
                            "kill_switch": False,
                            "primary": {"provider": "openai", "model": "gpt-4o"},
                        }
                    ],
                },
            )
            return
        self._leak()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._leak()


@pytest.fixture
def echo_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        EchoGateway.fail_routes = False


def test_canary_token_never_leaks(
    echo_gateway: str, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_environment: prod\naudit_log: {audit}\nenvironments:\n  prod:\n"
        f"    gateways:\n      gw: {{plugin: native, url: '{echo_gateway}', token_env: GW_TOKEN}}\n"
    )
    env = dict(cli_env, GW_TOKEN=CANARY, ONCALL_TUI_CONFIG=str(config))
    base = [sys.executable, "-m", "oncall_tui"]

    # 1. The action runs, every call fails with the token echoed back.
    act = subprocess.run(
        [*base, "kill-switch", "chat", "--reason", "INC-1", "--yes", "--json", "--deadline", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert act.returncode == 4, act.stderr
    doc = json.loads(act.stdout)
    assert doc["result"]["outcome"] == "failed"
    assert "bad auth Bearer ****" in doc["result"]["detail"]  # the echo is there, masked
    # 2. An error path: the target fails while planning, so the error reaches stderr.
    EchoGateway.fail_routes = True
    plan = subprocess.run(
        [*base, "rollback", "chat", "--to", "v1", "--reason", "INC-2", "--yes", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 3 and "bad auth" in plan.stderr
    show = subprocess.run(
        [*base, "audit", "show", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert show.returncode == 0 and "attempt_failed" in show.stdout

    written = audit.read_text()
    assert "bad auth Bearer ****" in written  # the failure is recorded ...
    for text in (
        written,
        act.stdout,
        act.stderr,
        plan.stdout,
        plan.stderr,
        show.stdout,
        show.stderr,
    ):
        assert CANARY not in text  # ... the token never is
