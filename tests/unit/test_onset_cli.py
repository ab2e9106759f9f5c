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


def test_a_store_and_the_audit_log_name_an_action_as_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No FILE: the environment's trace store is sampled, and an action the
    audit log says ran just before the loops is the change named."""
    import time
    from datetime import UTC, datetime

    from oncall_tui.actions import AuditLog
    from oncall_tui.cli import common
    from oncall_tui.core.assemble import assemble
    from tests.onset_fleet import fleet
    from tests.unit.test_onset_sampling import SearchStore

    now_ms = time.time_ns() // MS
    t0 = now_ms - now_ms % BUCKET_MS - 11 * BUCKET_MS  # 12 buckets ending with the current one
    requests, change_ns = fleet(buckets=12, per_bucket=20, change_bucket=7, change_offset_ms=0,
                                rewrite=False, t0_ms=t0)  # fmt: skip
    store = SearchStore([assemble(spans, source="test")[0] for spans in requests])

    def adapters(env: object, section: str, ctx: object = None) -> dict[str, object]:
        return {"s": store} if section == "trace_stores" else {}

    monkeypatch.setattr(common, "adapters", adapters)
    ran = datetime.fromtimestamp((change_ns - 60 * 10**9) / 1e9, UTC)
    audit = AuditLog(tmp_path / "audit.jsonl", clock=lambda: ran)
    for stage, data in (("planned", {"detail": "failover to openai/gpt-4o on agent-assist"}),
                        ("executed", {"detail": "done"})):  # fmt: skip
        audit.append(action_id="a1", key="k1", stage=stage, actor="ana", env="prod",
                     kind="failover", route="agent-assist", data=data)  # fmt: skip
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"audit_log: {tmp_path / 'audit.jsonl'}\nenvironments:\n  prod: {{description: p}}\n"
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(cfg))
    code = main(["trace", "onset", "--since", "1h", "--sample", "20", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1, doc
    assert doc["source"] == "s" and doc["method"] == "sampled"
    [onset] = doc["onsets"]
    assert onset["cause"]["kind"] == "action" and onset["cause"]["source"] == "audit"
    assert onset["line"].endswith(
        "1 min before, action failover ran: failover to openai/gpt-4o on agent-assist (by ana)"
    )


def test_a_store_that_counts_in_its_engine_is_preferred_and_its_candidates_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from oncall_tui.cli import common
    from oncall_tui.core.assemble import assemble
    from oncall_tui.core.onset_model import BucketCount, OnsetQuery, OnsetWindow
    from tests.onset_fleet import fleet
    from tests.unit.test_onset_sampling import CountingStore, SearchStore

    requests, _ = fleet(buckets=1, per_bucket=2, change_bucket=0, change_offset_ms=0,
                        rate_after=1.0)  # fmt: skip
    traces = [assemble(spans, source="test")[0] for spans in requests]
    ids = [t.trace_id for t in traces]
    q = OnsetQuery(since_ns=0, until_ns=1, bucket_ns=1)
    pushed = OnsetWindow(q, "pushdown", [BucketCount("agent-assist", 0, 10)],
                         method_note="counted in the engine over 10 traces",
                         candidates={"reentrancy_cycle": ids})  # fmt: skip
    stores = {"sampled": SearchStore(traces), "engine": CountingStore(traces, pushed)}

    def adapters(env: object, section: str, ctx: object = None) -> dict[str, object]:
        return stores if section == "trace_stores" else {}

    monkeypatch.setattr(common, "adapters", adapters)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"audit_log: {tmp_path / 'none.jsonl'}\nenvironments:\n  p: {{description: p}}\n"
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(cfg))
    code, doc = _json(capsys, ["--since", "1h"])
    assert code == 0
    assert (doc["source"], doc["method"]) == ("engine", "pushdown")
    assert doc["method_note"] == "counted in the engine over 10 traces"
    # Candidates are analysed here: only the looping agent-assist ones keep the kind.
    looping = [
        t.trace_id for t in traces if t.spans[0].attributes["gen_ai.route"] == "agent-assist"
    ]
    assert doc["confirmed"] == {"reentrancy_cycle": looping}
