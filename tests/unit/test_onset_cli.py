"""``oncall-tui trace onset`` on trace files: a generated fleet where a tool's
description changes mid-window and reentrancy cycles follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncall_tui.cli.main import main
from tests.builders import MS
from tests.onset_fleet import BUCKET_MS, write_fleet


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    path = tmp_path_factory.mktemp("fleet") / "fleet.jsonl"
    return str(path), write_fleet(path)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    code = main(["trace", "onset", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_json_names_the_description_change_before_the_reentrancy_onset(
    fleet_file: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, change_ns = fleet_file
    code, doc = _json(capsys, [path, "--since", "2h", "--bucket", "5m"])
    assert code == 1  # an onset is a finding
    assert doc["method"] == "all" and doc["method_note"].startswith("analysed all 1,920 traces")
    [onset] = doc["onsets"]
    assert (onset["route"], onset["kind"]) == ("agent-assist", "reentrancy_cycle")
    assert onset["at_ns"] == change_ns - change_ns % (BUCKET_MS * MS)
    assert onset["before_rate"] == 0.0 and 0.15 < onset["after_rate"] < 0.35
    cause = onset["cause"]
    assert (cause["kind"], cause["subject"], cause["detail"]) == (
        "tool_definition", "lookup_order", "description")  # fmt: skip
    assert cause["at_ns"] == change_ns
    assert onset["line"].startswith("reentrancy_cycle on agent-assist: 0% -> ")
    assert "tool lookup_order's description changed (hash " in onset["line"]
    # The trend the console draws: one rate per bucket, zeros before the change.
    [s] = [s for s in doc["series"] if s["kind"] == "reentrancy_cycle"]
    assert len(s["rates"]) == len(doc["bucket_starts_ns"]) == 24
    assert s["rates"][:14] == [0.0] * 14 and min(s["rates"][15:]) > 0


def test_text_lines_up_trend_onset_changes_and_method(
    fleet_file: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = fleet_file
    assert main(["trace", "onset", path, "--since", "2h"]) == 1
    out = capsys.readouterr().out
    assert "agent-assist: 960 traces seen, 960 analysed" in out
    assert "billing: 960 traces seen, 960 analysed; no findings" in out
    assert "onsets:\n  reentrancy_cycle on agent-assist: 0% -> " in out
    assert "changes in the window (1):" in out
    assert out.rstrip().endswith("method: analysed all 1,920 traces in the window")


def test_a_route_or_kind_without_a_rise_exits_0(
    fleet_file: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = fleet_file
    code, doc = _json(capsys, [path, "--since", "2h", "--route", "billing"])
    assert code == 0 and doc["onsets"] == [] and doc["changes"] == []
    code, doc = _json(capsys, [path, "--since", "2h", "--finding", "refusal"])
    assert code == 0 and doc["series"] == []


def test_a_steady_fleet_has_no_onset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "steady.jsonl"
    write_fleet(path, buckets=12, per_bucket=20, change_bucket=None)
    code, doc = _json(capsys, [str(path), "--since", "1h"])
    assert code == 0 and doc["onsets"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a duration"),
        (["--bucket", "2h", "--since", "1h"], "--bucket 2h is longer than --since 1h"),
        (["--sample", "0"], "--sample: at least 1"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    fleet_file: tuple[str, int], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    path, _ = fleet_file
    assert main(["trace", "onset", path, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
