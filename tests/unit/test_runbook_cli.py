"""`oncall-tui runbook ...` and `oncall-tui incident ...` as a script sees them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncall_tui.cli.main import main
from oncall_tui.runbook.library import LIBRARY_DIR

BAD = Path(__file__).resolve().parent.parent / "fixtures" / "bad_runbooks"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ONCALL_TUI_CONFIG", raising=False)
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_list_json_without_any_config(home, capsys) -> None:
    assert main(["runbook", "list", "--json"]) == 0
    data = _json(capsys)
    ids = {r["id"] for r in data["runbooks"]}
    assert {"provider-outage", "bad-model-upgrade", "tool-reentrancy-loop"} <= ids
    assert data["problems"] == []


def test_lint_reports_every_problem_with_file_line_and_exit_2(home, capsys) -> None:
    files = sorted(str(p) for p in BAD.glob("*.yaml"))
    assert main(["runbook", "lint", *files]) == 2
    out = capsys.readouterr().out
    assert f"{BAD / 'unknown_keys.yaml'}:5: titel: unknown key (did you mean 'title'?)" in out
    assert "0 of 4 runbook files valid" in out
    assert main(["runbook", "lint", "--json", files[0]]) == 2
    data = _json(capsys)
    assert data["valid"] is False and data["files"][0]["problems"][0]["line"] is not None


def test_lint_of_the_library_passes(home, capsys) -> None:
    shipped = len(list(LIBRARY_DIR.glob("*.yaml")))
    assert shipped >= 12  # issue 6: at least one per failure mode a responder needs
    assert main(["runbook", "lint"]) == 0
    assert f"{shipped} of {shipped} runbook files valid" in capsys.readouterr().out


def test_show_unknown_suggests_closest(home, capsys) -> None:
    assert main(["runbook", "show", "retry-strom"]) == 3  # NotFoundError
    assert "did you mean 'retry-storm'" in capsys.readouterr().err


def test_show_json_and_text(home, capsys) -> None:
    assert main(["runbook", "show", "gateway-down", "--json"]) == 0
    assert _json(capsys)["runbook"]["id"] == "gateway-down"
    assert main(["runbook", "show", "retry-storm"]) == 0
    out = capsys.readouterr().out
    assert "[action] kill: Turn the AI path of {route} off to stop the spend [DANGEROUS]" in out


def test_suggest_from_alerts_and_findings(home, capsys) -> None:
    assert main(["runbook", "suggest", "--json", "--finding", "reentrancy_cycle"]) == 0
    data = _json(capsys)
    assert data["suggestions"][0]["id"] == "tool-reentrancy-loop"


def test_run_without_gateway_reaches_no_data_and_exports(home, capsys) -> None:
    cfg = home / "config" / "oncall-tui" / "config.yaml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("environments:\n  empty: {description: nothing configured}\n")
    code = main(["runbook", "run", "provider-outage", "--answer", "route=chat", "--json"])
    data = _json(capsys)
    assert code == 0, data
    assert data["status"] == "finished"
    assert data["checks"]["errors"]["status"] == "error"
    assert "no gateway" in data["checks"]["errors"]["error"]
    assert data["diagnoses"] == ["gateway_unreachable"]
    incident = data["incident"]
    assert main(["incident", "list", "--json"]) == 0
    listed = _json(capsys)["incidents"]
    assert [i["id"] for i in listed] == [incident]
    assert main(["incident", "export", incident[:-2], "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# Incident {incident}: Provider outage on chat: fail over")
    assert "check ERROR" in md and "gateway_unreachable" in md
    assert main(["incident", "export", incident, "--format", "json"]) == 0
    assert _json(capsys)["diagnoses"] == ["gateway_unreachable"]


def test_run_needs_inputs_and_answers(home, capsys) -> None:
    cfg = home / "config" / "oncall-tui" / "config.yaml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("environments:\n  empty: {}\n")
    assert main(["runbook", "run", "retry-storm"]) == 2
    assert "needs input route" in capsys.readouterr().err
    answers = home / "answers.yaml"
    answers.write_text("route: chat\nnot_a_step: 1\n")
    assert main(["runbook", "run", "retry-storm", "--answers", str(answers)]) == 2
    assert "has no input not_a_step" in capsys.readouterr().err
