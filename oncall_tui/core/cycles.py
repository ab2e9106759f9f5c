"""Reentrancy: strongly connected components of the call graph, with evidence.

Tarjan's algorithm, iterative (no recursion limit) and linear in nodes plus
edges, over ``call`` and ``inferred`` edges only ("model chose tool" edges
explain; they never close a loop). Each non-trivial component, or a node
calling itself through other spans, is a reentrancy cycle. Evidence comes
from one linear pass over the spans: for each span, the calls of the same
node key above it on its effective-parent chain inside the same component
(kept per key on a stack during an iterative walk) give laps, nesting and a
concrete witness path of span ids; the cost (tokens, time) is what ran inside
the loop's outermost calls, inferred calls included.

A plain agent loop (model, tool, model, tool as siblings under one agent)
yields edges agent->model and agent->tool only: no component, no alarm.
"""

from __future__ import annotations

from itertools import pairwise

import msgspec

from oncall_tui.core.graph import CallGraph, Collapsed, call_tokens
from oncall_tui.core.models import Trace


class Cycle(msgspec.Struct):
    nodes: list[str]  # the component's node keys, sorted
    witness: list[str]  # span ids: one lap, the previous call of the tool ... its re-entry
    witness_keys: list[str]  # node key of each witness span
    laps: int  # most calls of one tool of the loop along one call chain (>= 2)
    max_nesting: int  # most tool calls of the loop along one call chain
    tokens: int  # model tokens inside the loop's outermost calls
    duration_ns: int  # wall time of the loop's outermost calls
    inferred: bool  # the loop rests on at least one inferred edge
    spans: int  # component spans inside the loop's outermost calls
    wasted_tokens: int = 0  # model tokens inside the re-entered calls (lap 2 on)
    trace_ids: list[str] = []  # the trace ids of the loop's spans, when more than one


