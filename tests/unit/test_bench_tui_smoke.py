"""The TUI benchmark measures the real trace screen: a tiny run, not the 100k one."""

from __future__ import annotations

from bench.tui_trace import one


async def test_tui_bench_reports_paint_and_scroll_numbers() -> None:
    r = await one(2_000, steps=5)
    assert r["first_paint_s"] >= r["analyze_s"] > 0
    assert r["frame_median_ms"] > 0 and r["step_median_ms"] > 0
    assert r["widgets"] < 40  # one call-tree widget, never one per span
    # The waterfall: toggled on, scrolled, its frame a small factor of the tree's.
    assert r["wf_paint_ms"] > 0 and r["wf_step_median_ms"] > 0
    assert 0 < r["wf_frame_median_ms"] < 20 * r["frame_median_ms"] + 5
    assert r["search_s"] > 0  # a full scan for text no span holds, answered
