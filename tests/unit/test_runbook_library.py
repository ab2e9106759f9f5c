"""The shipped runbook library: every file lints, and each is complete enough
for a tired engineer (look-alikes that exist, a diagnosis, a way out, questions
for the postmortem). Live runs against the simulator are in
tests/integration/test_runbook_scenarios.py."""

from __future__ import annotations

import pytest

from oncall_tui.runbook.format import ActionStep, CheckStep, DecisionStep, check_file
from oncall_tui.runbook.library import LIBRARY_DIR, files, load_all, suggest

PATHS = files()
RUNBOOKS, PROBLEMS = load_all()


def test_library_has_at_least_twelve_runbooks() -> None:
    assert len(PATHS) >= 12
    assert PROBLEMS == []
    assert len(RUNBOOKS) == len(PATHS)  # ids are unique


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_runbook_lints_and_is_complete(path) -> None:
    checked = check_file(path)
    assert checked.problems == [], [str(p) for p in checked.problems]
    rb = checked.runbook
    assert rb is not None
    assert path.stem == rb.id, "file name and id agree, so `runbook show ID` finds the file"
    for other in rb.lookalikes:
        assert other in RUNBOOKS, f"look-alike {other!r} is not a runbook"
    assert rb.match.alerts or rb.match.findings, "the console could never suggest it"
    assert rb.match.symptoms, "a person's words for it"
    assert len(rb.postmortem) >= 2
    assert any(s.diagnosis for s in rb.steps), "it must be able to conclude something"
    assert any(isinstance(s, CheckStep) for s in rb.steps) or any(
        isinstance(s, DecisionStep) and s.question for s in rb.steps
    )
    assert any(s.mitigates for s in rb.steps), "it must say what counts as mitigated"
    for step in rb.steps:
        if isinstance(step, ActionStep) and step.action in ("kill_switch", "rollback", "failover"):
            assert step.dangerous, f"{step.id}: changing production is dangerous"
        assert step.title.strip()
    assert all(len(s.guidance) < 1200 for s in rb.steps), "guidance a tired person can read"


def test_library_dir_is_what_runbooks_symlink_points_at() -> None:
    root_link = LIBRARY_DIR.parents[2] / "runbooks"
    if root_link.exists():
        assert root_link.resolve() == LIBRARY_DIR


@pytest.mark.parametrize(
    ("alerts", "findings", "first"),
    [
        (["tier_mix_below_slo"], [], "fallback-became-default"),
        ([], ["reentrancy_cycle"], "tool-reentrancy-loop"),
        (["quota_low"], [], "quota-exhaustion"),
        (["gateway_unreachable"], [], "gateway-down"),
        ([], ["structured_output_retry"], "structured-output-retry-loop"),
        (["retry_amplification", "cost_spike"], ["retry_amplification"], "retry-storm"),
    ],
)
def test_suggest_ranks_the_matching_runbook_first(alerts, findings, first) -> None:
    ranked = suggest(RUNBOOKS.values(), alerts=alerts, findings=findings)
    assert ranked and ranked[0].runbook.id == first, [s.runbook.id for s in ranked]


def test_suggest_nothing_for_nothing() -> None:
    assert suggest(RUNBOOKS.values(), alerts=[], findings=["clock_skew"]) == []


def test_every_simulator_scenario_names_a_shipped_runbook() -> None:
    from oncall_tui.sim.scenarios import SCENARIOS

    for scenario in SCENARIOS.values():
        assert scenario.runbook in RUNBOOKS, f"{scenario.name} -> {scenario.runbook}"
