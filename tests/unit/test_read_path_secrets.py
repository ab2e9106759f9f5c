"""Issue 14 item 4: a canary token never leaves through a read path.

A gateway and trace store that echo the Authorization header in every error
body (common in proxies) must not put the token on stdout, stderr, --json, an
incident file or an incident export; a URL's ``user:password@`` is never
printed by ``config show`` or an error. One canary test per path.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from oncall_tui.cli.main import main
from oncall_tui.errors import AuthError, RemoteError
from oncall_tui.redact import Redactor
from oncall_tui.runbook.format import Runbook
from oncall_tui.runbook.session import Session
from oncall_tui.sources import http

CANARY = "canary-5d1e0c7b93a4f268"
URL_SECRET = "urlpw-8c2f4e1a"


class Echo(BaseHTTPRequestHandler):
    """Answers every request 500 with the Authorization header quoted back."""

    def log_message(self, *args: object) -> None:
        pass

    def _echo(self) -> None:
        header = self.headers.get("Authorization", "")
        body = json.dumps({"error": {"message": f"denied; you sent {header!r}"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _echo

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._echo()


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# One status check, no repeat: the shipped gateway-down polls for minutes.
ONE_CHECK = """\
id: one-check
title: The gateway answers
summary: One status read.
steps:
  - id: reach
    kind: check
    title: status
    query: {source: gateway_status, window_s: 60}
    pass: "true"
    end: true
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_url: str) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("GW_TOKEN", CANARY)
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "one-check.yaml").write_text(ONE_CHECK)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_environment: prod\nread_only: true\nrunbook_paths: ['{runbooks}']\n"
        "environments:\n  prod:\n"
        f"    gateways:\n      gw: {{plugin: native, url: '{echo_url}', token_env: GW_TOKEN}}\n"
        f"    trace_stores:\n      ts: {{plugin: native, url: '{echo_url}', token_env: GW_TOKEN}}\n"
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(config))
    return tmp_path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    "argv",
    [
        ["gateway", "status", "--no-traces"],
        ["gateway", "status", "--no-traces", "--json"],
        ["trace", "search"],
        ["trace", "search", "--json"],
        ["trace", "get", "0af7651916cd43dd8448eb211c80319c"],
        ["trace", "get", "0af7651916cd43dd8448eb211c80319c", "--json"],
        ["runbook", "suggest", "--live"],
        ["runbook", "suggest", "--live", "--json"],
    ],
    ids=" ".join,
)
def test_echoed_token_is_masked_on_read_paths(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, text = _run(argv, capsys)
    assert code == 3, text  # the store failed us ...
    assert "Bearer ****" in text  # ... the echo is shown, masked ...
    assert CANARY not in text  # ... the token never is


def test_runbook_run_keeps_the_token_out_of_the_incident_file(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _run(["runbook", "run", "one-check", "--json"], capsys)
    assert CANARY not in text
    incident = json.loads(text)["incident"]
    timeline = (home / "state" / "oncall-tui" / "incidents" / f"{incident}.jsonl").read_text()
    assert "Bearer ****" in timeline  # the check's failure is recorded ...
    assert CANARY not in timeline  # ... the token is not
    for fmt in ("md", "json"):
        code, text = _run(["incident", "export", incident, "--format", fmt], capsys)
        assert code == 0 and CANARY not in text


def test_incident_export_masks_a_token_already_on_disk(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A timeline written before redaction existed (or by hand) still exports clean.
    directory = home / "state" / "oncall-tui" / "incidents"
    rb = Runbook(id="rb", title="t", summary="s", severity="low", steps=[])
    session = Session.create(directory, rb, {}, environment="prod", incident_id="inc-old")
    session.append("note", text=f"gateway said: Bearer {CANARY} via http://u:{URL_SECRET}@h/")
    raw = session.path.read_text()
    assert CANARY in raw  # no redactor knew the token when this was written
    for fmt in ("md", "json"):
        code, text = _run(["incident", "export", "inc-old", "--format", fmt], capsys)
        assert code == 0
        assert CANARY not in text and URL_SECRET not in text
    code, text = _run(["incident", "show", "inc-old", "--json"], capsys)
    assert code == 0 and CANARY not in text


def test_session_writer_scrubs_every_event(tmp_path: Path) -> None:
    rb = Runbook(id="rb", title="t", summary="s", severity="low", steps=[])
    session = Session.create(
        tmp_path, rb, {"who": CANARY}, environment="prod", redactor=Redactor([CANARY])
    )
    session.append("note", text=f"echo {CANARY}", nested={"list": [CANARY]})
    session.append("check", error=f"http://user:{URL_SECRET}@host/x failed")
    written = session.path.read_text()
    assert CANARY not in written and URL_SECRET not in written
    assert "****" in written


def test_config_show_masks_url_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "environments:\n  prod:\n    gateways:\n"
        f"      gw: {{plugin: native, url: 'http://admin:{URL_SECRET}@127.0.0.1:9'}}\n"
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(config))
    for argv in (["config", "show"], ["config", "show", "--json"]):
        code, text = _run(argv, capsys)
        assert code == 0
        assert URL_SECRET not in text and "admin" not in text
        assert "http://****@127.0.0.1:9" in text


def test_errors_never_print_url_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    # Port 9 on loopback: nothing listens, so the error names the URL it could not reach.
    config.write_text(
        "environments:\n  prod:\n    gateways:\n"
        f"      gw: {{plugin: native, url: 'http://admin:{URL_SECRET}@127.0.0.1:9'}}\n"
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(config))
    code, text = _run(["gateway", "status", "--no-traces"], capsys)
    assert code == 3
    assert "cannot reach http://****@127.0.0.1:9" in text
    assert URL_SECRET not in text


async def test_boundary_masks_basic_auth_and_api_key_echoes() -> None:
    # MockTransport: a server that quotes back every credential header it got,
    # raw and decoded, and the body cut right after the token.
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        plain = base64.b64decode(auth.split()[1]).decode()
        echo = f"got {auth} = {plain}; key {request.headers['x-api-key']}"
        return httpx.Response(401, json={"detail": echo + " " + "x" * 500})

    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),
        auth=httpx.BasicAuth("pk-public", CANARY),
        headers={"x-api-key": "key-" + CANARY[::-1]},
    ) as client:
        with pytest.raises(AuthError) as info:
            await http.request(client, "GET", "/api", "store")
    message = str(info.value)
    assert CANARY not in message and CANARY[::-1] not in message
    encoded = base64.b64encode(f"pk-public:{CANARY}".encode()).decode()
    assert encoded not in message
    assert "got Basic ****" in message


async def test_boundary_scrubs_before_cutting_the_excerpt() -> None:
    # The token straddles the excerpt's cut: scrubbing after the cut would miss it.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="e" * 140 + request.headers["Authorization"])

    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),
        headers={"Authorization": f"Bearer {CANARY}"},
    ) as client:
        with pytest.raises(RemoteError) as info:
            await http.request(client, "GET", "/x", "gw")
    assert "Bearer ****" in str(info.value)
    assert CANARY[:10] not in str(info.value)
