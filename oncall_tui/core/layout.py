"""The call graph drawn: a layered (Sugiyama-style) layout in character cells.

``layout(graph, cycles)`` places a ``CallGraph``'s nodes as boxes on layers
that read top-down (the root agent first) and routes every edge as a polyline
of cells; ``render(layout)`` paints it on a character grid with a parallel
grid of style codes, so the CLI prints the characters and the TUI colours
them. Both are pure and deterministic: the same graph gives the same picture.

The steps, each iterative and bounded (the graph is collapsed: nodes are
agent/model/tool names, tens to a few hundred, never spans):

1. Cycles are broken for layering by a depth-first walk from the roots: an
   edge back to a node still on the walk is reversed and remembered; it is
   drawn upward (``▲``), on its own port, so a loop shows as a line going
   back up the side of the boxes it joins.
2. Layers by longest path from the roots; an edge spanning several layers
   gets a dummy node on each layer between, which the ordering moves like
   any node (so long edges bend around boxes instead of through them).
3. Order inside layers by barycenter sweeps (a fixed number), keeping the
   order with the fewest crossings.
4. x coordinates: each node is pulled toward its neighbours' centre, from
   the left and from the right, and the two averaged; boxes never overlap.
5. Between two layers runs a channel: the edges leaving one box downward
   share one port and one horizontal track, then branch to their targets,
   each ending in an arrowhead with its call count (``\u00d73``). Tracks are
   assigned left-edge first, with the vertical constraints that keep two
   edges' vertical lines from running into each other.

Why not a library (STYLE.md asks): netext draws through Rich and networkx,
which ``core`` must not import, and grandalf lays out points in floating
coordinates; the character-cell routing, ports, labels and cycle marking
here are most of the work either way.

Text from traces is hostile: box labels go through ``core.text.inert`` and
are cut to ``max_label`` cells; the full node key stays on ``Box.key``.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right, insort
from collections.abc import Collection, Iterator, Sequence
from itertools import pairwise

import msgspec

from oncall_tui.core.graph import CallGraph
from oncall_tui.core.text import ELLIPSIS, inert

#: Rows of a box: top border, label, bottom border.
BOX_H = 3
MAX_LABEL = 28
TIMES = "\u00d7"  # the multiplication sign of a call count
_SWEEPS = 8
_KIND_RANK = {"agent": 0, "model": 1, "tool": 2, "span": 3}

Point = tuple[int, int]


class Box(msgspec.Struct, gc=False):
    key: str  # the node key, in full (hostile: inert it before showing)
    label: str  # inert, cut to fit
    kind: str  # agent | model | tool | span
    x: int
    y: int
    w: int
    h: int
    layer: int
    cycle: bool
    calls: int = 0
    errors: int = 0


class DrawnEdge(msgspec.Struct, gc=False):
    source: str
    target: str
    kind: str  # call | inferred | chose_tool (the strongest kind behind it)
    count: int
    inferred: int  # how many of the calls were inferred
    back: bool  # reversed to layer the graph: drawn upward
    cycle: bool  # both ends in one reentrancy cycle
    label: str  # the count: TIMES + "3"
    points: list[Point]  # corners; first on the source box, last the arrowhead cell
    label_at: Point
    self_loop: bool = False

    @property
    def dotted(self) -> bool:
        return self.kind == "inferred"


class Dummy(msgspec.Struct, gc=False):
    edge: int  # index into Layout.edges
    layer: int
    x: int


class Layout(msgspec.Struct):
    boxes: list[Box]
    edges: list[DrawnEdge]
    dummies: list[Dummy]
    width: int
    height: int
    layers: int

    def box(self, key: str) -> Box | None:
        for b in self.boxes:
            if b.key == key:
                return b
        return None


# ------------------------------------------------------------------ text width


def char_width(ch: str) -> int:
    """Cells a character takes in a terminal: 2 for wide East Asian ones."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _safe_label(key: str, limit: int) -> str:
    """``key`` made inert and cut to ``limit`` cells. Characters of no width
    (combining marks, format characters) would shift the grid: shown as ``?``."""
    out: list[str] = []
    used = 0
    text = inert(key, single_line=True)
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf") or not ch.isprintable():
            ch = "?"  # noqa: PLW2901
        w = char_width(ch)
        if used + w > limit:
            while out and used > limit - 1:
                used -= char_width(out.pop())
            out.append(ELLIPSIS)
            used += 1
            break
        out.append(ch)
        used += w
    return "".join(out)


def text_width(text: str) -> int:
    return sum(char_width(c) for c in text)


