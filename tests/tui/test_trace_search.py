"""Search inside a trace: `/`, then n/N between hits, each hit marked and revealed."""

from __future__ import annotations

from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.trace_screen import SpanSearchLine, TraceScreen
from tests.builders import TraceBuilder
from tests.tui.fakes import trace_shown
from tests.tui.test_console import screen_text


def _trace():
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 300)
    b.tool("lookup_order", m1, 10, 200, attrs={"order.id": "A-77213"})
    b.model(agent, 300, 600)
    m3 = b.model(agent, 600, 900)
    b.tool("lookup_order", m3, 610, 800)
    b.span("\x1b[31m[bold]evil", agent, 900, 950)
    return b.trace()


async def _search(pilot, text: str) -> None:
    screen = pilot.app.screen
    await pilot.press("slash", *text, "enter")
    for _ in range(100):
        await pilot.pause(0.02)
        status = str(screen.query_one("#trace-search-status").render())
        if "hit" in status or "no span" in status:
            return
    raise AssertionError("the search never answered")


def _status(app) -> str:
    return str(app.screen.query_one("#trace-search-status").render())


async def test_slash_searches_and_n_N_step_through_hits_in_tree_order() -> None:
    app = OncallApp(trace=_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        tree = screen.query_one(CallTree)
        await _search(pilot, "lookup")
        assert "hit 1/2" in _status(app)
        first = tree.model.span(tree.cursor)
        assert first is not None and first.name == "execute_tool lookup_order"
        assert first.start_ns == 10_000_000
        # Hits are marked in the tree, with a glyph that reads without colour.
        label, _ = tree.model.label(tree.cursor, 80)
        assert label.rstrip().endswith("◆")
        await pilot.press("n")
        await pilot.pause()
        second = tree.model.span(tree.cursor)
        assert second is not None and second.start_ns == 610_000_000
        assert "hit 2/2" in _status(app)
        await pilot.press("n")  # past the last hit: back to the first, and said so
        await pilot.pause()
        assert tree.model.span(tree.cursor) == first and "hit 1/2" in _status(app)
        await pilot.press("N")
        await pilot.pause()
        assert tree.model.span(tree.cursor) == second


async def test_hits_inside_folded_subtrees_are_revealed_and_marked_in_the_waterfall() -> None:
    app = OncallApp(trace=_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        await pilot.press("home", "space")  # fold everything under the root
        assert len(tree.model.rows) == 1
        await _search(pilot, "a-77213")  # an attribute value, any case
        span = tree.model.span(tree.cursor)
        assert span is not None and span.attributes.get("order.id") == "A-77213"
        line = "".join(seg.text for seg in tree.render_line(tree.cursor - tree.scroll_offset.y))
        assert "◆190ms" in line[tree._tree_width :]  # the bar's label carries the mark


async def test_span_id_prefix_and_no_match() -> None:
    trace = _trace()
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        tree = app.screen.query_one(CallTree)
        await _search(pilot, trace.spans[3].span_id)
        assert tree.model.span(tree.cursor) == trace.spans[3]
        await _search(pilot, "nothing-like-this")
        assert "no span matches nothing-like-this" in _status(app)
        assert tree.model.hits == set()


async def test_hostile_text_in_spans_and_query_stays_inert() -> None:
    app = OncallApp(trace=_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        await _search(pilot, "[bold]")
        text = screen_text(app)
        assert "hit 1/1" in _status(app)
        assert "\\x1b[31m[bold]evil" in text and "\x1b" not in text
        assert "/[bold]" in _status(app)  # the query shown as typed, not as markup


async def test_escape_closes_the_search_line_and_keeps_the_screen() -> None:
    app = OncallApp(trace=_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        screen = app.screen
        line = screen.query_one(SpanSearchLine)
        await pilot.press("slash")
        assert line.has_focus and line.display
        await pilot.press("l", "o", "escape")
        await pilot.pause()
        assert app.screen is screen and not line.has_focus
        assert "hidden" in line.classes
        await pilot.press("n")  # nothing searched yet: n says how to search
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)


async def test_a_hit_outside_the_zoom_leaves_the_zoom() -> None:
    app = OncallApp(trace=_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        screen = app.screen
        tree = screen.query_one(CallTree)
        await pilot.press("down", "z")  # the first model call and its tool
        assert len(tree.model.rows) == 2
        await _search(pilot, "evil")  # a span outside that subtree
        span = tree.model.span(tree.cursor)
        assert span is not None and "evil" in span.name
        assert tree.model.zoom == [] and len(tree.model.rows) == len(app.trace.spans)
        assert "zoom:" not in str(screen.query_one("#trace-title").render())
