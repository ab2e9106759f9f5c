"""Reentrancy: strongly connected components of the call graph, with evidence.

Tarjan's algorithm, iterative (no recursion limit) and linear in nodes plus
edges, over ``call`` and ``inferred`` edges only ("model chose tool" edges
explain; they never close a loop). Each non-trivial component, or a node
calling itself through other spans, is a reentrancy cycle. Evidence comes
from one linear pass over the spans: for each span, the nearest ancestor on
its effective-parent chain with the same node key inside the same component
(kept per key on a stack during an iterative walk) gives laps, nesting and a
concrete witness path of span ids.

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
    witness: list[str]  # span ids: outer call ... the span that re-enters it
    witness_keys: list[str]  # node key of each witness span
    laps: int  # most times one node is re-entered along one call chain (>= 2)
    max_nesting: int  # deepest chain of component spans inside one another
    tokens: int  # input+output tokens of component spans inside re-entered calls
    duration_ns: int  # wall time of the outermost re-entered calls
    inferred: bool  # the loop rests on at least one inferred edge
    spans: int  # component spans inside re-entered calls


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
    comp_of: dict[str, int] = {k: n for n, c in enumerate(comps) for k in c}
    return [
        cyc
        for n, c in enumerate(comps)
        if (cyc := _evidence(trace, col, comp_of, n, sorted(c), inferred_pairs=inferred_pairs))
        is not None
    ]


def _evidence(
    trace: Trace,
    col: Collapsed,
    comp_of: dict[str, int],
    comp: int,
    nodes: list[str],
    *,
    inferred_pairs: set[tuple[str, str]],
) -> Cycle | None:
    spans = trace.spans
    keys = col.keys
    eparent = col.eparent
    n = len(spans)
    member = [keys[i] is not None and comp_of.get(keys[i] or "") == comp for i in range(n)]
    # Effective children (component spans only), walked iteratively.
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
    lap = [0] * n
    nest = [0] * n
    key_stack: dict[str, list[int]] = {}
    best = -1
    best_anchor = -1
    max_nesting = 0
    reentered_roots: set[int] = set()
    root_of = [-1] * n
    seen = [False] * n
    for r in roots:
        work: list[tuple[int, bool]] = [(r, False)]
        while work:
            i, leaving = work.pop()
            key = keys[i] or ""
            if leaving:
                key_stack[key].pop()
                continue
            if seen[i]:
                continue  # inferred edges can only add, never repeat, a visit
            seen[i] = True
            p = eparent[i]
            nest[i] = nest[p] + 1 if p >= 0 and member[p] and root_of[p] == r else 1
            root_of[i] = r
            max_nesting = max(max_nesting, nest[i])
            ks = key_stack.setdefault(key, [])
            direct = col.tree.parent[i]
            if direct >= 0 and keys[direct] == key and col.edge_kind[i] == "call":
                lap[i] = lap[direct]  # a wrapper around the same call, not a re-entry
            elif ks:
                anchor = ks[-1]
                lap[i] = lap[anchor] + 1
                reentered_roots.add(r)
                if lap[i] > (lap[best] if best >= 0 else 0):
                    best, best_anchor = i, anchor
            else:
                lap[i] = 1
            ks.append(i)
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
    tokens = 0
    count = 0
    for i in range(n):
        if member[i] and root_of[i] in reentered_roots:
            count += 1
            tokens += call_tokens(spans, col, i)
    duration = sum(max(spans[r].duration_ns, 0) for r in reentered_roots)
    witness_keys = [keys[i] or "" for i in path]
    uses_inferred = any(col.edge_kind[i] == "inferred" for i in path[1:]) or any(
        (a, b) in inferred_pairs for a, b in pairwise(witness_keys)
    )
    return Cycle(
        nodes=nodes,
        witness=[spans[i].span_id for i in path],
        witness_keys=witness_keys,
        laps=max(lap[best], 2),
        max_nesting=max_nesting,
        tokens=tokens,
        duration_ns=duration,
        inferred=uses_inferred,
        spans=count,
    )
