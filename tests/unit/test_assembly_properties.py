"""Properties of reading: the diagnosis of a trace does not depend on how an
exporter cut it up (span order, batches, JSON lines) or spelled its ids (hex
of either case, base64), and a piece of a trace is never called complete."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.models import Span
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.sources.detect import read_traces
from tests.builders import TraceBuilder, looping_agent

TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "traces"


def _plain_loop() -> list[Span]:
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    for lap in range(3):
        t = lap * 300
        b.model(agent, t, t + 100)
        b.tool("search", agent, t + 110, t + 250, args=f'{{"q": {lap}}}')
    b.model(agent, 900, 990)
    return b.spans


def _from_file(name: str) -> list[Span]:
    [trace] = read_traces((TRACES / name).read_bytes())
    return trace.spans


BASES: dict[str, list[Span]] = {
    "reentrant": looping_agent(1, "support-chat").spans,
    "reentrant-wrappers": _from_file("reentrancy_wrappers.json"),
    "lost-context": _from_file("lost_context.json"),
    "plain-loop": _plain_loop(),
}


def _diagnosis(data: bytes) -> tuple[Any, ...]:
    [trace] = read_traces(data, source="prop.jsonl")
    a = analyze(trace)
    return (
        sorted(f.kind for f in a.findings),
        sorted(sorted(c.nodes) for c in a.cycles),
        a.completeness,
        len(trace.spans),
    )


def _spell(hex_id: str, how: str) -> str:
    if how == "upper":
        return hex_id.upper()
    if how == "base64":
        return base64.b64encode(bytes.fromhex(hex_id)).decode()
    return hex_id


def _document(spans: list[Span], spelling: dict[str, str]) -> dict[str, Any]:
    doc = traces_data(spans)
    for rs in doc["resourceSpans"]:
        for w in rs["scopeSpans"][0]["spans"]:
            w["traceId"] = _spell(w["traceId"], spelling["trace"])
            w["spanId"] = _spell(w["spanId"], spelling[w["spanId"]])
            if "parentSpanId" in w:
                w["parentSpanId"] = _spell(w["parentSpanId"], spelling["parent"])
    return doc


def _write(
    spans: list[Span], cuts: list[int], lines_at: set[int], spelling: dict[str, str]
) -> bytes:
    """Spans cut into batches at ``cuts``; a batch starts a new JSON line when
    its index is in ``lines_at``, else it joins the line's document as
    another resourceSpans entry."""
    bounds = [0, *sorted(set(cuts)), len(spans)]
    batches = [spans[a:b] for a, b in itertools.pairwise(bounds) if a < b]
    lines: list[dict[str, Any]] = []
    for i, batch in enumerate(batches):
        doc = _document(batch, spelling)
        if not lines or i in lines_at:
            lines.append(doc)
        else:
            lines[-1]["resourceSpans"].extend(doc["resourceSpans"])
    return b"\n".join(msgspec.json.encode(doc) for doc in lines) + b"\n"


SPELLINGS = st.sampled_from(["lower", "upper", "base64"])


@st.composite
def _cut_up(draw: st.DrawFn, base: str) -> bytes:
    spans = draw(st.permutations(BASES[base]))
    n = len(spans)
    cuts = draw(st.lists(st.integers(1, max(1, n - 1)), max_size=n))
    lines_at = set(draw(st.lists(st.integers(0, n), max_size=n)))
    spelling = {s.span_id: draw(SPELLINGS) for s in spans}
    spelling["trace"] = draw(SPELLINGS)
    spelling["parent"] = draw(SPELLINGS)
    return _write(spans, cuts, lines_at, spelling)


def _whole(base: str) -> bytes:
    return msgspec.json.encode(traces_data(BASES[base]))


@st.composite
def _any_base(draw: st.DrawFn) -> tuple[str, bytes]:
    base = draw(st.sampled_from(sorted(BASES)))
    return base, draw(_cut_up(base))


@settings(max_examples=200, deadline=None)
@given(_any_base())
def test_diagnosis_does_not_depend_on_order_batches_lines_or_id_spelling(
    case: tuple[str, bytes],
) -> None:
    base, data = case
    assert _diagnosis(data) == _diagnosis(_whole(base))


def test_the_bases_say_what_they_are() -> None:
    """The property above compares against these: make sure they differ."""
    kinds = {base: _diagnosis(_whole(base)) for base in BASES}
    assert "reentrancy_cycle" in kinds["reentrant"][0]
    assert "reentrancy_cycle" in kinds["lost-context"][0]
    assert kinds["plain-loop"][1] == [] and "reentrancy_cycle" not in kinds["plain-loop"][0]
    assert all(k[2] == "complete" for k in kinds.values())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(BASES)), st.data())
def test_a_piece_missing_a_parent_is_never_complete(base: str, data: st.DataObject) -> None:
    spans = BASES[base]
    kept = data.draw(st.lists(st.sampled_from(spans), min_size=1, unique_by=lambda s: s.span_id))
    ids = {s.span_id for s in kept}
    [trace] = read_traces(msgspec.json.encode(traces_data(kept)))
    lacks_parent = any(s.parent_id is not None and s.parent_id not in ids for s in kept)
    has_root = any(s.parent_id is None for s in kept)
    if lacks_parent or not has_root:
        assert trace.completeness == "partial"
    else:
        assert trace.completeness == "complete"
