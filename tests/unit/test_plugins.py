"""Plugin discovery: names without imports, clear errors, broken plugins contained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oncall_tui import plugins
from oncall_tui.errors import PluginError


def test_builtins_and_third_party_are_listed_without_importing() -> None:
    before = set(sys.modules)
    found = plugins.available()
    assert "otlp-file" in found
    assert found["otlp-file"].module == "oncall_tui.sources.otlp_file"
    assert "test-gateway" in found  # the third-party one from tests/fixtures/plugin_path
    new = set(sys.modules) - before
    assert not any(m.startswith(("oncall_tui.sources", "oncall_tui_test_plugins")) for m in new)


def test_unknown_plugin_error_names_the_installed_ones() -> None:
    with pytest.raises(PluginError) as info:
        plugins.load("nope")
    assert "otlp-file" in str(info.value)
    assert "test-gateway" in str(info.value)


def test_broken_plugin_is_a_plugin_error_not_a_crash() -> None:
    with pytest.raises(PluginError, match="broken on purpose"):
        plugins.load("test-broken")


def test_build_validates_options_strictly() -> None:
    ctx = plugins.PluginContext(environ={"TOK": "x"})
    adapter = plugins.build("test-gateway", {"url": "http://127.0.0.1:1", "token_env": "TOK"}, ctx)
    assert adapter.token == "x"  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="unknown field"):
        plugins.build("test-gateway", {"url": "u", "colour": "red"}, ctx)


def test_cli_plugins_list_json_survives_a_broken_plugin(cli_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "plugins", "list", "--json", "--load"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["plugins"]}
    assert rows["otlp-file"]["builtin"] is True
    assert rows["otlp-file"]["roles"] == ["trace_stores"]
    assert "path" in json.dumps(rows["otlp-file"]["options"])
    assert rows["test-gateway"]["builtin"] is False
    assert "broken on purpose" in rows["test-broken"]["error"]


@pytest.mark.slow
def test_example_plugin_installs_with_pip_and_is_listed(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    root = Path(__file__).resolve().parents[2] / "plugins" / "oncall-tui-example-plugin"
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(root),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    cli_env["PYTHONPATH"] = f"{target}:{cli_env['PYTHONPATH']}"
    proc = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "plugins", "list", "--json", "--load"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["plugins"]}
    assert rows["http-otlp"]["distribution"] == "oncall-tui-example-plugin"
    assert rows["http-otlp"]["roles"] == ["trace_stores"]
