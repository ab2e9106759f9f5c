"""``analyze``: the one entry point the CLI, the TUI, the simulator's tests and
runbook checks call for a trace. Index once, then graph, cycles, findings."""

from __future__ import annotations

import gc

import msgspec

from oncall_tui.core import findings as findings_mod
from oncall_tui.core.cycles import Cycle, find_cycles
from oncall_tui.core.graph import CallGraph, Collapsed, build
from oncall_tui.core.models import SEVERITY_ORDER, Finding, QualityNote, Trace, TraceSummary
from oncall_tui.core.skew import Skew, adjust, detect
from oncall_tui.core.summary import summarize
from oncall_tui.core.tree import SpanTree, tree_for


class Analysis(msgspec.Struct):
    summary: TraceSummary
    completeness: str
    completeness_reason: str | None
    graph: CallGraph
    cycles: list[Cycle]
    findings: list[Finding]
    quality: list[QualityNote]
    skew: list[Skew]
    adjusted: dict[str, int] = {}  # span id -> shift (ns) when skew adjustment was asked for

    def worst(self) -> str | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__)


def analyze(trace: Trace, *, adjust_skew: bool = False) -> Analysis:
    # Indexing allocates a few lists per span; the cycle collector rescanning
    # them every generation would make a 1M-span trace superlinear. None of
    # them can form a reference cycle.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(trace, adjust_skew=adjust_skew)
    finally:
        if enabled:
            gc.enable()


def _analyze(trace: Trace, *, adjust_skew: bool) -> Analysis:
    tree = tree_for(trace)
    skews = detect(trace, tree)
    moved: dict[str, int] = {}
    if adjust_skew and skews:
        trace, moved = adjust(trace, tree)
        tree = SpanTree(trace)
    col = Collapsed(trace, tree)
    graph = build(trace, tree, col)
    cycles = find_cycles(trace, graph, col)
    found = findings_mod.find(trace, col, cycles)
    if skews:
        found.append(
            Finding(
                "clock_skew",
                "info",
                f"{len(skews)} cross-host span(s) do not fit inside their parent "
                f"(clock skew); timestamps shown {'adjusted' if moved else 'raw'}",
                tuple(s.span_id for s in skews[:20]),
                {"spans": len(skews)},
            )
        )
    found.sort(key=lambda f: -SEVERITY_ORDER[f.severity])
    return Analysis(
        summary=summarize(trace),
        completeness=trace.completeness,
        completeness_reason=trace.completeness_reason,
        graph=graph,
        cycles=cycles,
        findings=found,
        quality=trace.quality,
        skew=skews,
        adjusted=moved,
    )


def matching_finding(analysis: Analysis, wanted: str) -> Finding | None:
    """The most severe finding whose kind contains ``wanted`` (any case), so
    ``cycle`` finds ``reentrancy_cycle``; None when the trace has none."""
    needle = wanted.lower()
    return next((f for f in analysis.findings if needle in f.kind.lower()), None)
