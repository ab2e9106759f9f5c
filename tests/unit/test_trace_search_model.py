"""Search inside a trace: what matches, in what order, and how n/N step."""

from __future__ import annotations

from oncall_tui.core.tree import tree_for
from oncall_tui.tui.trace_search import search, step
from tests.builders import TraceBuilder


def _trace():
    b = TraceBuilder()
    agent = b.agent("planner", end=1000)
    m1 = b.model(agent, 0, 400, model="gpt-4o-mini")
    b.tool("lookup_order", m1, 10, 300, attrs={"order.id": "A-77213"})
    b.span("db query", agent, 500, 600, attrs={"db.rows": 42})
    b.span("retry", agent, 700, 800, status="error")
    return b.trace()


def _names(trace, result) -> list[str]:
    return [trace.spans[i].name for i in result.hits]


def test_matches_name_attribute_value_and_key_any_case() -> None:
    trace = _trace()
    tree = tree_for(trace)
    assert _names(trace, search(trace, tree, "DB QUERY")) == ["db query"]
    assert _names(trace, search(trace, tree, "a-77213")) == ["execute_tool lookup_order"]
    assert _names(trace, search(trace, tree, "db.rows")) == ["db query"]
    assert _names(trace, search(trace, tree, "42")) == ["db query"]  # a number, as text


def test_matches_genai_fields_and_span_id_prefix() -> None:
    trace = _trace()
    tree = tree_for(trace)
    model_span = next(s for s in trace.spans if s.gen_ai and s.gen_ai.request_model)
    hits = search(trace, tree, "gpt-4o-mini").hits
    assert model_span.span_id in {trace.spans[i].span_id for i in hits}
    by_id = search(trace, tree, trace.spans[3].span_id[:15]).hits
    assert trace.spans[3].span_id in {trace.spans[i].span_id for i in by_id}


def test_hits_come_in_tree_order_and_the_cap_keeps_the_first() -> None:
    trace = _trace()
    tree = tree_for(trace)
    everything = search(trace, tree, "0")  # every span id has a 0
    assert everything.total == len(trace.spans)
    assert everything.hits == tree.order
    capped = search(trace, tree, "0", cap=2)
    assert capped.hits == tree.order[:2] and capped.total == len(trace.spans)


def test_an_empty_query_matches_nothing_and_cancel_stops() -> None:
    trace = _trace()
    tree = tree_for(trace)
    assert search(trace, tree, "   ").hits == []
    assert search(trace, tree, "planner", cancelled=lambda: True).cancelled


def test_hostile_text_is_searched_as_text() -> None:
    b = TraceBuilder()
    b.span("\x1b[2J[bold]evil", None, 0, 10, attrs={"x": "[/red]\x07"})
    trace = b.trace()
    tree = tree_for(trace)
    assert search(trace, tree, "[bold]").total == 1
    assert search(trace, tree, "\x07").total == 1


def test_step_moves_from_the_cursor_and_wraps() -> None:
    tin = list(range(10))
    hits = [2, 5, 8]
    assert step(hits, tin, 0, True) == (0, False)
    assert step(hits, tin, 2, True) == (1, False)  # from a hit to the next one
    assert step(hits, tin, 8, True) == (0, True)  # wrapped past the end
    assert step(hits, tin, 5, False) == (0, False)
    assert step(hits, tin, 1, False) == (2, True)  # wrapped past the start
    assert step(hits, tin, None, True) == (0, False)


def test_quotes_backslashes_and_unicode_case_match_as_typed() -> None:
    b = TraceBuilder()
    b.span('say "hi" \\ Ärger', None, 0, 10, attrs={"ünïcode.key": "ЗНАЧЕНИЕ"})
    trace = b.trace()
    tree = tree_for(trace)
    for query in ('"hi"', "\\ ä", "ärger", "значение", "ÜNÏCODE"):
        assert search(trace, tree, query).total == 1, query
    assert search(trace, tree, '","').total == 0  # JSON punctuation is not text
