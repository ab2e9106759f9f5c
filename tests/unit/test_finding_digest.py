"""Findings of many traces grouped per kind (core/finding_digest.py)."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from oncall_tui.core.finding_digest import digest
from oncall_tui.core.summary import summarize
from tests.builders import gateway_request, looping_agent


def test_one_group_per_kind_worst_first_with_routes_by_count() -> None:
    analyses = [analyze(looping_agent(n, "a")) for n in range(3)] + [analyze(looping_agent(9, "b"))]
    groups = digest(analyses)
    cycle = next(g for g in groups if g.kind == "reentrancy_cycle")
    assert cycle.traces == 4 and cycle.routes == ("a", "b")
    assert cycle.severity == "high" and cycle.example in {a.summary.trace_id for a in analyses}
    ranks = [g.severity for g in groups]
    order = ["critical", "high", "medium"]
    assert ranks == sorted(ranks, key=order.index)
    assert all(g.severity in order for g in groups)  # low and info left out by default


def test_clean_traces_give_no_groups() -> None:
    clean = gateway_request(1, [("chat", "m", "ok")])
    assert digest([analyze(clean)]) == []


def test_a_gateway_trace_is_summarised_with_the_route_its_attempts_name() -> None:
    """LiteLLM puts the model group on the attempt spans, not the root."""
    trace = gateway_request(1, [("chat", "m", "error"), ("backup", "m2", "ok")])
    assert summarize(trace).route == "chat"
