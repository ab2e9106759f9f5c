"""The drawn call graph (core/layout.py): what a person reading it relies on.

Boxes never overlap, every call edge is drawn from its caller's box to an
arrowhead at its callee's, a reentrancy cycle is marked in the characters
(not only in colour), long edges bend around boxes through their dummy
columns, and the same graph always gives the same picture.
"""

from __future__ import annotations

import random
import time

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.analysis import analyze
from oncall_tui.core.graph import CallGraph, Edge, Node
from oncall_tui.core.layout import (
    STYLE_CYCLE,
    TIMES,
    Box,
    DrawnEdge,
    Layout,
    draw_text,
    layout,
    path_cells,
    render,
)
from tests.builders import TraceBuilder

ARROWS = "▼▲►◄"


def graph(edges: list[tuple[str, str, str, int]], extra: tuple[str, ...] = ()) -> CallGraph:
    keys = {k for s, t, _, _ in edges for k in (s, t)} | set(extra)
    nodes = {k: Node(k, k.split(":", 1)[0], calls=1) for k in sorted(keys)}
    return CallGraph(
        nodes=nodes, edges=[Edge(s, t, kind, count) for s, t, kind, count in edges], genai=True
    )


def reentrant():
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    t1 = b.tool("lookup", m1, 10, 890)
    m2 = b.model(t1, 20, 880)
    t2 = b.tool("lookup", m2, 30, 870)
    m3 = b.model(t2, 40, 860)
    b.tool("lookup", m3, 50, 850)
    return analyze(b.trace())


def overlap(a: Box, b: Box) -> bool:
    return not (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)


def assert_edge_touches(lay: Layout, e: DrawnEdge) -> None:
    src, dst = lay.box(e.source), lay.box(e.target)
    assert src is not None and dst is not None
    (x0, y0), (x1, y1) = e.points[0], e.points[-1]
    # Leaves from the caller's border ...
    assert src.x <= x0 < src.x + src.w and y0 in (src.y, src.y + src.h - 1), e
    # ... and the arrowhead sits just outside the callee's border.
    if e.self_loop:
        assert (x1, y1) == (dst.x + dst.w, dst.y + 1), e
    else:
        assert dst.x <= x1 < dst.x + dst.w and y1 in (dst.y - 1, dst.y + dst.h), e
    # A polyline of straight runs.
    for (ax, ay), (bx, by) in zip(e.points, e.points[1:], strict=False):
        assert ax == bx or ay == by, e.points


def assert_sound(g: CallGraph, lay: Layout) -> None:
    boxes = lay.boxes
    assert {b.key for b in boxes} == set(g.nodes)
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.y >= 0 and a.x + a.w <= lay.width and a.y + a.h <= lay.height
        for b in boxes[i + 1 :]:
            assert not overlap(a, b), (a, b)
    pairs = {(e.source, e.target) for e in g.edges}
    assert {(e.source, e.target) for e in lay.edges} == pairs
    drawing = render(lay)
    for e in lay.edges:
        assert_edge_touches(lay, e)
        cells = list(path_cells(e.points))
        # Drawn: no cell of the path is blank, and it ends in an arrowhead.
        assert all(drawing.cells[y][x].strip() for x, y in cells), e
        x1, y1 = e.points[-1]
        assert drawing.cells[y1][x1] in ARROWS, (e, drawing.lines())
        # A path never runs through a box other than its own two.
        for b in boxes:
            if b.key in (e.source, e.target):
                continue
            assert not any(b.x <= x < b.x + b.w and b.y <= y < b.y + b.h for x, y in cells), (
                e,
                b,
            )


def test_a_reentrant_trace_is_drawn_top_down_with_the_cycle_marked() -> None:
    a = reentrant()
    lay = layout(a.graph, [c.nodes for c in a.cycles])
    assert_sound(a.graph, lay)
    agent = lay.box("agent:planner")
    model = lay.box("model:openai/gpt-x")
    tool = lay.box("tool:lookup")
    assert agent and model and tool
    assert agent.y < model.y < tool.y  # the root agent reads first
    assert model.cycle and tool.cycle and not agent.cycle
    [back] = [e for e in lay.edges if e.back]
    assert (back.source, back.target) == ("tool:lookup", "model:openai/gpt-x")
    assert back.cycle and back.points[-1][1] < back.points[0][1]  # drawn upward
    text = "\n".join(render(lay).lines())
    # Marked in the characters too: a terminal without colour still shows it.
    assert "⟲ tool:lookup" in text and "⟲ model:openai/gpt-x" in text
    assert "┏" in text and "▲" in text
    assert f"{TIMES}3" in text and f"{TIMES}2" in text  # model -> tool three times, back twice
    styles = render(lay).styles
    bx, by = back.points[-1]
    assert styles[by][bx] == STYLE_CYCLE


