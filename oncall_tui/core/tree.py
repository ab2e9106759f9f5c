"""The span tree of one trace, indexed once, walked without recursion.

Everything downstream (quality, graph, cycles, findings, the TUI's call tree)
works on integer span indexes rather than id strings. Parent-pointer loops in
bad data are cut here (the span that closes a loop becomes a root), so no
later walk can hang; the quality pass reports them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from oncall_tui.core.models import Span, Trace


class SpanTree:
    """``parent[i]``: index of span i's parent (-1: root or orphan);
    ``children[i]``: child indexes in start order; ``order``: a pre-order
    (parents before children); ``depth[i]``; ``tin``/``tout`` Euler numbers
    (j is a descendant of i iff tin[i] <= tin[j] < tout[i]).
    """

    __slots__ = (
        "by_id",
        "children",
        "depth",
        "duplicates",
        "loop_cut",
        "order",
        "orphans",
        "parent",
        "roots",
        "tin",
        "tout",
    )

    def __init__(self, trace: Trace) -> None:
        spans = trace.spans
        n = len(spans)
        by_id: dict[str, int] = {}
        duplicates: list[int] = []
        for i, span in enumerate(spans):
            if span.span_id in by_id:
                duplicates.append(i)
            else:
                by_id[span.span_id] = i
        self.by_id = by_id
        self.duplicates = duplicates
        parent = [-1] * n
        orphans: list[int] = []
        own_parent: list[int] = []  # a span naming itself as parent: the shortest loop
        dup_set = set(duplicates)
        for i, span in enumerate(spans):
            if i in dup_set or span.parent_id is None:
                continue
            p = by_id.get(span.parent_id)
            if p is None:
                orphans.append(i)
            elif p != i:
                parent[i] = p
            else:
                own_parent.append(i)
        self.loop_cut = own_parent + _cut_parent_loops(parent)
        self.parent = parent
        self.orphans = orphans
        children: list[list[int]] = [[] for _ in range(n)]
        roots: list[int] = []
        for i in range(n):
            if i in dup_set:
                continue
            p = parent[i]
            if p < 0:
                roots.append(i)
            else:
                children[p].append(i)
        starts = [s.start_ns for s in spans]
        for kids in children:
            if len(kids) > 1:
                kids.sort(key=starts.__getitem__)
        roots.sort(key=starts.__getitem__)
        self.children = children
        self.roots = roots
        depth = [0] * n
        tin = [0] * n
        tout = [0] * n
        order: list[int] = []
        clock = 0
        stack: list[tuple[int, bool]] = [(r, False) for r in reversed(roots)]
        while stack:
            i, done = stack.pop()
            if done:
                tout[i] = clock
                continue
            tin[i] = clock
            clock += 1
            order.append(i)
            stack.append((i, True))
            d = depth[i] + 1
            for c in reversed(children[i]):
                depth[c] = d
                stack.append((c, False))
        self.order = order
        self.depth = depth
        self.tin = tin
        self.tout = tout

    def is_descendant(self, i: int, ancestor: int) -> bool:
        return self.tin[ancestor] <= self.tin[i] < self.tout[ancestor]


def _cut_parent_loops(parent: list[int]) -> list[int]:
    """Break every cycle of parent pointers in place; returns the spans cut.

    Three-colour walk over a functional graph: linear, iterative.
    """
    n = len(parent)
    state = [0] * n  # 0 new, 1 on current path, 2 done
    cut: list[int] = []
    for start in range(n):
        if state[start]:
            continue
        path: list[int] = []
        i = start
        while i >= 0 and state[i] == 0:
            state[i] = 1
            path.append(i)
            i = parent[i]
        if i >= 0 and state[i] == 1:
            # i closes a loop: make it a root so every walk terminates.
            parent[i] = -1
            cut.append(i)
        for j in path:
            state[j] = 2
    return cut


# The reader indexes a trace for its quality pass and ``analyze`` needs the
# same index moments later; keep the last few rather than index twice. An
# entry lives only as long as its trace (a weak reference whose callback drops
# it), so closing a 1M-span trace frees its spans and its index at once.
_CACHE: dict[int, tuple[weakref.ref[Trace], list[Span], SpanTree]] = {}
_CACHE_SIZE = 4
# Readers run in threads (store searches fetched concurrently, the console's
# workers): the cache is shared, so every change to it holds this lock. It is
# re-entrant because a weak reference's callback may fire inside a locked
# region of the same thread (an allocation there can free a trace).
_LOCK = threading.RLock()


def _forget(key: int) -> Callable[[weakref.ref[Trace]], None]:
    def drop(_: weakref.ref[Trace]) -> None:
        with _LOCK:
            _CACHE.pop(key, None)

    return drop


def tree_for(trace: Trace) -> SpanTree:
    key = id(trace)
    hit = _CACHE.get(key)
    if hit is not None:
        ref, spans, tree = hit
        if ref() is trace and spans is trace.spans and len(tree.parent) == len(spans):
            return tree
    tree = SpanTree(trace)  # outside the lock: indexing a big trace takes a while
    with _LOCK:
        _CACHE.pop(key, None)
        _CACHE[key] = (weakref.ref(trace, _forget(key)), trace.spans, tree)
        while len(_CACHE) > _CACHE_SIZE:
            # The oldest first; a callback may drop entries as we go (same thread).
            oldest = next(iter(list(_CACHE)), None)
            if oldest is None:
                break
            _CACHE.pop(oldest, None)
    return tree