def strongly_connected(nodes: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's SCC, iterative. Returns components (each a list of nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, pos = work[-1]
            if pos == 0 and v not in index:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            targets = succ.get(v, [])
            if pos < len(targets):
                work[-1] = (v, pos + 1)
                w = targets[pos]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def find_cycles(trace: Trace, graph: CallGraph, col: Collapsed) -> list[Cycle]:
    succ: dict[str, list[str]] = {}
    self_loops: set[str] = set()
    inferred_pairs: set[tuple[str, str]] = set()
    for e in graph.edges:
        if e.kind == "chose_tool":
            continue
        succ.setdefault(e.source, []).append(e.target)
        if e.source == e.target:
            self_loops.add(e.source)
        if e.kind == "inferred":
            inferred_pairs.add((e.source, e.target))
    comps = [
        c for c in strongly_connected(sorted(graph.nodes), succ) if len(c) > 1 or c[0] in self_loops
    ]
    if not comps:
        return []
    if graph.genai:
        # Reentrancy runs through a tool (DESIGN.md): agents and models calling
        # each other with no tool between are a wrapper or a mislabelled span
        # (an HTTP span stamped with its agent's name), not a loop to page on.
        comps = [c for c in comps if any(k.startswith("tool:") for k in c)]
        if not comps:
            return []
    comp_of: dict[str, int] = {k: n for n, c in enumerate(comps) for k in c}
    forest = _Forest(col)
    return [
        cyc
        for n, c in enumerate(comps)
        if (
            cyc := _evidence(
                trace,
                col,
                forest,
                comp_of=comp_of,
                comp=n,
                nodes=sorted(c),
                inferred_pairs=inferred_pairs,
            )
        )
        is not None
    ]


class _Forest:
    """Node spans hung from their effective parents (inferred edges
    included): what ran inside what, for the cost of a loop."""

    __slots__ = ("kids",)

    def __init__(self, col: Collapsed) -> None:
        keys = col.keys
        eparent = col.eparent
        kids: list[list[int]] = [[] for _ in keys]
        for i in col.tree.order:
            p = eparent[i]
            if p >= 0 and keys[i] is not None:
                kids[p].append(i)
        self.kids = kids

    def inside(self, tops: list[int]) -> tuple[list[int], list[int]]:
        """Every node span inside any of ``tops`` (tops included), once each,
        and the tops inside no other; ``tops`` sorted outermost first."""
        kids = self.kids
        seen: set[int] = set()
        out: list[int] = []
        outer: list[int] = []
        for top in tops:
            if top in seen:
                continue
            outer.append(top)
            work = [top]
            while work:
                i = work.pop()
                if i in seen:
                    continue  # bad parent data: never walk a span twice
                seen.add(i)
                out.append(i)
                work.extend(kids[i])
        return out, outer


def _evidence(
    trace: Trace,
    col: Collapsed,
    forest: _Forest,
    *,
    comp_of: dict[str, int],
    comp: int,
    nodes: list[str],
    inferred_pairs: set[tuple[str, str]],
) -> Cycle | None:
    """Laps, nesting, witness and cost of one component, from one walk over
    its spans along effective-parent chains.

    Laps count calls of one *tool* of the loop along one chain, the outermost
    being lap 1 (A > B > A > B is 2 laps); nesting counts the loop's tool calls
    along one chain. Agent, model, chain and wrapper spans between them add
    nothing to either. In a trace with no GenAI spans (``span:`` nodes)
    every call counts.
    """
    spans = trace.spans
    keys = col.keys
    eparent = col.eparent
    parent = col.tree.parent
    edge_kind = col.edge_kind
    n = len(spans)
    counted = "tool:" if any(k.startswith("tool:") for k in nodes) else ""
    member = [k is not None and comp_of.get(k) == comp for k in keys]
    kids: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    for i in col.tree.order:
        if not member[i]:
            continue
        p = eparent[i]
        if p >= 0 and member[p]:
            kids[p].append(i)
        else:
            roots.append(i)
    nest = [0] * n
    pushed = [False] * n
    key_stack: dict[str, list[int]] = {}  # calls of each key along the current chain
    best = best_anchor = -1
    best_laps = 1
    max_nesting = 0
    tops: set[int] = set()  # lap 1 of every tool that came round again
    waste_tops: set[int] = set()  # lap 2 of each: everything inside is repetition
    seen = [False] * n
    for r in roots:
        work: list[tuple[int, bool]] = [(r, False)]
        while work:
            i, leaving = work.pop()
            key = keys[i] or ""
            if leaving:
                if pushed[i]:
                    key_stack[key].pop()
                continue
            if seen[i]:
                continue  # bad parent data: never walk a span twice
            seen[i] = True
            p = eparent[i]
            outer = nest[p] if p >= 0 and member[p] else 0
            direct = parent[i]
            if direct >= 0 and keys[direct] == key and edge_kind[i] == "call":
                nest[i] = outer  # a wrapper around the same call: not a call of its own
            else:
                ks = key_stack.setdefault(key, [])
                ks.append(i)
                pushed[i] = True
                hit = key.startswith(counted)
                nest[i] = outer + hit
                if hit and len(ks) >= 2:
                    tops.add(ks[0])
                    waste_tops.add(ks[1])
                    if len(ks) > best_laps:
                        best, best_anchor, best_laps = i, ks[-2], len(ks)
            max_nesting = max(max_nesting, nest[i])
            work.append((i, True))
            work.extend((c, False) for c in reversed(kids[i]))
    if best < 0:
        return None  # the nodes loop only across different call chains
    path = [best]
    j = eparent[best]
    while j >= 0 and j != best_anchor and len(path) < n:
        path.append(j)
        j = eparent[j]
    path.append(best_anchor)
    path.reverse()

    def outermost_first(idx: set[int]) -> list[int]:
        return sorted(idx, key=lambda i: (spans[i].start_ns, -spans[i].end_ns))

    loop, outermost = forest.inside(outermost_first(tops))
    tokens = sum(call_tokens(spans, col, i) for i in loop if (keys[i] or "")[:1] == "m")
    repeated, _ = forest.inside(outermost_first(waste_tops))
    wasted = sum(call_tokens(spans, col, i) for i in repeated if (keys[i] or "")[:1] == "m")
    duration = sum(max(spans[t].duration_ns, 0) for t in outermost)
    witness_keys = [keys[i] or "" for i in path]
    uses_inferred = any(edge_kind[i] == "inferred" for i in path[1:]) or any(
        (a, b) in inferred_pairs for a, b in pairwise(witness_keys)
    )
    trace_ids = list(
        dict.fromkeys([*(spans[i].trace_id for i in path), *(spans[i].trace_id for i in loop)])
    )
    return Cycle(
        nodes=nodes,
        witness=[spans[i].span_id for i in path],
        witness_keys=witness_keys,
        laps=best_laps,
        max_nesting=max_nesting,
        tokens=tokens,
        duration_ns=duration,
        inferred=uses_inferred,
        spans=sum(1 for i in loop if member[i]),
        wasted_tokens=wasted,
        trace_ids=trace_ids if len(trace_ids) > 1 else [],
    )
