"""``python -m bench.tui_trace [--sizes 10000,100000,1000000]``: the trace screen's numbers.

For each size, next to the trace engine's own analyze time in the same run:
- first paint: from starting the app (headless, 80x24) with the trace to the
  trace screen painted (includes analyze, building the tree rows, compose);
- scroll step: one page-down through the pilot (key -> cursor -> repaint),
  median and worst of 50;
- cold frame: rendering all 24 visible lines at a random place with the line
  cache cleared, i.e. what a jump costs without the pilot's overhead.
Then the same with the waterfall on (issue 16):
- waterfall first paint: ``w`` pressed on the painted screen until the bars
  are painted (the pilot's round trip, as the scroll step);
- waterfall scroll step and cold frame, as above; the ratio to the tree's
  own cold frame says what the bars add per frame;
- search: ``/`` over every span for text no span holds (the worst case: a
  full scan), in the thread worker the screen uses, until its answer shows.
Targets (issue 7): first paint of 100k spans within a few seconds, dominated
by analyze; a scroll step well under a 60 Hz frame budget (16.7 ms) for
rendering, whatever the size; the waterfall's frame within a small factor of
the tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time


async def one(n: int, steps: int = 50) -> dict[str, float]:
    from bench.gen import generate
    from oncall_tui.core.analysis import analyze
    from oncall_tui.sources.detect import read_traces
    from oncall_tui.tui.app import OncallApp
    from oncall_tui.tui.call_tree import CallTree
    from oncall_tui.tui.trace_screen import TraceScreen
    from oncall_tui.tui.tree_model import TreeModel

    [trace] = read_traces(generate(n), source="bench")
    start = time.perf_counter()
    analysis = analyze(trace)
    analyze_s = time.perf_counter() - start
    start = time.perf_counter()
    TreeModel(trace, analysis)
    rows_s = time.perf_counter() - start

    app = OncallApp(trace=trace)
    start = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        # analyze runs in a thread worker now: first paint is when the screen is up.
        while not isinstance(app.screen, TraceScreen):
            await pilot.pause(0.01)
        await pilot.pause()
        tree = app.screen.query_one(CallTree)
        first_paint_s = time.perf_counter() - start
        step_times: list[float] = []
        for _ in range(steps):
            t = time.perf_counter()
            await pilot.press("pagedown")
            step_times.append(time.perf_counter() - t)
        frames = _cold_frames(tree, steps)
        widgets = len(list(app.screen.walk_children()))

        await pilot.press("home")
        t = time.perf_counter()
        await pilot.press("w")
        await pilot.pause()
        wf_paint_s = time.perf_counter() - t
        assert tree.axis is not None
        wf_steps: list[float] = []
        for _ in range(steps):
            t = time.perf_counter()
            await pilot.press("pagedown")
            wf_steps.append(time.perf_counter() - t)
        wf_frames = _cold_frames(tree, steps)

        status = app.screen.query_one("#trace-search-status")
        t = time.perf_counter()
        await pilot.press("slash", *"no-such-text", "enter")
        while "no span" not in str(status.render()):
            await pilot.pause(0.01)
        search_s = time.perf_counter() - t
    return {
        "spans": n,
        "analyze_s": analyze_s,
        "rows_s": rows_s,
        "first_paint_s": first_paint_s,
        "step_median_ms": statistics.median(step_times) * 1000,
        "step_max_ms": max(step_times) * 1000,
        "frame_median_ms": statistics.median(frames) * 1000,
        "frame_max_ms": max(frames) * 1000,
        "widgets": widgets,
        "wf_paint_ms": wf_paint_s * 1000,
        "wf_step_median_ms": statistics.median(wf_steps) * 1000,
        "wf_step_max_ms": max(wf_steps) * 1000,
        "wf_frame_median_ms": statistics.median(wf_frames) * 1000,
        "wf_frame_max_ms": max(wf_frames) * 1000,
        "search_s": search_s,
    }


def _cold_frames(tree: object, steps: int) -> list[float]:
    """Render the 24 visible lines at random places, the line cache cleared."""
    rng = random.Random(1)
    frames = []
    rows = len(tree.model.rows)  # type: ignore[attr-defined]
    for _ in range(steps):
        tree._row_cache.cache_clear()  # type: ignore[attr-defined]
        y = rng.randrange(max(rows - 24, 1))
        tree.scroll_to(y=y, animate=False, immediate=True)  # type: ignore[attr-defined]
        t = time.perf_counter()
        for line in range(24):
            tree.render_line(line)  # type: ignore[attr-defined]
        frames.append(time.perf_counter() - t)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tui_trace")
    parser.add_argument("--sizes", default="10000,100000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(
        f"{'spans':>9} {'analyze s':>10} {'rows s':>7} {'1st paint s':>12} {'paint/analyze':>14}"
        f" {'step ms p50/max':>16} {'frame ms p50/max':>17} {'widgets':>8}"
    )
    results = []
    for n in sizes:
        r = asyncio.run(one(n))
        results.append(r)
        print(
            f"{r['spans']:>9} {r['analyze_s']:>10.3f} {r['rows_s']:>7.3f}"
            f" {r['first_paint_s']:>12.3f} {r['first_paint_s'] / r['analyze_s']:>14.2f}"
            f" {r['step_median_ms']:>7.1f}/{r['step_max_ms']:<8.1f}"
            f" {r['frame_median_ms']:>8.2f}/{r['frame_max_ms']:<8.2f} {r['widgets']:>8}",
            flush=True,
        )
    print("\nwaterfall (w) and search (/), same runs:")
    print(
        f"{'spans':>9} {'w paint ms':>11} {'step ms p50/max':>16} {'frame ms p50/max':>17}"
        f" {'frame wf/tree':>14} {'search s':>9} {'search/analyze':>15}"
    )
    for r in results:
        print(
            f"{r['spans']:>9} {r['wf_paint_ms']:>11.1f}"
            f" {r['wf_step_median_ms']:>7.1f}/{r['wf_step_max_ms']:<8.1f}"
            f" {r['wf_frame_median_ms']:>8.2f}/{r['wf_frame_max_ms']:<8.2f}"
            f" {r['wf_frame_median_ms'] / r['frame_median_ms']:>14.2f}"
            f" {r['search_s']:>9.3f} {r['search_s'] / r['analyze_s']:>15.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