def test_a_plain_agent_loop_has_no_back_edge_and_no_mark() -> None:
    g = graph([("agent:a", "model:p/m", "call", 3), ("agent:a", "tool:t", "call", 2)])
    lay = layout(g)
    assert_sound(g, lay)
    assert not any(e.back or e.cycle for e in lay.edges)
    text = "\n".join(draw_text(g))
    assert "⟲" not in text and "▲" not in text and "┏" not in text


def test_inferred_edges_are_dotted_and_labelled() -> None:
    g = graph(
        [
            ("agent:a", "tool:t", "call", 1),
            ("tool:t", "model:p/m", "inferred", 2),
            ("agent:a", "model:p/x", "call", 1),
            ("agent:a", "model:p/x", "inferred", 1),
        ]
    )
    lay = layout(g)
    assert_sound(g, lay)
    inferred = next(e for e in lay.edges if e.target == "model:p/m")
    assert inferred.kind == "inferred" and inferred.label == f"~{TIMES}2"
    mixed = next(e for e in lay.edges if e.target == "model:p/x")
    assert mixed.kind == "call" and mixed.label == f"{TIMES}2(1~)"
    drawing = render(lay)
    cells = [drawing.cells[y][x] for x, y in path_cells(inferred.points)]
    assert "┆" in cells
    assert all(c not in "│─" for c in cells)  # never drawn like a recorded call


def test_long_edges_pass_through_dummy_columns_on_every_layer_between() -> None:
    g = graph(
        [
            ("agent:a", "model:p/b", "call", 1),
            ("model:p/b", "tool:c", "call", 1),
            ("tool:c", "model:p/d", "call", 1),
            ("agent:a", "model:p/d", "call", 4),
        ]
    )
    lay = layout(g)
    assert_sound(g, lay)
    long = next(i for i, e in enumerate(lay.edges) if e.target == "model:p/d" and e.count == 4)
    dummies = [d for d in lay.dummies if d.edge == long]
    assert sorted(d.layer for d in dummies) == [1, 2]
    cells = set(path_cells(lay.edges[long].points))
    for d in dummies:
        y = next(b.y for b in lay.boxes if b.layer == d.layer)
        assert {(d.x, y), (d.x, y + 1), (d.x, y + 2)} <= cells


def test_self_loops_and_wide_fan_out() -> None:
    g = graph(
        [("agent:a", "agent:a", "call", 2)]
        + [("agent:a", f"tool:t{i}", "call", i + 1) for i in range(12)]
    )
    lay = layout(g)
    assert_sound(g, lay)
    [loop] = [e for e in lay.edges if e.self_loop]
    assert render(lay).cells[loop.points[-1][1]][loop.points[-1][0]] == "◄"


def test_hostile_names_are_inert_and_cut_but_kept_whole() -> None:
    evil = "tool:\x1b]0;pwned\x07\x1b[2J" + "x" * 60 + "\u202e"
    g = graph([("agent:a", evil, "call", 1)])
    lay = layout(g, max_label=20)
    box = lay.box(evil)
    assert box is not None and box.key == evil  # the full name stays reachable
    assert box.label.endswith("…") and len(box.label) == 20
    text = "\n".join(render(lay).lines())
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b" in text


def test_wide_characters_keep_the_grid_aligned() -> None:
    g = graph([("agent:計画", "tool:検索", "call", 1)])
    lay = layout(g)
    drawing = render(lay)
    box = lay.box("tool:検索")
    assert box is not None
    # Each row's cells add up to the same width: a wide character takes two.
    widths = {sum(2 if c and ord(c[0]) > 0x2E80 else len(c) for c in row) for row in drawing.cells}
    assert widths == {lay.width}


