"""The user's path end to end: a config naming the simulator as a `native`
gateway, `oncall-tui runbook run` with `--yes`, then `incident export`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from oncall_tui.actions import AuditLog
from oncall_tui.cli.main import main
from oncall_tui.cli.sim_cmd import config_snippet
from oncall_tui.sim.thread import SimThread

pytestmark = pytest.mark.integration


@pytest.fixture
def sim_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with SimThread(scenarios=("bad-model-upgrade",), speed=20.0) as sim:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(config_snippet(sim.url, "SIM_TOKEN"))
        monkeypatch.setenv("SIM_TOKEN", sim.token)
        monkeypatch.setenv("ONCALL_TUI_CONFIG", str(cfg))
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        yield cfg


def test_plan_then_resume_with_yes_rolls_back_and_exports(sim_config, capsys) -> None:
    argv = ["runbook", "run", "bad-model-upgrade", "--env", "sim", "--answer",
            "route=support-chat", "--json"]  # fmt: skip
    assert main(argv) == 5  # planned only: no --yes
    planned = json.loads(capsys.readouterr().out)
    assert planned["status"] == "planned"
    assert planned["plan"] == "rollback to v3 on route support-chat (dangerous)"
    assert planned["diagnoses"] == ["bad_model_upgrade"]
    # The lifecycle's dry run read the prior state from the gateway itself.
    assert "change: serving version: v4 -> v3" in planned["diff"], planned["diff"]
    incident = planned["incident"]

    assert main(["runbook", "run", "--resume", incident, "--yes", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["status"] == "finished" and done["mitigated"] is True
    assert done["actions"][0]["outcome"] == "verified"
    assert done["checks"]["verify"]["status"] == "pass"
    # The action went through the audited lifecycle: every stage, chain intact.
    audit = AuditLog(Path(os.environ["XDG_STATE_HOME"]) / "oncall-tui" / "audit.jsonl")
    stages = [r.stage for r in audit.for_action(done["actions"][0]["action_id"])]
    assert stages[:3] == ["captured", "planned", "confirmed"] and "verified" in stages
    assert audit.verify().ok

    main(["gateway", "status", "--json"])  # exits 1 while alerts fire; the JSON is what counts
    status = json.loads(capsys.readouterr().out)
    assert '"serving_version": "v3"' in json.dumps(status)

    assert main(["incident", "export", incident, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| Diagnosis | bad_model_upgrade |" in md
    assert "planned (not executed): rollback to v3 on route support-chat" in md
    assert "outcome: **verified**" in md


def test_suggest_reads_the_gateways_alerts_when_given_nothing_else(sim_config, capsys) -> None:
    """Bare ``runbook suggest`` is what a paged person types: it asks the gateways."""
    assert main(["runbook", "suggest", "--env", "sim", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "refusal_drift" in data["alerts"]
    ids = [s["id"] for s in data["suggestions"]]
    assert "safety-drift" in ids and "bad-model-upgrade" in ids


def test_suggest_live_points_stale_data_at_the_stale_retrieval_runbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with SimThread(scenarios=("stale-retrieval",), speed=20.0) as sim:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(config_snippet(sim.url, "SIM_TOKEN"))
        monkeypatch.setenv("SIM_TOKEN", sim.token)
        monkeypatch.setenv("ONCALL_TUI_CONFIG", str(cfg))
        assert main(["runbook", "suggest", "--live", "--env", "sim", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "stale_data" in data["alerts"]
    assert data["suggestions"][0]["id"] == "stale-retrieval", data["suggestions"]
