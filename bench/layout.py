"""``python -m bench.layout [--tools 50,300,1000]``: the drawn call graph's cost.

A collapsed call graph has one node per agent, model and tool name, so its
size is the number of distinct names, not spans. For each size: ten
sub-agents under one agent, five models, N tools spread over the agents,
one model choosing a third of them, one tool in twenty calling a model back
(a loop to break and draw upward). Prints the layout and paint times and
the drawing's size in cells.
"""

from __future__ import annotations

import argparse
import random
import time

from oncall_tui.core.graph import CallGraph, Edge, Node
from oncall_tui.core.layout import layout, render


def collapsed_graph(tools: int, seed: int = 7) -> CallGraph:
    rng = random.Random(seed)
    edges: dict[tuple[str, str, str], Edge] = {}

    def add(a: str, b: str, kind: str = "call") -> None:
        edges[(a, b, kind)] = Edge(a, b, kind, rng.randint(1, 9))

    for i in range(10):
        add("agent:main", f"agent:sub{i}")
        for j in range(5):
            if rng.random() < 0.5:
                add(f"agent:sub{i}", f"model:p/m{j}")
    for t in range(tools):
        add(f"agent:sub{rng.randrange(10)}", f"tool:t{t}")
        if rng.random() < 0.3:
            add(f"model:p/m{rng.randrange(5)}", f"tool:t{t}", "chose_tool")
        if rng.random() < 0.05:
            add(f"tool:t{t}", f"model:p/m{rng.randrange(5)}", "inferred")
    keys = sorted({k for e in edges.values() for k in (e.source, e.target)})
    nodes = {k: Node(k, k.split(":", 1)[0], calls=1) for k in keys}
    return CallGraph(nodes=nodes, edges=list(edges.values()), genai=True)


def one(tools: int) -> dict[str, float]:
    graph = collapsed_graph(tools)
    start = time.perf_counter()
    lay = layout(graph)
    laid = time.perf_counter()
    render(lay)
    painted = time.perf_counter()
    return {
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "layout_ms": (laid - start) * 1000,
        "render_ms": (painted - laid) * 1000,
        "cells": lay.width * lay.height,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.layout")
    parser.add_argument("--tools", default="50,300,1000")
    args = parser.parse_args(argv)
    print(f"{'nodes':>6} {'edges':>6} {'layout ms':>10} {'paint ms':>9} {'cells':>10}")
    for n in (int(x) for x in args.tools.split(",")):
        r = one(n)
        print(
            f"{r['nodes']:>6.0f} {r['edges']:>6.0f} {r['layout_ms']:>10.1f} "
            f"{r['render_ms']:>9.1f} {r['cells']:>10,.0f}"
        )


if __name__ == "__main__":
    main()
