"""The waterfall on the trace screen: toggled at 80 columns, on at 160; zoom in and out;
errors and skew shifts marked so they read without colour."""

from __future__ import annotations

from rich.cells import cell_len

from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.trace_screen import TraceScreen
from tests.builders import TraceBuilder
from tests.tui.fakes import trace_shown
from tests.tui.test_console import reentrant_trace, screen_text


def _line(tree: CallTree, y: int) -> str:
    return "".join(seg.text for seg in tree.render_line(y))


def _row_of(tree: CallTree, name: str) -> int:
    return next(r for r in range(len(tree.model.rows)) if tree.model.span(r).name == name)  # type: ignore[union-attr]


def _plain_trace():
    """An agent that waits 400 ms before its first model call, then a tool
    that fails, then a zero-length event span."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    b.model(agent, 400, 600)
    b.tool("lookup", agent, 650, 900, status="error")
    b.span("mark", agent, 950, 950)
    return b.trace()


async def test_w_shows_the_waterfall_at_80_columns_on_one_axis() -> None:
    app = OncallApp(trace=_plain_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        assert tree.axis is None and "█" not in screen_text(app)  # the tree alone at 80
        await pilot.press("w")
        await pilot.pause()
        assert tree.axis is not None
        header = str(app.screen.query_one("#waterfall-axis").render())
        assert "time →" in header and "╷0" in header and "1s╷" in header
        root, model = _line(tree, 0), _line(tree, _row_of(tree, "chat gpt-x"))
        left = tree._tree_width
        # The agent's bar starts at the axis start; the model's 400 ms later: the wait shows.
        assert root[left:].lstrip()[0] in "█1"
        gap = model[left:].index("█")
        assert 0.35 * tree.axis.cells <= gap <= 0.45 * tree.axis.cells
        assert model[left + gap :].startswith("█") and "200ms" in model
        tool = _line(tree, _row_of(tree, "execute_tool lookup"))
        assert "250ms ✗" in tool  # an error reads without colour
        assert "┃" in _line(tree, _row_of(tree, "mark"))  # zero length: a tick
        await pilot.press("w")
        await pilot.pause()
        assert tree.axis is None


async def test_waterfall_shows_beside_the_tree_at_160_columns() -> None:
    app = OncallApp(trace=reentrant_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        assert tree.axis is not None and tree._tree_width >= 50
        assert "⟲" in _line(tree, 2)[tree._tree_width :]  # the cycle marked on the bar too


async def test_z_zooms_to_a_subtree_and_Z_or_escape_come_back() -> None:
    trace = reentrant_trace()
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        screen = app.screen
        tree = screen.query_one(CallTree)
        await pilot.press("w")
        everything = len(tree.model.rows)
        tool = next(s for s in trace.spans if s.name.startswith("execute_tool"))
        tree.cursor = tree.model.row_of(tool.span_id)  # type: ignore[assignment]
        await pilot.press("z")
        await pilot.pause()
        # Only the tool's subtree, the axis its own start..end (880 ms).
        assert tree.model.span(0) == tool and len(tree.model.rows) == 3
        axis = tree.axis
        assert axis is not None and (axis.t0, axis.t1) == (tool.start_ns, tool.end_ns)
        assert "zoom: execute_tool" in str(screen.query_one("#trace-title").render())
        header = str(screen.query_one("#waterfall-axis").render())
        assert "zoom @10ms" in header and "880ms╷" in header
        # The zoomed span fills the pane.
        assert _line(tree, 0).rstrip().endswith("█")
        await pilot.press("Z")
        await pilot.pause()
        assert len(tree.model.rows) == everything
        assert tree.model.span(tree.cursor).span_id == tool.span_id  # type: ignore[union-attr]
        await pilot.press("z", "escape")  # escape leaves the zoom, not the screen
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen) and len(tree.model.rows) == everything
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TraceScreen)


async def test_skew_adjusted_spans_show_their_shift() -> None:
    b = TraceBuilder()
    root = b.span("gateway", end=100, host="gw")
    child = b.span("client call", root, -30, 20, host="laptop")
    b.span("inner", child, -25, 10, host="laptop")
    app = OncallApp(trace=b.trace())
    async with app.run_test(size=(160, 30)) as pilot:
        await trace_shown(pilot)
        await pilot.press("s")
        tree = app.screen.query_one(CallTree)
        for _ in range(100):
            await pilot.pause(0.02)
            if tree.model.adjusted:
                break
        line = _line(tree, _row_of(tree, "client call"))
        assert "⇆+55ms" in line and "░" in line  # the shift, and where it was


async def test_100k_spans_render_a_row_at_the_cost_of_ten() -> None:
    """Rows are computed when painted: a screenful costs the same at any size."""
    b = TraceBuilder()
    root = b.agent("big", end=100_000)
    for k in range(100_000):
        b.span(f"s{k}", root, k, k + 1)
    app = OncallApp(trace=b.trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        assert tree.axis is not None
        await pilot.press("end")
        await pilot.pause()
        assert tree._row_cache.cache_info().currsize < 200
        assert "s99999" in screen_text(app)


async def test_wide_characters_in_names_keep_the_bars_in_line() -> None:
    b = TraceBuilder()
    root = b.agent("规划者规划者规划者规划者规划者规划者", end=1000)
    b.span("搜索工具搜索工具搜索工具搜索工具", root, 500, 1000)
    app = OncallApp(trace=b.trace())
    async with app.run_test(size=(160, 30)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        strips = [tree.render_line(y) for y in range(2)]
        width = tree.scrollable_content_region.width
        assert [sum(cell_len(seg.text) for seg in strip) for strip in strips] == [width, width]
        # The child's bar starts half way along the axis, counted in cells.
        cells = "".join(seg.text for seg in strips[1])
        head = cells[: cells.index("█")]
        assert cell_len(head) - tree._tree_width == tree.axis.cells // 2  # type: ignore[union-attr]
