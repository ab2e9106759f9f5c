"""Traces split by lost thread context, joined again.

A sub-agent run in a worker thread (or any code that drops the context when
it hands work to another thread) starts a new trace. When several traces are
read together (one file, a listen session, a window read from a store), a
trace whose root span starts and ends inside a tool span of another trace, on
the same service and host, ran inside that tool call: ``stitch`` merges it
into the outer trace so the call graph (core/graph.py infers the call from
the containment, labelled inferred) can see a loop that crosses them.

The merged trace keeps the outer trace's id and lists the others in
``linked_trace_ids``; the inner root keeps ``parent_id`` None (the link is an
inference, not data) and a ``linked_trace`` quality note says where it was
placed. Chains merge transitively; a trace is never merged into itself, and
mutual containment (equal intervals) cannot make a loop.

Cost: one pass over the spans for roots and tool spans, one sort per
(service, host), a stack sweep; O(n log n) in the spans that matter.
"""

from __future__ import annotations

from oncall_tui.core.graph import node_key
from oncall_tui.core.models import Completeness, QualityNote, Span, Trace

_WEAKNESS: dict[str, int] = {"complete": 0, "partial": 1, "truncated": 2}

#: How far down the open-tool stack a root looks for its container. Tools on
#: one process nest; partial overlaps (parallel work) only push a few extra.
_STACK_LOOKBACK = 8

_TOOL, _ROOT = 0, 1  # sort order at equal intervals: a tool contains a root


def stitch(traces: list[Trace]) -> list[Trace]:
    """``traces`` with every trace whose root ran inside another trace's tool
    span merged into that trace; order is kept (merged traces take the outer
    trace's place)."""
    if len(traces) < 2:
        return traces
    container = _containers(traces)
    if not container:
        return traces
    outer = _resolve(len(traces), container)
    members: dict[int, list[int]] = {}
    for i in range(len(traces)):
        members.setdefault(outer[i], []).append(i)
    out: list[Trace] = []
    for i, trace in enumerate(traces):
        group = members.get(i)
        if group is None:
            continue  # merged into another
        if len(group) == 1:
            out.append(trace)
            continue
        inner = sorted((j for j in group if j != i), key=lambda j: container[j][2].start_ns)
        out.append(_merge(trace, [traces[j] for j in inner], [container[j] for j in inner]))
    return out


def find(traces: list[Trace], trace_id: str) -> list[Trace]:
    """The traces whose id, or a linked trace's id, is ``trace_id``."""
    wanted = trace_id.lower()
    return [t for t in traces if t.trace_id == wanted or wanted in t.linked_trace_ids]


def _root(trace: Trace) -> Span | None:
    best: Span | None = None
    for s in trace.spans:
        if s.parent_id is None and (
            best is None
            or s.start_ns < best.start_ns
            or (s.start_ns == best.start_ns and s.end_ns > best.end_ns)
        ):
            best = s
    return best


def _containers(traces: list[Trace]) -> dict[int, tuple[int, Span, Span]]:
    """Trace index -> (index of the trace holding its root, the tool span, the root)."""
    # (start, -end, tool-before-root, trace index, span) per process.
    groups: dict[tuple[str | None, str | None], list[tuple[int, int, int, int, Span]]] = {}
    for ti, trace in enumerate(traces):
        root = _root(trace)
        if root is not None:
            groups.setdefault((root.service, root.host), []).append(
                (root.start_ns, -root.end_ns, _ROOT, ti, root)
            )
    if not groups:
        return {}
    for ti, trace in enumerate(traces):
        for s in trace.spans:
            bucket = groups.get((s.service, s.host))
            if bucket is not None and s.gen_ai is not None:
                key = node_key(s)
                if key is not None and key.startswith("tool:"):
                    bucket.append((s.start_ns, -s.end_ns, _TOOL, ti, s))
    found: dict[int, tuple[int, Span, Span]] = {}
    for items in groups.values():
        if len(items) < 2:
            continue
        items.sort(key=lambda item: item[:3])
        stack: list[tuple[int, int, int, int, Span]] = []
        for item in items:
            start, neg_end, what, ti, span = item
            while stack and -stack[-1][1] < start:
                stack.pop()
            if what == _TOOL:
                stack.append(item)
                continue
            for t_start, t_neg_end, _, t_ti, tool in reversed(stack[-_STACK_LOOKBACK:]):
                if (
                    t_start <= start
                    and -t_neg_end >= -neg_end
                    and traces[t_ti].trace_id != traces[ti].trace_id
                ):
                    found[ti] = (t_ti, tool, span)
                    break
    return found


def _resolve(n: int, container: dict[int, tuple[int, Span, Span]]) -> list[int]:
    """Each trace's outermost trace, following containers transitively; a link
    that would close a loop (mutual containment) is dropped."""
    up = list(range(n))

    def top(i: int) -> int:
        path = []
        while up[i] != i:
            path.append(i)
            i = up[i]
        for j in path:
            up[j] = i
        return i

    for inner, (outer_i, _, _) in container.items():
        if top(outer_i) != inner:
            up[inner] = outer_i
    return [top(i) for i in range(n)]


def _merge(head: Trace, inner: list[Trace], where: list[tuple[int, Span, Span]]) -> Trace:
    spans = list(head.spans)
    quality = list(head.quality)
    linked = list(head.linked_trace_ids)
    worst: Completeness = head.completeness
    reasons = [head.completeness_reason] if head.completeness_reason else []
    for t, (_, tool, root) in zip(inner, where, strict=True):
        spans.extend(t.spans)
        quality.extend(t.quality)
        quality.append(
            QualityNote(
                "linked_trace",
                f"trace {t.trace_id} starts at span {root.span_id}, inside tool span "
                f"{tool.span_id} of trace {tool.trace_id} on the same process: "
                f"joined here (context lost across threads, inferred)",
                root.span_id,
            )
        )
        linked.extend(x for x in (t.trace_id, *t.linked_trace_ids) if x not in linked)
        if _WEAKNESS[t.completeness] > _WEAKNESS[worst]:
            worst, reasons = t.completeness, []
        if t.completeness == worst and t.completeness_reason and worst != "complete":
            reasons.append(f"linked trace {t.trace_id}: {t.completeness_reason}")
    return Trace(
        trace_id=head.trace_id,
        spans=spans,
        completeness=worst,
        completeness_reason="; ".join(reasons) or None,
        source=head.source,
        quality=quality,
        linked_trace_ids=linked,
    )
