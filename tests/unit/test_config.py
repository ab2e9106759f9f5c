"""The config validator: every problem, with file, line, key and the closest valid key."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oncall_tui import config
from oncall_tui.errors import ConfigError

BAD = Path(__file__).resolve().parent.parent / "fixtures" / "bad_configs"
GOOD = Path(__file__).resolve().parent.parent / "fixtures" / "configs" / "good.yaml"
EXPECT = re.compile(r"^# expect: (?P<key>\S*) @ (?P<line>\d+): (?P<msg>.*?)(?: ~ (?P<sugg>\S+))?$")


def _expectations(path: Path) -> list[tuple[str, int, str, str | None]]:
    out = []
    raw = path.read_bytes()  # some fixtures are deliberately not UTF-8
    text = raw.decode("utf-16") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8", "replace")
    for line in text.splitlines():
        m = EXPECT.match(line)
        if m:
            out.append((m["key"], int(m["line"]), m["msg"], m["sugg"]))
    assert out, f"{path.name} declares no '# expect:' lines"
    return out


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_config_reports_each_expected_problem(path: Path) -> None:
    cfg, problems = config.check(path, environ={})
    assert cfg is None
    expected = _expectations(path)
    assert len(problems) == len(expected), [str(p) for p in problems]
    for key, line, message, suggestion in expected:
        match = [p for p in problems if p.key == key and p.line == line]
        assert match, f"no problem at {key}@{line}; got {[str(p) for p in problems]}"
        assert message in match[0].message
        assert match[0].suggestion == suggestion


def test_good_config_loads_and_picks_default_environment() -> None:
    cfg = config.load(GOOD, environ={})
    name, env = cfg.environment(None)
    assert name == "staging"
    assert config.adapter_entries(env, "trace_stores") == {
        "local": ("otlp-file", {"path": "/tmp/oncall-tui-traces"})
    }
    _, prod = cfg.environment("prod")
    assert cfg.is_read_only(prod) is True
    assert cfg.is_read_only(env) is False
    assert cfg.is_read_only(env, cli_flag=True) is True


def test_unknown_environment_suggests_closest() -> None:
    cfg = config.load(GOOD, environ={})
    with pytest.raises(ConfigError, match="did you mean 'staging'"):
        cfg.environment("stagign")


def test_load_raises_first_problem_and_counts_the_rest() -> None:
    with pytest.raises(ConfigError) as info:
        config.load(BAD / "three_mistakes.yaml", environ={})
    assert "three_mistakes.yaml:6" in str(info.value)
    assert "+2 more" in str(info.value)


def test_missing_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        config.load(tmp_path / "nope.yaml", environ={})


def test_config_path_env_var_wins(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    assert config.default_path({"ONCALL_TUI_CONFIG": str(target)}) == target
    assert config.default_path({"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "oncall-tui" / "config.yaml"
    )


def test_masked_never_shows_secret_values(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n  prod:\n    gateways:\n      gw:\n        plugin: test-gateway\n"
        "        url: http://127.0.0.1:1\n        token_env: CANARY_TOKEN\n"
    )
    environ = {"CANARY_TOKEN": "canary-8c1f0e"}
    cfg = config.load(path, environ=environ)
    text = json.dumps(config.masked(cfg, environ))
    assert "canary-8c1f0e" not in text
    assert "CANARY_TOKEN (set)" in text


def test_cli_validate_json_reports_all_three_mistakes(cli_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oncall_tui",
            "config",
            "validate",
            "--json",
            str(BAD / "three_mistakes.yaml"),
        ],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["valid"] is False
    assert sorted(p["line"] for p in doc["problems"]) == [6, 11, 15]
    assert {p["key"].rsplit(".", 1)[-1] for p in doc["problems"]} == {
        "read_only",
        "timeout_seconds",
        "token_env",
    }


def test_cli_validate_human_output_lists_file_and_line(cli_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oncall_tui",
            "config",
            "validate",
            str(BAD / "unknown_top_key.yaml"),
        ],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown_top_key.yaml:2: environmnets: unknown key (did you mean 'environments'?)" in (
        proc.stdout
    )
