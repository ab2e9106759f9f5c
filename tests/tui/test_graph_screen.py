"""The graph screen (`g` on a trace): the drawn call graph, stepping a
cycle's laps, and going from a node to one of its spans in the tree."""

from __future__ import annotations

from oncall_tui.core.analysis import analyze
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.call_tree import CallTree
from oncall_tui.tui.graph_screen import GraphScreen, GraphView, NodeSpans
from oncall_tui.tui.trace_screen import TraceScreen
from tests.builders import TraceBuilder
from tests.tui.fakes import trace_shown


def three_laps():
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 900)
    t1 = b.tool("lookup_order", m1, 10, 890)
    m2 = b.model(t1, 20, 880)
    t2 = b.tool("lookup_order", m2, 30, 870)
    m3 = b.model(t2, 40, 860)
    b.tool("lookup_order", m3, 50, 850)
    b.tool("search_kb", agent, 900, 950)
    return b.trace()


def wide():
    """An agent calling forty tools: far wider than 80 columns."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    for i in range(40):
        b.tool(f"tool_number_{i:02d}", agent, i * 20, i * 20 + 10)
    return b.trace()


def title(screen) -> str:
    return str(screen.query_one("#graph-title").render())


async def open_graph(pilot) -> GraphScreen:
    await trace_shown(pilot)
    await pilot.press("g")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, GraphScreen)
    return screen


async def test_g_draws_the_graph_with_the_loop_marked() -> None:
    app = OncallApp(trace=three_laps())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        view = screen.query_one(GraphView)
        painted = "\n".join(
            "".join(seg.text for seg in view.render_line(y)) for y in range(view.size.height)
        )
        assert "⟲ tool:lookup_order" in painted and "agent:planner" in painted
        assert "▲" in painted and "┏" in painted  # the back edge, the cycle's heavy boxes
        assert "agent:planner" in title(screen)  # the root is selected to start with
        await pilot.press("escape")
        assert isinstance(app.screen, TraceScreen)


async def test_c_steps_through_the_laps_and_C_goes_back() -> None:
    trace = three_laps()
    cycle = analyze(trace).cycles[0]
    assert cycle.laps == 3
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        view = screen.query_one(GraphView)
        await pilot.press("c")
        assert "lap 1/3: lookup_order → gpt-x → lookup_order" in title(screen)
        tool = screen.lay.box("tool:lookup_order")
        model = screen.lay.box("model:openai/gpt-x")
        agent = screen.lay.box("agent:planner")
        assert tool and model and agent
        lit = view.lap_cells
        assert (tool.x, tool.y) in lit and (model.x, model.y) in lit
        assert (agent.x, agent.y) not in lit  # the agent is not part of the loop
        back = next(e for e in screen.lay.edges if e.back)
        assert back.points[-1] in lit  # the edge that closes the lap
        await pilot.press("c")
        assert "lap 2/3" in title(screen)
        await pilot.press("c")
        assert title(screen).endswith("lap 3/3: lookup_order")
        await pilot.press("c")
        assert "lap 1/3" in title(screen)  # round again
        await pilot.press("C")
        assert "lap 3/3" in title(screen)
        # Moving to a node leaves the lap.
        await pilot.press("tab")
        assert "lap" not in title(screen) and view.lap_cells == frozenset()


async def test_a_trace_without_a_cycle_says_so_on_c() -> None:
    app = OncallApp(trace=wide())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert "0 ⟲" in title(screen) and "lap" not in title(screen)


async def test_a_node_span_chosen_in_the_graph_is_shown_in_the_tree() -> None:
    trace = three_laps()
    tool_spans = [s.span_id for s in trace.spans if s.name == "execute_tool lookup_order"]
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        await pilot.press("down")  # from the agent to a node under it
        assert "agent:planner" not in title(screen)
        for _ in range(4):  # tab walks the nodes in reading order
            if "tool:lookup_order" in title(screen):
                break
            await pilot.press("tab")
        assert "tool:lookup_order" in title(screen)
        await pilot.press("enter")
        await pilot.pause()
        spans = app.screen
        assert isinstance(spans, NodeSpans)
        listed = spans.query_one("#node-spans")
        assert listed.option_count == 3  # every call of the tool
        assert "spans of tool:lookup_order: 3" in str(spans.query_one("#node-spans-title").render())
        await pilot.press("down", "enter")  # the second call
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)
        tree = app.screen.query_one(CallTree)
        span = tree.model.span(tree.cursor)
        assert span is not None and span.span_id == tool_spans[1]


async def test_escape_on_the_span_list_returns_to_the_graph() -> None:
    app = OncallApp(trace=three_laps())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NodeSpans)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_a_graph_wider_than_the_screen_scrolls_to_the_selected_node() -> None:
    app = OncallApp(trace=wide())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        view = screen.query_one(GraphView)
        assert screen.lay.width > 80 and view.scroll_offset.x == 0
        await pilot.press("down")  # onto the row of tools
        for _ in range(39):
            await pilot.press("right")
        await pilot.pause()
        assert "tool:tool_number_39" in title(screen)
        box = screen.lay.box("tool:tool_number_39")
        assert box is not None
        assert view.scroll_offset.x <= box.x < view.scroll_offset.x + view.size.width
        assert view.scroll_offset.x > 0


async def test_a_trace_without_genai_spans_is_graphed_by_span_name() -> None:
    b = TraceBuilder()
    root = b.span("GET /orders", end=100)
    b.span("SELECT orders", root, 10, 40)
    b.span("SELECT orders", root, 50, 90)
    app = OncallApp(trace=b.trace())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_graph(pilot)
        assert {box.key for box in screen.lay.boxes} == {"span:GET /orders", "span:SELECT orders"}
        await pilot.press("down")
        assert "span:SELECT orders" in title(screen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NodeSpans)
        assert app.screen.query_one("#node-spans").option_count == 2


async def test_a_big_graph_is_drawn_in_a_thread_and_then_shown() -> None:
    b = TraceBuilder()
    agent = b.agent("planner", end=10_000)
    for i in range(170):
        b.tool(f"tool_{i:03d}", agent, i * 50, i * 50 + 10)
    app = OncallApp(trace=b.trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await trace_shown(pilot)
        await pilot.press("g")
        screen = app.screen
        assert isinstance(screen, GraphScreen)
        for _ in range(200):
            if not screen.pending:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        assert "call graph  171 nodes" in title(screen)
        assert "agent:planner" in title(screen)  # the root, selected once drawn
        await pilot.press("down")
        assert "tool:tool_" in title(screen)
