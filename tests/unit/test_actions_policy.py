"""Policy: read-only environments offer no actions (CLI flag > environment > global);
without --yes a command only plans (exit 5) and sends nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from oncall_tui.actions import open_executor
from oncall_tui.config import Config
from oncall_tui.errors import ReadOnlyError


def _cfg(global_ro: bool, env_ro: bool | None) -> Config:
    return msgspec.convert(
        {"read_only": global_ro, "environments": {"prod": {"read_only": env_ro}}}, Config
    )


@pytest.mark.parametrize(
    ("global_ro", "env_ro", "flag", "read_only"),
    [
        (False, None, False, False),
        (True, None, False, True),  # global applies when the environment says nothing
        (True, False, False, False),  # the environment beats the global switch
        (False, True, False, True),
        (False, False, True, True),  # the CLI flag beats everything
    ],
)
def test_read_only_precedence(
    global_ro: bool, env_ro: bool | None, flag: bool, read_only: bool, tmp_path: Path
) -> None:
    cfg = msgspec.structs.replace(_cfg(global_ro, env_ro), audit_log=str(tmp_path / "a.jsonl"))
    if read_only:
        with pytest.raises(ReadOnlyError) as err:
            open_executor(cfg, "prod", environ={}, cli_read_only=flag)
        assert err.value.exit_code == 2
    else:
        assert open_executor(cfg, "prod", environ={}, cli_read_only=flag).env == "prod"


def test_audit_log_location_is_configurable_and_defaults_under_xdg_state(tmp_path: Path) -> None:
    from oncall_tui.actions import audit_path

    assert audit_path(Config(), {"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "oncall-tui" / "audit.jsonl"
    )
    custom = msgspec.structs.replace(Config(), audit_log=str(tmp_path / "x.jsonl"))
    assert audit_path(custom) == tmp_path / "x.jsonl"


def test_without_yes_the_cli_only_plans(tmp_path: Path, cli_env: dict[str, str]) -> None:
    from oncall_tui.sim.thread import SimThread

    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.yaml"
    with SimThread(speed=0.0, warmup_s=10.0) as sim:
        config.write_text(
            f"default_environment: demo\naudit_log: {audit}\nenvironments:\n  demo:\n"
            f"    gateways:\n      sim: {{plugin: native, url: '{sim.url}', token_env: T}}\n"
        )
        env = dict(cli_env, T=sim.token, ONCALL_TUI_CONFIG=str(config))
        argv = [sys.executable, "-m", "oncall_tui", "kill-switch", "support-chat", "--reason", "x"]
        planned = subprocess.run(
            [*argv, "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert planned.returncode == 5, planned.stderr
        doc = json.loads(planned.stdout)
        assert doc["executed"] is False and doc["result"] is None
        assert doc["plan"]["changes"][0] == {
            "what": "kill switch",
            "before": False,
            "after": True,
            "where": f"native gateway at {sim.url}",
            "who": "all traffic of route 'support-chat'",
        }
        assert doc["plan"]["confirm_phrase"] == "support-chat"
        assert sim.engine.fleet.routes["support-chat"].kill_switch is False
        assert not audit.exists()

        human = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert human.returncode == 5 and "planned only" in human.stdout

        ro = subprocess.run(
            [*argv, "--yes", "--read-only"], env=env, capture_output=True, text=True, timeout=60
        )
        assert ro.returncode == 2 and "read-only" in ro.stderr
        assert sim.engine.fleet.routes["support-chat"].kill_switch is False


def test_cli_arguments_become_the_specs_a_user_means() -> None:
    from oncall_tui.cli.actions_cmd import _spec
    from oncall_tui.cli.main import build_parser

    def spec(*argv: str):  # type: ignore[no-untyped-def]
        return _spec(build_parser().parse_args(list(argv)), "prod")

    on = spec("kill-switch", "chat", "--reason", "INC-1")
    off = spec("kill-switch", "chat", "--reason", "INC-1", "--off")
    assert (on.enabled, off.enabled) == (True, False)
    assert on.idempotency_key() != off.idempotency_key()
    assert spec("rollback", "chat", "--to", "v1", "--reason", "r").to_version == "v1"
    assert spec("failover", "chat", "--to", "openai/gpt-4o-mini", "--reason", "r").to_tier == (
        "openai/gpt-4o-mini"
    )
    cleared = spec("failover", "chat", "--clear", "--reason", "r", "--id", "INC-2", "--via", "gw")
    assert cleared.to_tier is None and cleared.request_id == "INC-2" and cleared.via == "gw"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["kill-switch", "chat"])  # --reason is required