# ---------------------------------------------------------------------- layout


class _Edge:
    """One drawn edge before routing."""

    __slots__ = (
        "back",
        "count",
        "cycle",
        "inferred",
        "kind",
        "label",
        "s",
        "t",
    )

    def __init__(
        self, s: int, t: int, kind: str, *, count: int, inferred: int, cycle: bool
    ) -> None:
        self.s = s
        self.t = t
        self.kind = kind
        self.count = count
        self.inferred = inferred
        self.cycle = cycle
        self.back = False
        if inferred and inferred < count:
            self.label = f"{TIMES}{count}({inferred}~)"
        elif kind == "inferred":
            self.label = f"~{TIMES}{count}"
        else:
            self.label = f"{TIMES}{count}"


def _merged_edges(
    graph: CallGraph, index: dict[str, int], cycles: Sequence[Collection[str]]
) -> list[_Edge]:
    """One drawn edge per (caller, callee): call and inferred calls add up;
    a "model chose tool" edge is drawn only where no call edge says more."""
    acc: dict[tuple[int, int], list[int]] = {}
    for e in graph.edges:
        s, t = index.get(e.source), index.get(e.target)
        if s is None or t is None:
            continue
        row = acc.setdefault((s, t), [0, 0, 0])
        row[{"call": 0, "inferred": 1}.get(e.kind, 2)] += e.count
    comp: dict[str, set[int]] = {}
    for n, members in enumerate(cycles):
        for k in members:
            comp.setdefault(k, set()).add(n)
    keys = sorted(index, key=index.__getitem__)
    out: list[_Edge] = []
    for (s, t), (calls, inferred, chose) in sorted(acc.items()):
        if calls:
            kind, count = "call", calls + inferred
        elif inferred:
            kind, count = "inferred", inferred
        else:
            kind, count = "chose_tool", chose
        in_cycle = bool(comp.get(keys[s], set()) & comp.get(keys[t], set()))
        out.append(
            _Edge(
                s, t, kind, count=count, inferred=inferred, cycle=in_cycle and kind != "chose_tool"
            )
        )
    return out


def _priority(graph: CallGraph, keys: list[str]) -> list[tuple[int, int, str]]:
    nodes = graph.nodes
    return [(_KIND_RANK.get(nodes[k].kind, 4), -nodes[k].calls, k) for k in keys]


def _break_cycles(n: int, edges: list[_Edge], order: list[int]) -> list[int]:
    """Mark back edges (iterative DFS from ``order``); return the DFS preorder."""
    succ: list[list[_Edge]] = [[] for _ in range(n)]
    for e in edges:
        if e.s != e.t:
            succ[e.s].append(e)
    rank = {v: i for i, v in enumerate(order)}
    for lst in succ:
        lst.sort(key=lambda e: rank[e.t])
    state = [0] * n  # 0 new, 1 on the walk, 2 done
    pre: list[int] = []
    for root in order:
        if state[root]:
            continue
        state[root] = 1
        pre.append(root)
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                e = succ[v][i]
                if state[e.t] == 1:
                    e.back = True
                elif state[e.t] == 0:
                    state[e.t] = 1
                    pre.append(e.t)
                    work.append((e.t, 0))
                continue
            state[v] = 2
            work.pop()
    return pre


