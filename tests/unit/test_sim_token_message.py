"""Issue 14 item 10: ``oncall-tui sim`` says where the admin token is, never "None"."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _banner(env: dict[str, str]) -> str:
    with subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", "sim", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(4)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    assert "listening on" in lines[0], lines
    return "".join(lines)


@pytest.mark.parametrize("read_token", [None, "read-token-x"])
def test_token_from_the_environment_is_named_not_a_file(
    cli_env: dict[str, str], read_token: str | None
) -> None:
    cli_env["ONCALL_TUI_SIM_TOKEN"] = "admin-token-from-env"
    cli_env.pop("ONCALL_TUI_SIM_READ_TOKEN", None)
    if read_token:
        cli_env["ONCALL_TUI_SIM_READ_TOKEN"] = read_token
    text = _banner(cli_env)
    assert "admin token: the value of $ONCALL_TUI_SIM_TOKEN" in text
    assert "None" not in text and "written to" not in text
    assert "admin-token-from-env" not in text
    assert ("read-only token: the value of $ONCALL_TUI_SIM_READ_TOKEN" in text) == bool(read_token)


def test_generated_token_is_handed_over_in_a_file(cli_env: dict[str, str]) -> None:
    cli_env.pop("ONCALL_TUI_SIM_TOKEN", None)
    cli_env.pop("ONCALL_TUI_SIM_READ_TOKEN", None)
    text = _banner(cli_env)
    token_file = Path(cli_env["XDG_STATE_HOME"]) / "oncall-tui" / "sim-token"
    assert f"admin token written to {token_file} (mode 600)" in text
    assert f"export ONCALL_TUI_SIM_TOKEN=$(cat {token_file})" in text
    assert token_file.read_text() not in text