def test_the_same_graph_gives_the_same_picture_whatever_the_input_order() -> None:
    edges = [
        ("agent:a", "model:p/m", "call", 3),
        ("model:p/m", "tool:x", "call", 2),
        ("tool:x", "model:p/m", "call", 1),
        ("model:p/m", "tool:y", "inferred", 1),
        ("agent:a", "tool:z", "call", 1),
        ("tool:y", "agent:b", "call", 1),
        ("agent:b", "model:p/m", "call", 1),
    ]
    cycles = [["model:p/m", "tool:x"]]
    first = msgspec.json.encode(layout(graph(edges), cycles))
    shuffled = edges[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        g = graph(shuffled)
        g.nodes = dict(reversed(list(g.nodes.items())))
        assert msgspec.json.encode(layout(g, cycles)) == first


def test_hundreds_of_nodes_lay_out_in_a_sane_time() -> None:
    rng = random.Random(7)
    edges = [("agent:main", f"agent:sub{i}", "call", 1) for i in range(10)]
    for i in range(10):
        edges += [
            (f"agent:sub{i}", f"model:p/m{j}", "call", 2) for j in range(5) if rng.random() < 0.6
        ]
    for t in range(300):
        edges.append((f"agent:sub{rng.randrange(10)}", f"tool:t{t}", "call", 1))
        if rng.random() < 0.05:
            edges.append((f"tool:t{t}", f"model:p/m{rng.randrange(5)}", "inferred", 1))
    g = graph(edges)
    start = time.perf_counter()
    lay = layout(g)
    render(lay)
    assert time.perf_counter() - start < 10  # about 0.3 s here; a loaded CI box is slower
    assert_sound(g, lay)


NAMES = [f"{k}:{i}" for k in ("agent", "model", "tool") for i in range(4)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(NAMES),
            st.sampled_from(NAMES),
            st.sampled_from(["call", "inferred", "chose_tool"]),
            st.integers(1, 120),
        ),
        min_size=1,
        max_size=16,
    ),
    st.lists(st.sets(st.sampled_from(NAMES), min_size=1, max_size=4), max_size=2),
)
def test_any_small_graph_is_drawn_whole_without_overlaps(edges, cycles) -> None:
    merged: dict[tuple[str, str, str], tuple[str, str, str, int]] = {}
    for s, t, kind, count in edges:
        merged[(s, t, kind)] = (s, t, kind, count)
    g = graph(list(merged.values()))
    lay = layout(g, cycles)
    assert_sound(g, lay)


# ----------------------------------------------------------------- laps


def test_laps_run_from_one_call_of_the_tool_to_the_next() -> None:
    from oncall_tui.core.laps import cycle_laps

    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    t1 = b.tool("lookup", m1, 10, 890)
    wrapper = b.model(t1, 20, 880)  # a gateway span around the provider call
    m2 = b.model(wrapper, 21, 879)
    t2 = b.tool("lookup", m2, 30, 870)
    m3 = b.model(t2, 40, 860)
    t3 = b.tool("lookup", m3, 50, 850)
    trace = b.trace()
    [cycle] = analyze(trace).cycles
    laps = cycle_laps(trace, cycle)
    assert len(laps) == cycle.laps == 3
    assert laps[0].keys == ["tool:lookup", "model:openai/gpt-x", "tool:lookup"]
    assert laps[0].span_ids == [t1, wrapper, t2]  # the wrapper and its call are one step
    assert laps[1].span_ids == [t2, m3, t3]
    assert laps[2].span_ids == [t3] and laps[2].edges == []
    assert laps[0].edges == [
        ("tool:lookup", "model:openai/gpt-x"),
        ("model:openai/gpt-x", "tool:lookup"),
    ]


def test_the_layout_bench_runs(capsys) -> None:
    from bench.layout import main

    main(["--tools", "20"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["nodes", "edges"] and len(out) == 2


def test_an_empty_graph_and_a_lone_node() -> None:
    empty = CallGraph(nodes={}, edges=[], genai=False)
    lay = layout(empty)
    assert (lay.width, lay.height, lay.boxes) == (0, 0, [])
    assert render(lay).lines() == []
    lone = graph([], extra=("span:GET /health",))
    assert draw_text(lone) == [
        "┌──────────────────┐",
        "│ span:GET /health │",
        "└──────────────────┘",
    ]
