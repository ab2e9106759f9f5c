"""The traces screen's query language, without a UI (oncall_tui.tui.trace_query)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall_tui.tui.trace_query import OpenFile, OpenTrace, QueryError, Search, parse

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("", Search()),
        ("   ", Search()),
        ("all", Search()),
        ("ALL", Search()),
        ("errors", Search(errors_only=True)),
        ("Errors", Search(errors_only=True)),
        ("route:support-chat", Search(route="support-chat")),
        ("route:a:b", Search(route="a:b")),
        ("finding:cycle", Search(finding="cycle")),
        (
            "route:support-chat errors finding:reentrancy_cycle",
            Search(route="support-chat", errors_only=True, finding="reentrancy_cycle"),
        ),
        ("errors route:x errors route:x", Search(route="x", errors_only=True)),
        (TRACE_ID, OpenTrace(TRACE_ID)),
        (TRACE_ID.upper(), OpenTrace(TRACE_ID)),
        ("00f067aa0ba902b7", OpenTrace("00f067aa0ba902b7")),
        ("id:ABC", OpenTrace("abc")),
        (f"  id:{TRACE_ID}  ", OpenTrace(TRACE_ID)),
        ("file:/tmp/t.json", OpenFile("/tmp/t.json")),
        ("file:~/traces/t.json", OpenFile("~/traces/t.json")),
        ('file:"/tmp/my trace.json"', OpenFile("/tmp/my trace.json")),
        ("file:C:\\traces\\t.json", OpenFile("C:\\traces\\t.json")),
        ("route:\\x1b[31m", Search(route="\\x1b[31m")),
    ],
)
def test_parse(text: str, query: object) -> None:
    assert parse(text) == query


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("bogus", "bogus"),
        ("cafe", "cafe"),  # hex, but too short to be a bare trace id
        ("route:", "route:"),
        ("finding:", "finding:"),
        ("file:", "file:"),
        ("id:", "id:"),
        ("id:xyz", "id:xyz"),
        (f"id:{'a' * 33}", f"id:{'a' * 33}"),
        ("route:a route:b", "route:b"),
        ("finding:a finding:b", "finding:b"),
        ("all errors", "all"),
        ("errors all", "all"),
        (f"{TRACE_ID} errors", "errors"),
        (f"route:x id:{TRACE_ID}", "route:x"),
        (f"file:t.json {TRACE_ID}", TRACE_ID),
        ("errors colour:red", "colour:red"),
        ('file:"open', None),
    ],
)
def test_a_bad_query_names_the_bad_word(text: str, token: str | None) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.token == token
    if token is not None:
        assert f"'{token}'" in info.value.message
    assert "\n" not in info.value.message


def test_unknown_words_list_what_would_do() -> None:
    with pytest.raises(QueryError, match="try route:, errors, finding:, id:, file:, all"):
        parse("eror")


def test_text_of_the_empty_search_is_all() -> None:
    assert Search().text() == "all"
    assert Search(route="my route", errors_only=True).text() == "route:'my route' errors"


values = st.text(min_size=1, max_size=30)


@given(route=st.none() | values, errors=st.booleans(), finding=st.none() | values)
def test_a_search_reads_back_from_its_own_text(route, errors, finding) -> None:
    """What the title shows (and the search line is prefilled with) is a query
    that gives the same search back, whatever the route or kind holds."""
    search = Search(route=route, errors_only=errors, finding=finding)
    assert parse(search.text()) == search


@given(path=values)
def test_a_file_reads_back_from_its_own_text(path) -> None:
    assert parse(OpenFile(path).text()) == OpenFile(path)


def test_the_query_module_does_not_import_textual() -> None:
    code = (
        "import sys, oncall_tui.tui.trace_query\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
