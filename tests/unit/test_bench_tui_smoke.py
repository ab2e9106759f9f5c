"""The TUI benchmark measures the real trace screen: a tiny run, not the 100k one."""

from __future__ import annotations

from bench.tui_trace import one


async def test_tui_bench_reports_paint_and_scroll_numbers() -> None:
    r = await one(2_000, steps=5)
    assert r["first_paint_s"] >= r["analyze_s"] > 0
    assert r["frame_median_ms"] > 0 and r["step_median_ms"] > 0
    assert r["widgets"] < 40  # one call-tree widget, never one per span
