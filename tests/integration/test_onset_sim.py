"""`oncall-tui trace onset` against the real simulator over HTTP: a config
naming it as gateway and trace store, both mid-run scenarios under way, the
store sampled per bucket; the onsets name the changes made before them."""

from __future__ import annotations

import json
import re

import pytest

from oncall_tui.cli.main import main
from oncall_tui.cli.sim_cmd import config_snippet, wall_clock_start
from oncall_tui.sim.thread import SimThread

pytestmark = pytest.mark.integration

WARMUP_S = 1800  # the changes are made 900 s in: three 5-min buckets on each side


@pytest.fixture(scope="module")
def sim_env(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("onset-sim")
    with SimThread(
        scenarios=("tool-description-change", "model-snapshot-change"),
        speed=1.0,
        warmup_s=WARMUP_S,
        start=wall_clock_start(WARMUP_S),
    ) as sim:
        cfg = tmp / "config.yaml"
        cfg.write_text(config_snippet(sim.url, "SIM_TOKEN"))
        yield {
            "SIM_TOKEN": sim.token,
            "ONCALL_TUI_CONFIG": str(cfg),
            "XDG_STATE_HOME": str(tmp / "state"),
        }


@pytest.fixture
def env(sim_env, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in sim_env.items():
        monkeypatch.setenv(k, v)


def test_onset_json_names_each_change_before_its_onset(env, capsys) -> None:
    # The default sample (50 per route and bucket) is what the simulator's
    # store keeps of an older bucket: the baseline is all it has.
    code = main(["trace", "onset", "--since", "45m", "--bucket", "5m", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1, doc
    assert doc["method"] == "sampled"
    assert doc["method_note"].startswith("sampled up to 50 traces per route per 5m bucket")
    found = {(o["route"], o["kind"]): o for o in doc["onsets"]}
    loop = found[("agent-assist", "reentrancy_cycle")]
    assert (loop["cause"]["kind"], loop["cause"]["subject"]) == ("tool_definition", "lookup_order")
    assert "tool lookup_order's description changed (hash " in loop["line"]
    refusals = found[("doc-extract", "refusal")]
    assert refusals["cause"]["kind"] == "model_version"
    assert refusals["cause"]["after"] == "gpt-4o-2024-11-20"
    # Each cause lies within the onset's bucket or before it, never after.
    for o in (loop, refusals):
        assert o["cause"]["at_ns"] < o["at_ns"] + 300 * 10**9


def test_onset_text_for_one_route(env, capsys) -> None:
    assert main(["trace", "onset", "--since", "45m", "--route", "agent-assist"]) == 1
    out = capsys.readouterr().out
    # The baseline is a sample: a stray loop before the change reads "0.4%".
    lines = out.split("onsets:\n", 1)[1].splitlines()
    loop = next(line for line in lines if "reentrancy_cycle on agent-assist:" in line)
    found = re.search(r"agent-assist: (\d+(?:\.\d)?)% -> (\d+)%", loop)
    assert found is not None, out
    assert float(found[1]) < 5 < int(found[2]), loop
    assert "tool lookup_order's description changed" in loop, loop
    assert "doc-extract" not in out
    assert "method: sampled up to 50 traces per route per 5m bucket" in out


def test_a_route_with_no_change_has_no_onset(env, capsys) -> None:
    assert main(["trace", "onset", "--since", "45m", "--route", "search-summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["onsets"] == []