def _layers(n: int, dag: list[tuple[int, int]], order: list[int]) -> list[int]:
    """Longest path from the sources (Kahn's order), so every edge points down."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in dag:
        succ[u].append(v)
        indeg[v] += 1
    layer = [0] * n
    ready = [v for v in order if indeg[v] == 0]
    ready.reverse()
    while ready:
        u = ready.pop()
        for v in succ[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return layer


class _V:
    """A node of the layered graph: a box or a dummy on a long edge."""

    __slots__ = ("down", "edge", "layer", "pos", "up", "w", "x")

    def __init__(self, layer: int, w: int, edge: int = -1) -> None:
        self.layer = layer
        self.w = w
        self.edge = edge  # >= 0: a dummy of that edge
        self.up: list[int] = []
        self.down: list[int] = []
        self.pos = 0
        self.x = 0


class _Seg:
    """One hop of an edge between adjacent layers, upper end first."""

    __slots__ = ("edge", "hi", "lo", "lx", "net", "track", "ux")

    def __init__(self, edge: int, hi: int, lo: int) -> None:
        self.edge = edge
        self.hi = hi
        self.lo = lo
        self.net = -1
        self.ux = 0
        self.lx = 0
        self.track = -1


def layout(
    graph: CallGraph,
    cycles: Sequence[Collection[str]] = (),
    *,
    max_label: int = MAX_LABEL,
    sweeps: int = _SWEEPS,
) -> Layout:
    """Lay ``graph`` out. ``cycles``: the node keys of each reentrancy cycle
    (``Cycle.nodes``); their boxes and the edges inside each are marked."""
    keys = sorted(graph.nodes)
    n = len(keys)
    index = {k: i for i, k in enumerate(keys)}
    prio = _priority(graph, keys)
    edges = _merged_edges(graph, index, cycles)
    indeg = [0] * n
    for e in edges:
        if e.s != e.t:
            indeg[e.t] += 1
    start = sorted(range(n), key=lambda v: (indeg[v] > 0, prio[v]))
    pre = _break_cycles(n, edges, start)
    dag = [(e.t, e.s) if e.back else (e.s, e.t) for e in edges if e.s != e.t]
    layer = _layers(n, dag, pre)
    in_cycle = {k for c in cycles for k in c}
    labels = [_safe_label(k, max_label) for k in keys]

    vs: list[_V] = [_V(layer[i], 0) for i in range(n)]
    segs: list[_Seg] = []
    chains: list[list[int]] = [[] for _ in edges]  # each edge's segments, upper first
    for ei, e in enumerate(edges):
        if e.s == e.t:
            continue
        hi, lo = (e.t, e.s) if e.back else (e.s, e.t)
        prev = hi
        for lay in range(layer[hi] + 1, layer[lo]):
            d = len(vs)
            vs.append(_V(lay, 1, ei))
            chains[ei].append(len(segs))
            segs.append(_Seg(ei, prev, d))
            prev = d
        chains[ei].append(len(segs))
        segs.append(_Seg(ei, prev, lo))
    for si, sg in enumerate(segs):
        vs[sg.hi].down.append(si)
        vs[sg.lo].up.append(si)

    # Nets: the hops leaving one node downward in one style share a port
    # and a track (so do the upward ones, which end there in one arrowhead).
    nets: dict[tuple[int, bool, str, bool], int] = {}
    for sg in segs:
        e = edges[sg.edge]
        sg.net = nets.setdefault((sg.hi, e.back, e.kind, e.cycle), len(nets))

    nlayers = max(layer, default=-1) + 1
    rows: list[list[int]] = [[] for _ in range(nlayers)]
    # First order: roots by priority, then each node by the order it was reached.
    first = {v: i for i, v in enumerate(pre)}
    for v in sorted(range(n), key=lambda v: first[v]):
        rows[layer[v]].append(v)
    for v in range(n, len(vs)):
        rows[vs[v].layer].append(v)
    _order(vs, segs, rows, sweeps)

    # Box sizes: the label, and room on the top border for each incoming
    # hop's arrowhead and count, on the bottom for each net's port.
    widths = [0] * n
    self_room = [0] * n
    for i in range(n):
        top = sum(2 + text_width(edges[segs[s].edge].label) for s in vs[i].up)
        bottom = 2 * len({segs[s].net for s in vs[i].down})
        shown = text_width(_box_text(labels[i], keys[i] in in_cycle, graph.nodes[keys[i]].errors))
        widths[i] = max(shown + 4, top + 3, bottom + 3, 7)
    for e in edges:
        if e.s == e.t:
            self_room[e.s] = 3 + text_width(e.label)
    for i in range(n):
        vs[i].w = widths[i] + self_room[i]
    _place_x(vs, segs, rows)
    for i in range(n):
        vs[i].w = widths[i]

    # Ports, left to right by where the other end is.
    def centre(v: int) -> int:
        return vs[v].x + vs[v].w // 2

    for v, node in enumerate(vs):
        if node.edge >= 0:
            for s in node.up:
                segs[s].lx = node.x
            for s in node.down:
                segs[s].ux = node.x
            continue
        by_net: dict[int, list[int]] = {}
        for s in node.down:
            by_net.setdefault(segs[s].net, []).append(s)
        groups = sorted(
            by_net.values(),
            key=lambda g: (sum(centre(segs[s].lo) for s in g) / len(g), segs[g[0]].net),
        )
        ports = _spread(node.x, node.w, [2] * len(groups), bool(self_room[v]))
        for g, px in zip(groups, ports, strict=True):
            for s in g:
                segs[s].ux = px
    # Arrowheads go under the port they come from where the box allows:
    # a straight line reads better than a jog.
    for node in vs[:n]:
        ups = sorted(node.up, key=lambda s: (segs[s].ux, segs[s].edge))
        slots = [2 + text_width(edges[segs[s].edge].label) for s in ups]
        fitted = _fit_ports([segs[s].ux for s in ups], slots, node.x + 1, node.x + node.w - 2)
        for s, px in zip(ups, fitted, strict=True):
            segs[s].lx = px

    # Channels: tracks per gap, then each layer's y.
    tracks_in_gap = [0] * max(nlayers - 1, 0)
    by_gap: list[list[int]] = [[] for _ in range(max(nlayers - 1, 0))]
    for si, sg in enumerate(segs):
        by_gap[vs[sg.hi].layer].append(si)
    for gi, members in enumerate(by_gap):
        tracks_in_gap[gi] = _tracks(segs, members)
    ys = [0] * nlayers
    for lay in range(1, nlayers):
        ys[lay] = ys[lay - 1] + BOX_H + 2 + tracks_in_gap[lay - 1]
    height = (ys[-1] + BOX_H) if nlayers else 0
    if any(e.s == e.t for e in edges):
        height += 1  # a self-loop on the last layer goes round under its box

    boxes = [
        Box(
            key=keys[i],
            label=labels[i],
            kind=graph.nodes[keys[i]].kind,
            x=vs[i].x,
            y=ys[layer[i]],
            w=vs[i].w,
            h=BOX_H,
            layer=layer[i],
            cycle=keys[i] in in_cycle,
            calls=graph.nodes[keys[i]].calls,
            errors=graph.nodes[keys[i]].errors,
        )
        for i in range(n)
    ]
    drawn: list[DrawnEdge] = []
    for ei, e in enumerate(edges):
        if e.s == e.t:
            b = boxes[e.s]
            px, right = b.x + b.w - 2, b.x + b.w + 1
            pts = [(px, b.y + 2), (px, b.y + 3), (right, b.y + 3), (right, b.y + 1)]
            pts.append((b.x + b.w, b.y + 1))
            at = (right + 1, b.y + 1)
        else:
            pts = []
            for si in chains[ei]:
                sg = segs[si]
                y_hi = ys[vs[sg.hi].layer]
                y_lo = ys[vs[sg.lo].layer]
                hi_box = vs[sg.hi].edge < 0
                lo_box = vs[sg.lo].edge < 0
                upper_end = (sg.ux, y_hi + 2 if (not e.back or not hi_box) else y_hi + 3)
                lower_end = (sg.lx, y_lo if (e.back or not lo_box) else y_lo - 1)
                pts.append(upper_end)
                if sg.track >= 0:
                    ty = y_hi + BOX_H + 1 + sg.track
                    pts += [(sg.ux, ty), (sg.lx, ty)]
                pts.append(lower_end)
            if e.back:
                pts.reverse()
            pts = _corners(pts)
            # The count sits beside the line just above the lower box.
            lower = segs[chains[ei][-1]]
            at = (lower.lx + 1, ys[vs[lower.lo].layer] - 1)
        drawn.append(
            DrawnEdge(
                source=keys[e.s],
                target=keys[e.t],
                kind=e.kind,
                count=e.count,
                inferred=e.inferred,
                back=e.back,
                cycle=e.cycle,
                label=e.label,
                points=pts,
                label_at=at,
                self_loop=e.s == e.t,
            )
        )
    dummies = [Dummy(edge=v.edge, layer=v.layer, x=v.x) for v in vs[n:]]
    width = 0
    for b in boxes:
        width = max(width, b.x + b.w)
    for de in drawn:
        for x, _ in de.points:
            width = max(width, x + 1)
        width = max(width, de.label_at[0] + text_width(de.label))
    return Layout(
        boxes=boxes, edges=drawn, dummies=dummies, width=width, height=height, layers=nlayers
    )


def _spread(x: int, w: int, slots: list[int], self_loop: bool) -> list[int]:
    """Columns of ports along a border from ``x`` of width ``w``: each port
    takes its slot (the port, then its label), the lot centred."""
    if not slots:
        return []
    inner_l = x + 1
    inner_r = x + w - 2 - (1 if self_loop else 0)  # the self-loop leaves at w-2
    need = sum(slots) - 1
    room = inner_r - inner_l + 1
    if len(slots) == 1:
        return [x + w // 2 if not self_loop else min(x + w // 2, inner_r - 1)]
    gap = max(room - need, 0) // (len(slots) + 1)
    out: list[int] = []
    cur = inner_l + gap + max(room - need - gap * (len(slots) + 1), 0) // 2
    for s in slots:
        out.append(min(cur, inner_r))
        cur += s + gap
    return out


def _fit_ports(want: list[int], slots: list[int], lo: int, hi: int) -> list[int]:
    """Columns as near ``want`` as the slots allow, in order, inside [lo, hi]
    (a slot is the arrowhead and its count; the last count may overhang the
    corner, never the next box, which is at least two columns away)."""
    k = len(want)
    if not k:
        return []
    last = min(hi, hi + 3 - slots[-1])
    left = [0] * k
    for i in range(k):
        left[i] = max(want[i], lo if i == 0 else left[i - 1] + slots[i - 1])
    right = [0] * k
    for i in range(k - 1, -1, -1):
        right[i] = min(want[i], last if i == k - 1 else right[i + 1] - slots[i])
    out = [(a + b) // 2 for a, b in zip(left, right, strict=True)]
    for i in range(k):
        out[i] = max(out[i], lo if i == 0 else out[i - 1] + slots[i - 1])
    for i in range(k - 1, -1, -1):
        out[i] = min(out[i], last if i == k - 1 else out[i + 1] - slots[i])
    return out


def _corners(pts: list[Point]) -> list[Point]:
    """Drop repeated and collinear points: a polyline of its corners."""
    out: list[Point] = []
    for p in pts:
        if out and out[-1] == p:
            continue
        if len(out) >= 2:
            (ax, ay), (bx, by) = out[-2], out[-1]
            if (ax == bx == p[0]) or (ay == by == p[1]):
                out[-1] = p
                continue
        out.append(p)
    return out


def _crossings(vs: list[_V], segs: list[_Seg], upper: list[int], lower: list[int]) -> int:
    pos_hi = {v: i for i, v in enumerate(upper)}
    pos_lo = {v: i for i, v in enumerate(lower)}
    pairs = sorted((pos_hi[segs[s].hi], pos_lo[segs[s].lo]) for v in upper for s in vs[v].down)
    seen: list[int] = []
    total = 0
    for _, b in pairs:
        total += len(seen) - bisect_right(seen, b)
        insort(seen, b)
    return total


def _order(vs: list[_V], segs: list[_Seg], rows: list[list[int]], sweeps: int) -> None:
    """Barycenter sweeps down and up; keep the order with fewest crossings."""

    def count() -> int:
        return sum(_crossings(vs, segs, rows[i], rows[i + 1]) for i in range(len(rows) - 1))

    def number(row: list[int]) -> None:
        for i, v in enumerate(row):
            vs[v].pos = i

    for row in rows:
        number(row)
    best = [list(r) for r in rows]
    best_count = count()
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        span = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for li in span:
            row = rows[li]

            def bary(v: int, down: bool = down) -> tuple[float, int]:
                node = vs[v]
                if down:
                    near = [vs[segs[s].hi].pos for s in node.up]
                else:
                    near = [vs[segs[s].lo].pos for s in node.down]
                return (sum(near) / len(near) if near else float(node.pos), node.pos)

            row.sort(key=bary)
            number(row)
        c = count()
        if c < best_count:
            best, best_count = [list(r) for r in rows], c
        if best_count == 0:
            break
    rows[:] = best
    for row in rows:
        number(row)


def _place_x(vs: list[_V], segs: list[_Seg], rows: list[list[int]]) -> None:
    """Each node pulled toward the centre of its neighbours, from both sides."""

    def sep(a: int, b: int) -> int:
        return 2 if vs[a].edge >= 0 and vs[b].edge >= 0 else 3

    def centre(v: int) -> float:
        return vs[v].x + vs[v].w / 2

    for row in rows:
        x = 0
        for i, v in enumerate(row):
            if i:
                x += sep(row[i - 1], v)
            vs[v].x = x
            x += vs[v].w

    def fit(row: list[int], want: list[float]) -> None:
        k = len(row)
        if not k:
            return
        d = [round(want[i] - vs[v].w / 2) for i, v in enumerate(row)]
        left = d[:]
        for i in range(1, k):
            left[i] = max(d[i], left[i - 1] + vs[row[i - 1]].w + sep(row[i - 1], row[i]))
        right = d[:]
        for i in range(k - 2, -1, -1):
            right[i] = min(d[i], right[i + 1] - sep(row[i], row[i + 1]) - vs[row[i]].w)
        xs = [(a + b) // 2 for a, b in zip(left, right, strict=True)]
        for i in range(1, k):
            xs[i] = max(xs[i], xs[i - 1] + vs[row[i - 1]].w + sep(row[i - 1], row[i]))
        for i, v in enumerate(row):
            vs[v].x = xs[i]

    for p in range(4):
        down = p % 2 == 0
        span = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for li in span:
            row = rows[li]
            want: list[float] = []
            for v in row:
                node = vs[v]
                near = (
                    [centre(segs[s].hi) for s in node.up]
                    if down
                    else [centre(segs[s].lo) for s in node.down]
                )
                want.append(sum(near) / len(near) if near else centre(v))
            fit(row, want)
    lo = min((vs[v].x for row in rows for v in row), default=0)
    for node in vs:
        node.x -= lo


def _tracks(segs: list[_Seg], members: list[int]) -> int:
    """Give each net that bends in this gap a track (a row); nets whose spans
    do not touch share one. A net whose port sits above another net's branch
    must run above it, or their vertical lines would meet."""
    spans: dict[int, list[int]] = {}
    for si in members:
        spans.setdefault(segs[si].net, []).append(si)
    bent: dict[int, tuple[int, int]] = {}
    tops: dict[int, int] = {}
    lows: dict[int, set[int]] = {}
    for net, group in spans.items():
        ux = segs[group[0]].ux
        xs = [ux] + [segs[s].lx for s in group]
        tops[net] = ux
        lows[net] = {segs[s].lx for s in group}
        if any(x != ux for x in xs):
            bent[net] = (min(xs), max(xs))
    if not bent:
        return 0
    # Net a above net b when a's port column is one of b's branch columns.
    col_to_nets: dict[int, list[int]] = {}
    for net in bent:
        for x in lows[net]:
            col_to_nets.setdefault(x, []).append(net)
    after: dict[int, list[int]] = {net: [] for net in bent}
    indeg = dict.fromkeys(bent, 0)
    for a in bent:
        for b in col_to_nets.get(tops[a], []):
            if b != a:
                after[a].append(b)
                indeg[b] += 1
    remaining = sorted(bent, key=lambda net: (bent[net], net))
    track_of: dict[int, int] = {}
    floor = dict.fromkeys(bent, 0)
    rows: list[list[tuple[int, int]]] = []
    while remaining:
        pick = next((net for net in remaining if indeg[net] == 0), remaining[0])
        remaining.remove(pick)
        lo, hi = bent[pick]
        t = floor[pick]
        while t < len(rows) and any(not (hi + 1 < a or b + 1 < lo) for a, b in rows[t]):
            t += 1
        if t == len(rows):
            rows.append([])
        rows[t].append((lo, hi))
        track_of[pick] = t
        for b in after[pick]:
            indeg[b] -= 1
            floor[b] = max(floor[b], t + 1)
    for si in members:
        sg = segs[si]
        sg.track = track_of.get(sg.net, -1)
    return len(rows)


# ------------------------------------------------------------------ rendering

_U, _D, _L, _R = 1, 2, 4, 8
_LIGHT = {
    _U | _D: "│", _L | _R: "─", _D | _R: "┌", _D | _L: "┐", _U | _R: "└", _U | _L: "┘",
    _U | _D | _R: "├", _U | _D | _L: "┤", _L | _R | _D: "┬", _L | _R | _U: "┴",
    _U | _D | _L | _R: "┼", _U: "│", _D: "│", _L: "─", _R: "─",
}  # fmt: skip
_HEAVY = {
    _U | _D: "┃", _L | _R: "━", _D | _R: "┏", _D | _L: "┓", _U | _R: "┗", _U | _L: "┛",
    _U | _D | _R: "┣", _U | _D | _L: "┫", _L | _R | _D: "┳", _L | _R | _U: "┻",
    _U | _D | _L | _R: "╋", _U: "┃", _D: "┃", _L: "━", _R: "━",
}  # fmt: skip
_DOUBLE = {
    _U | _D: "║", _L | _R: "═", _D | _R: "╔", _D | _L: "╗", _U | _R: "╚", _U | _L: "╝",
    _U | _D | _R: "╠", _U | _D | _L: "╣", _L | _R | _D: "╦", _L | _R | _U: "╩",
    _U | _D | _L | _R: "╬", _U: "║", _D: "║", _L: "═", _R: "═",
}  # fmt: skip
_DOTTED = {_U | _D: "┆", _U: "┆", _D: "┆", _L | _R: "┄", _L: "┄", _R: "┄"}
_HEAVY_DOTTED = {_U | _D: "┇", _U: "┇", _D: "┇", _L | _R: "┅", _L: "┅", _R: "┅"}

#: Style codes of the parallel grid (the TUI maps them to colours).
STYLE_EDGE = "edge"
STYLE_INFERRED = "inferred"
STYLE_CHOSE = "chose"
STYLE_CYCLE = "cycle"
STYLE_LABEL = "label"
STYLE_ERROR = "error"

LEGEND = "▼ call  ┆ inferred  ║ model chose tool  ▲ back up a loop  ┏━┓ ⟲ reentrancy cycle"


class Drawing(msgspec.Struct):
    """The painted grid: ``cells[y][x]`` is one character ("" right of a wide
    one), ``styles[y][x]`` its style code ("" plain, a node kind, or one of
    the ``STYLE_*``)."""

    cells: list[list[str]]
    styles: list[list[str]]

    @property
    def width(self) -> int:
        return len(self.cells[0]) if self.cells else 0

    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.cells]


def path_cells(points: Sequence[Point]) -> Iterator[Point]:
    """Every cell a polyline passes through, in order, corners once."""
    for i, (x, y) in enumerate(points):
        if i == 0:
            yield (x, y)
            continue
        px, py = points[i - 1]
        dx = (x > px) - (x < px)
        dy = (y > py) - (y < py)
        cx, cy = px, py
        while (cx, cy) != (x, y):
            cx += dx
            cy += dy
            yield (cx, cy)


def edge_style(e: DrawnEdge) -> str:
    if e.cycle:
        return STYLE_CYCLE
    return {"inferred": STYLE_INFERRED, "chose_tool": STYLE_CHOSE}.get(e.kind, STYLE_EDGE)


def render(lay: Layout) -> Drawing:
    """Paint ``lay``: lines first, then boxes over them, then ports,
    arrowheads and counts. Two edges crossing keep the vertical line (a
    crossing, not a junction); edges of one net merge into branches."""
    w, h = lay.width, lay.height
    cells = [[" "] * w for _ in range(h)]
    styles = [[""] * w for _ in range(h)]
    # A group is the lines that may join (one net: the edges leaving one
    # port). Cells are keyed y * w + x; most hold one group, the few where
    # nets cross hold several (``multi``).
    group_of: dict[tuple[int, int, bool], int] = {}
    first: list[DrawnEdge] = []
    owner: dict[int, int] = {}
    mask: dict[int, int] = {}
    multi: dict[int, dict[int, int]] = {}

    def mark(key: int, g: int, m: int) -> None:
        o = owner.get(key)
        if o is None:
            owner[key] = g
            mask[key] = m
        elif o == g:
            mask[key] |= m
        else:
            at = multi.setdefault(key, {o: mask[key]})
            at[g] = at.get(g, 0) | m

    for ei, e in enumerate(lay.edges):
        pts = e.points
        start = pts[0] if not e.back else pts[-1]
        gkey = (start[0], start[1], e.back) if not e.self_loop else (-1 - ei, 0, False)
        g = group_of.get(gkey)
        if g is None:
            g = group_of[gkey] = len(first)
            first.append(e)
        # Per straight run: its ends point at each other, the cells between
        # go straight through. A corner gets one half from each run.
        for (ax, ay), (bx, by) in pairwise(pts):
            if ay == by:
                lo, hi = (ax, bx) if ax < bx else (bx, ax)
                if not (0 <= ay < h):
                    continue
                row = ay * w
                mark(row + lo, g, _R)
                mark(row + hi, g, _L)
                for x in range(lo + 1, hi):
                    mark(row + x, g, _L | _R)
            else:
                lo, hi = (ay, by) if ay < by else (by, ay)
                mark(lo * w + ax, g, _D)
                mark(hi * w + ax, g, _U)
                for y in range(lo + 1, hi):
                    mark(y * w + ax, g, _U | _D)
    glyphs: dict[tuple[int, int], tuple[str, str]] = {}
    for key, owned in owner.items():
        g, m = owned, mask[key]
        groups = multi.get(key)
        if groups is not None:
            vertical = [gg for gg, mm in groups.items() if mm == _U | _D]
            horizontal = [gg for gg, mm in groups.items() if mm == _L | _R]
            if vertical and len(vertical) + len(horizontal) == len(groups):
                g, m = vertical[0], _U | _D  # a crossing: the vertical line goes over
            else:
                g = min(groups, key=lambda k: _rank(first[k]))
                m = 0
                for mm in groups.values():
                    m |= mm
        y, x = divmod(key, w)
        if not (0 <= y < h and 0 <= x < w):
            continue
        drawn = glyphs.get((g, m))
        if drawn is None:
            e = first[g]
            drawn = glyphs[(g, m)] = (_glyph(e, m), edge_style(e))
        cells[y][x], styles[y][x] = drawn
    by_key = {b.key: b for b in lay.boxes}
    for b in lay.boxes:
        _box(cells, styles, b)
    for e in lay.edges:
        st = edge_style(e)
        (x0, y0), (x1, y1) = e.points[0], e.points[-1]
        src = by_key.get(e.source)
        if src is not None and 0 <= y0 < h:
            heavy = src.cycle
            leaving_down = y0 == src.y + src.h - 1
            cells[y0][x0] = ("┳" if heavy else "┬") if leaving_down else ("┻" if heavy else "┴")
            styles[y0][x0] = STYLE_CYCLE if heavy else src.kind
        px, py = e.points[-2] if len(e.points) > 1 else (x1, y1 - 1)
        arrow = "▼" if y1 > py else "▲" if y1 < py else ("►" if x1 > px else "◄")
        if 0 <= y1 < h and 0 <= x1 < w:
            cells[y1][x1] = arrow
            styles[y1][x1] = st
    for e in lay.edges:
        _label(cells, styles, e)
    return Drawing(cells=cells, styles=styles)


def _rank(e: DrawnEdge) -> int:
    return 0 if e.cycle else {"call": 1, "inferred": 2}.get(e.kind, 3)


def _dir(other: Point, here: Point) -> int:
    if other[0] < here[0]:
        return _L
    if other[0] > here[0]:
        return _R
    return _U if other[1] < here[1] else _D


def _glyph(e: DrawnEdge, mask: int) -> str:
    straight = mask in (_U | _D, _U, _D, _L | _R, _L, _R)
    if e.kind == "inferred" and straight:
        return (_HEAVY_DOTTED if e.cycle else _DOTTED)[mask]
    if e.cycle:
        return _HEAVY.get(mask, "╋")
    if e.kind == "chose_tool":
        return _DOUBLE.get(mask, "╬")
    return _LIGHT.get(mask, "┼")


def _box(cells: list[list[str]], styles: list[list[str]], b: Box) -> None:
    tl, tr, bl, br, hz, vt = "┏┓┗┛━┃" if b.cycle else "┌┐└┘─│"
    style = STYLE_CYCLE if b.cycle else b.kind
    x, y, w = b.x, b.y, b.w
    rows = [
        [tl, *([hz] * (w - 2)), tr],
        [vt, *([" "] * (w - 2)), vt],
        [bl, *([hz] * (w - 2)), br],
    ]
    text = _box_text(b.label, b.cycle, b.errors)
    cx = 2
    for ch in text:
        cw = char_width(ch)
        if cx + cw > w - 2:
            break
        rows[1][cx] = ch
        if cw == 2:
            rows[1][cx + 1] = ""
        cx += cw
    for dy, row in enumerate(rows):
        for dx, ch in enumerate(row):
            cells[y + dy][x + dx] = ch
            styles[y + dy][x + dx] = style
    if b.errors and cx - 2 == text_width(text):
        mark = len(f"✗{b.errors}")
        for dx in range(cx - mark, cx):
            styles[y + 1][x + dx] = STYLE_ERROR


def _box_text(label: str, cycle: bool, errors: int) -> str:
    """What a box says: ⟲ when the node is in a cycle, ✗N when N calls failed."""
    return ("⟲ " if cycle else "") + label + (f" ✗{errors}" if errors else "")


def _label(cells: list[list[str]], styles: list[list[str]], e: DrawnEdge) -> None:
    """The count beside the arrow (or the line leaving the box); on the
    other side when that is taken, left out when both are."""
    x, y = e.label_at
    n = text_width(e.label)
    h = len(cells)
    w = len(cells[0]) if cells else 0
    for sx in (x, x - 1 - n):
        if not (0 <= y < h and sx >= 0 and sx + n <= w):
            continue
        if all(cells[y][c] == " " for c in range(sx, sx + n)):
            for i, ch in enumerate(e.label):
                cells[y][sx + i] = ch
                styles[y][sx + i] = STYLE_CYCLE if e.cycle else STYLE_LABEL
            return


def draw_text(
    graph: CallGraph, cycles: Sequence[Collection[str]] = (), *, max_label: int = MAX_LABEL
) -> list[str]:
    """The drawn graph as plain lines (what ``trace graph --format text`` prints)."""
    return render(layout(graph, cycles, max_label=max_label)).lines()
