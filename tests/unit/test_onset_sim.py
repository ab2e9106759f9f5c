"""The simulator's mid-run scenarios (docs/simulator.md): a change is made
15 sim minutes in, visible in the traces (and the routes), and a finding
rises after it, so ``trace onset`` can name the change."""

from __future__ import annotations

import pytest

from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import assemble
from oncall_tui.core.changes import tool_definitions
from oncall_tui.core.models import Trace
from oncall_tui.core.onset import onsets
from oncall_tui.core.onset_model import OnsetQuery
from oncall_tui.sim.engine import SimEngine
from oncall_tui.sources.onset_sampling import window_from_traces

CHANGE_S = 900
RUN_S = 1800
BUCKET = 300 * 10**9


@pytest.fixture(scope="module")
def run() -> tuple[SimEngine, list[Trace]]:
    engine = SimEngine(scenarios=("tool-description-change", "model-snapshot-change"))
    engine.step(RUN_S)
    traces = [assemble(spans, source="sim")[0] for spans in engine.store.traces.values()]
    return engine, traces


def _start_ns(engine: SimEngine) -> int:
    return int(engine.fleet.start.timestamp()) * 10**9


def _route(t: Trace) -> str:
    return str(t.spans[0].attributes.get("gen_ai.route"))


def test_nothing_happens_before_the_change_and_the_finding_follows_it(run) -> None:
    engine, traces = run
    change_ns = _start_ns(engine) + CHANGE_S * 10**9
    agent = [t for t in traces if _route(t) == "agent-assist"]
    before = [t for t in agent if t.spans[0].start_ns < change_ns]
    after = [t for t in agent if t.spans[0].start_ns >= change_ns]
    assert before and after
    assert not any(analyze(t).cycles for t in before)
    looping = sum(1 for t in after if analyze(t).cycles)
    assert 0.1 < looping / len(after) < 0.45  # a quarter loop, not all


def test_the_description_change_is_in_the_traces_tool_definitions(run) -> None:
    engine, traces = run
    change_ns = _start_ns(engine) + CHANGE_S * 10**9
    hashes: dict[bool, set[str | None]] = {False: set(), True: set()}
    for t in traces:
        if _route(t) != "agent-assist":
            continue
        for span in t.spans:
            defs, _ = tool_definitions(span)
            if "lookup_order" in defs:
                hashes[t.spans[0].start_ns >= change_ns].add(defs["lookup_order"][0])
    assert len(hashes[False]) == 1 and len(hashes[True]) == 1
    assert hashes[False] != hashes[True]


def test_the_snapshot_change_shows_in_the_routes_without_a_deploy(run) -> None:
    engine, _ = run
    [route] = [r for r in engine.routes().routes if r.name == "doc-extract"]
    assert route.primary.version == "2024-11-20" and route.version == "v5"


def test_trace_onset_names_each_change_before_its_onset(run) -> None:
    engine, traces = run
    start = _start_ns(engine)
    q = OnsetQuery(since_ns=start, until_ns=start + RUN_S * 10**9, bucket_ns=BUCKET)
    found = {(o.route, o.kind): o for o in onsets(window_from_traces(traces, q))}
    loop = found[("agent-assist", "reentrancy_cycle")]
    assert loop.cause is not None
    assert (loop.cause.kind, loop.cause.subject) == ("tool_definition", "lookup_order")
    refusals = found[("doc-extract", "refusal")]
    assert refusals.cause is not None
    assert (refusals.cause.kind, refusals.cause.before, refusals.cause.after) == (
        "model_version", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20")  # fmt: skip
    for o in (loop, refusals):
        assert o.at_ns == start + CHANGE_S * 10**9  # the change lands on a bucket edge
    # Nothing else rose: the other routes' steady findings stay quiet.
    assert set(found) == {("agent-assist", "reentrancy_cycle"), ("doc-extract", "refusal")}
