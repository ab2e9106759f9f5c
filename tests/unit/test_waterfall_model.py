"""The waterfall's bar math: where a span's bar lands on the time axis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oncall_tui.tui.waterfall_model import (
    AFTER,
    BEFORE,
    FULL,
    GHOST,
    TICK,
    Axis,
    axis_line,
    row_runs,
    time_text,
)

MS = 1_000_000


def cells_of(runs: list[tuple[str, str]]) -> str:
    return "".join(text for text, _ in runs)


def test_bar_spans_its_share_of_the_axis() -> None:
    axis = Axis(0, 1000 * MS, 50)
    assert axis.bar(0, 1000 * MS)[:2] == (0, 50)  # the root fills the pane
    assert axis.bar(500 * MS, 1000 * MS)[:2] == (25, 50)
    assert axis.bar(100 * MS, 300 * MS)[:2] == (5, 15)


def test_partial_cells_round_outwards_so_a_bar_covers_its_whole_time() -> None:
    axis = Axis(0, 100, 10)  # 10 ns a cell
    assert axis.bar(15, 25)[:2] == (1, 3)


def test_a_span_shorter_than_a_cell_still_shows_one_cell() -> None:
    axis = Axis(0, 1000 * MS, 50)
    bar = axis.bar(400 * MS, 400 * MS + 1000)  # 1 µs on a 20 ms-a-cell axis
    assert bar.end - bar.first == 1 and not bar.zero
    assert cells_of(row_runs(axis, 400 * MS, 400 * MS + 1000, "")).count(FULL) == 1


def test_zero_duration_is_a_tick_and_negative_duration_too() -> None:
    axis = Axis(0, 1000 * MS, 50)
    for end in (300 * MS, 200 * MS):
        bar = axis.bar(300 * MS, end)
        assert bar.zero and bar.end - bar.first == 1 and bar.first == 15
        row = cells_of(row_runs(axis, 300 * MS, end, ""))
        assert row[15] == TICK and FULL not in row


def test_the_gap_before_a_child_is_empty_space() -> None:
    """A parent starting at 0 and its first child at 400 ms: the child's row is
    blank up to its start, so the wait before it reads at a glance."""
    axis = Axis(0, 1000 * MS, 50)
    row = cells_of(row_runs(axis, 400 * MS, 600 * MS, ""))
    assert row[:20] == " " * 20 and row[20:30] == FULL * 10


def test_zoomed_axis_clips_with_arrows_at_the_edge_passed() -> None:
    axis = Axis(100 * MS, 200 * MS, 20)
    assert cells_of(row_runs(axis, 50 * MS, 150 * MS, ""))[0] == BEFORE
    assert cells_of(row_runs(axis, 150 * MS, 250 * MS, ""))[-1] == AFTER
    assert cells_of(row_runs(axis, 0, 10 * MS, "")) == BEFORE + " " * 19  # wholly before
    assert cells_of(row_runs(axis, 300 * MS, 310 * MS, "")) == " " * 19 + AFTER


def test_skew_adjusted_span_shows_where_it_was_as_a_ghost() -> None:
    """Shifted by +400 ms: the bar at its adjusted place, ░ at the raw one."""
    axis = Axis(0, 1000 * MS, 50)
    row = cells_of(row_runs(axis, 500 * MS, 600 * MS, "", shift_ns=400 * MS))
    assert row[5:10] == GHOST * 5 and row[25:30] == FULL * 5


def test_label_beside_the_bar_else_before_else_inside() -> None:
    axis = Axis(0, 1000 * MS, 40)
    after = cells_of(row_runs(axis, 0, 100 * MS, "100ms"))
    assert after.startswith(FULL * 4 + " 100ms")
    before = cells_of(row_runs(axis, 900 * MS, 1000 * MS, "100ms"))
    assert before.endswith("100ms " + FULL * 4)
    runs = row_runs(axis, 0, 1000 * MS, "1s ✗")
    assert runs[0] == ("1s ✗", "inlabel") and cells_of(runs).endswith(FULL * 36)


def test_axis_line_labels_the_quarters() -> None:
    line = axis_line(Axis(0, 1000 * MS, 52))
    assert len(line) == 52
    for label in ("0", "250ms", "500ms", "750ms", "1s"):
        assert label in line
    assert line.rstrip().endswith("1s╷")
    assert len(axis_line(Axis(0, 10, 3))) == 3  # never wider than its pane


def test_time_text_is_short() -> None:
    assert time_text(850_000) == "850µs"
    assert time_text(12_500_000) == "12.5ms"
    assert time_text(1_250_000_000) == "1.25s"


@given(
    t0=st.integers(0, 10**12),
    length=st.integers(0, 10**12),
    cells=st.integers(1, 300),
    start=st.integers(-(10**12), 3 * 10**12),
    duration=st.integers(-(10**9), 10**12),
    shift=st.one_of(st.none(), st.integers(-(10**10), 10**10)),
    label=st.text(max_size=30),
)
def test_a_row_is_always_exactly_the_pane_wide_with_at_least_one_mark(
    t0, length, cells, start, duration, shift, label
) -> None:
    axis = Axis(t0, t0 + length, cells)
    bar = axis.bar(t0 + start, t0 + start + duration)
    assert 0 <= bar.first < bar.end <= cells
    runs = row_runs(axis, t0 + start, t0 + start + duration, label, shift)
    assert len(cells_of(runs)) == cells
    assert any(role in ("bar", "inlabel") for _, role in runs) or label  # something shows
