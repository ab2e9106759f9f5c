"""The judge of diagnosis: traces recorded from real, unmodified instrumentation
libraries (tests/corpus/, recorded by ``make corpus``), each beside the
diagnosis written down before it was recorded (expected.yaml).

Reads only the recorded files: no network, none of the recording libraries.
Every case is read in both forms a real exporter leaves (one OTLP/JSON
document, and one export request per line) and both must give the same
diagnosis. A finding of medium severity or worse that the case does not name
is a false alarm and fails the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_tui.cli.trace_cmd import load_traces
from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.models import SEVERITY_ORDER
from tests.corpus.expectations import Expected, load

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CASES = sorted(
    p.parent for p in CORPUS.glob("*/*/expected.yaml") if (p.parent / "trace.json").exists()
)
FORMS = ("trace.json", "spans.jsonl")
CYCLE = "reentrancy_cycle"
REPEATED = "repeated_tool_call"


def diagnose(path: Path) -> list[Analysis]:
    """The analyses of one recorded form, read together with the case's
    ``logs.json`` when the family emits content as OTLP log records (what a
    responder would pass: ``trace analyze trace.json logs.json``)."""
    # The loader `trace analyze` uses: files read together, then stitched.
    logs = path.parent / "logs.json"
    paths = [str(path), str(logs)] if logs.exists() else [str(path)]
    return [analyze(t) for t in load_traces(paths, None)]


def verdict(analyses: list[Analysis], want: Expected) -> list[str]:
    """Every way ``analyses`` differ from ``want``; empty when they match."""
    wrong: list[str] = []
    findings = [f for a in analyses for f in a.findings]
    kinds = {f.kind for f in findings}
    if len(analyses) != want.traces:
        wrong.append(f"{len(analyses)} trace(s), expected {want.traces}")
    if (CYCLE in kinds) != want.cycle:
        wrong.append(f"cycle {'found' if CYCLE in kinds else 'missed'}")
    cycles = [c for a in analyses for c in a.cycles]
    if want.cycle and cycles:
        tools = {k.split(":", 1)[1] for c in cycles for k in c.nodes if k.startswith("tool:")}
        if not set(want.cycle_tools) <= tools:
            wrong.append(f"cycle tools {sorted(tools)}, expected {want.cycle_tools}")
        if want.inferred is not None and any(c.inferred != want.inferred for c in cycles):
            wrong.append(f"cycle inferred={[c.inferred for c in cycles]}, expected {want.inferred}")
        if want.min_laps is not None and max(c.laps for c in cycles) < want.min_laps:
            wrong.append(f"laps {[c.laps for c in cycles]}, expected >= {want.min_laps}")
    if (REPEATED in kinds) != want.repeated_call:
        wrong.append(f"repeated call {'found' if REPEATED in kinds else 'missed'}")
    for kind in want.must:
        if kind not in kinds:
            wrong.append(f"missing finding {kind}")
    for kind in want.must_not:
        if kind in kinds:
            wrong.append(f"unwanted finding {kind}")
    named = {*want.must, *want.may, CYCLE, REPEATED}
    for f in findings:
        if SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER["medium"] and f.kind not in named:
            wrong.append(f"false alarm {f.kind} ({f.severity}): {f.summary}")
    if want.model_nodes is not None:
        models = {k for a in analyses for k in a.graph.nodes if k.startswith("model:")}
        if len(models) != want.model_nodes:
            wrong.append(f"model nodes {sorted(models)}, expected {want.model_nodes}")
    for name, bound in want.numbers.items():
        kind, number = name.split(".", 1)
        values = [f.numbers.get(number) for f in findings if f.kind == kind]
        value = next((v for v in values if v is not None), None)
        if value is None:
            wrong.append(f"{name} not reported")
            continue
        if bound.eq is not None and value != bound.eq:
            wrong.append(f"{name}={value}, expected {bound.eq}")
        if bound.min is not None and float(value) < bound.min:
            wrong.append(f"{name}={value}, expected >= {bound.min}")
        if bound.max is not None and float(value) > bound.max:
            wrong.append(f"{name}={value}, expected <= {bound.max}")
    return wrong


def test_the_corpus_is_there() -> None:
    """At least six families are recorded; a lost folder must not pass as green."""
    families = {case.parent.name for case in CASES}
    assert len(families) >= 6, families


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("form", FORMS)
def test_case_matches_its_written_diagnosis(case: Path, form: str) -> None:
    want = load(case / "expected.yaml")
    wrong = verdict(diagnose(case / form), want)
    if want.known_wrong:
        # Strict: a case that has come right must lose its excuse.
        assert wrong, f"{case.parent.name}/{case.name} is right now: drop known_wrong"
        pytest.xfail(want.known_wrong)
    assert not wrong, f"{case.parent.name}/{case.name} ({form}): " + "; ".join(wrong)


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_both_forms_give_one_diagnosis(case: Path) -> None:
    """The same spans as one document or one export per line: same traces,
    same span counts, same finding kinds."""

    def shape(path: Path) -> list[tuple[int, list[str]]]:
        return sorted(
            (a.summary.span_count or 0, sorted(f.kind for f in a.findings)) for a in diagnose(path)
        )

    assert shape(case / "trace.json") == shape(case / "spans.jsonl")
