"""The command line as a script sees it: version, usage errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

from oncall_tui import __version__
from oncall_tui.cli.main import main


def test_version(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_usage_error_exit_2(cli_env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "frobnicate"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("oncall-tui: error:")


def test_missing_config_is_exit_2_with_one_line(cli_env, tmp_path) -> None:
    cli_env["ONCALL_TUI_CONFIG"] = str(tmp_path / "absent.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "config", "show"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "absent.yaml: no config file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
