"""The traces screen's search line, driven against the real simulator's trace
store: open by id, route/errors/finding filters, a trace file, bad queries,
hostile root names; and the console staying responsive while a big trace is
analysed in its thread worker."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import httpx
import msgspec
import pytest
from textual import events
from textual.message import Message
from textual.notifications import Notify
from textual.worker import WorkerState

from oncall_tui.core.analysis import analyze, matching_finding
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import running_sim
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.native import NativeGateway, Options
from oncall_tui.tui.app import MessageScreen, OncallApp
from oncall_tui.tui.help_screen import HelpScreen
from oncall_tui.tui.loading import (
    LOAD_GROUP,
    TraceAnalysed,
    TraceAnalysing,
    TraceLoadFailed,
    TraceSearchFailed,
    TracesListed,
)
from oncall_tui.tui.trace_screen import TraceScreen
from oncall_tui.tui.traces_screen import SearchLine, TracesScreen
from tests.builders import TraceBuilder
from tests.tui.test_console import EVIL, screen_text

SIZE = (100, 30)


async def wait_for(pilot, cond: Callable[[], object], tries: int = 600) -> None:
    for _ in range(tries):
        await pilot.pause(0.05)
        if cond():
            return
    raise AssertionError("condition never held")


@pytest.fixture
async def sim():
    # Agent traces with reentrancy cycles, and a provider outage for errors.
    async with running_sim(scenarios=("tool-reentrancy", "provider-outage")) as server:
        yield server


@pytest.fixture
async def store(sim):
    gw = NativeGateway(
        Options(url=sim.url, token_env="T", timeout_s=5),
        PluginContext(environ={"T": sim.token}),
    )
    yield gw
    await gw.aclose()


class Console:
    """The app on a store, every posted message recorded."""

    def __init__(self, store) -> None:
        self.posted: list[Message] = []
        self.app = OncallApp(store=store)

    def of(self, kind: type[Message]) -> list:
        return [m for m in self.posted if isinstance(m, kind)]

    async def until(self, pilot, cond: Callable[[], object], tries: int = 300) -> None:
        for _ in range(tries):
            await pilot.pause(0.05)
            if cond():
                return
        status = self.app.screen.query("#traces-status")
        said = str(status.first().render()) if status else screen_text(self.app)
        raise AssertionError(f"condition never held; the screen says: {said}")

    async def listed(self, pilot, before: int) -> TracesListed:
        await self.until(pilot, lambda: len(self.of(TracesListed)) > before)
        return self.of(TracesListed)[-1]

    async def search(self, pilot, text: str) -> None:
        """Type ``text`` into the search line as a person would, then enter."""
        await pilot.press("slash")
        line = self.app.screen.query_one(SearchLine)
        assert line.has_focus
        if len(text) <= 24:
            line.value = ""
            await pilot.press(*text, "enter")
        else:  # long paths and ids: pasted (a key press each is slow under the pilot)
            line.value = text
            await pilot.press("enter")


def title(app) -> str:
    return str(app.screen.query_one("#traces-title").render())


def status(app) -> str:
    return str(app.screen.query_one("#traces-status").render())


async def test_route_filter_shows_only_that_route_and_names_it_in_the_title(store) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        first = await c.listed(pilot, 0)
        assert {r.route for r in first.rows} > {"support-chat"}  # every route at first
        await c.search(pilot, "route:support-chat")
        got = await c.listed(pilot, 1)
        assert got.query == "route:support-chat"
        assert got.rows and {r.route for r in got.rows} == {"support-chat"}
        assert title(c.app) == "traces: route:support-chat"
        screen = c.app.screen
        assert isinstance(screen, TracesScreen) and set(screen.rows) == {
            r.trace_id for r in got.rows
        }
        assert screen.query_one("#traces").has_focus  # keys go back to the list


async def test_errors_filter_and_x_toggle(store) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, "errors")
        got = await c.listed(pilot, 1)
        assert got.rows and all(r.error_count for r in got.rows)
        assert title(c.app) == "traces: errors"
        await pilot.press("x")  # the key toggles the same filter off
        again = await c.listed(pilot, 2)
        assert again.query == "all" and any(not r.error_count for r in again.rows)
        assert c.app.screen.query_one(SearchLine).value == ""


async def test_finding_filter_keeps_exactly_the_traces_with_that_finding(store) -> None:
    # What the screen should keep, worked out here with the same matcher the CLI uses.
    rows = await store.search(TraceQuery(route="agent-assist", limit=50))
    expected = set()
    for row in rows:
        if matching_finding(analyze(await store.get_trace(row.trace_id)), "cycle"):
            expected.add(row.trace_id)
    assert expected, "the tool-reentrancy scenario makes cycles on agent-assist"
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, "route:agent-assist finding:cycle")
        got = await c.listed(pilot, 1)
        assert {r.trace_id for r in got.rows} == expected
        assert got.findings is not None
        assert {f.kind for f in got.findings.values()} == {"reentrancy_cycle"}
        assert title(c.app) == "traces: route:agent-assist finding:cycle"
        assert "finding" in screen_text(c.app) and "reentrancy_cycle" in screen_text(c.app)
        # The analyses ran in thread workers, not on the event loop.
        assert not c.of(TraceAnalysed)  # a filter opens nothing


async def test_route_errors_and_finding_combine(store) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, "route:support-chat errors finding:error_swallowed")
        got = await c.listed(pilot, 1)
        assert got.rows
        assert all(r.route == "support-chat" and r.error_count for r in got.rows)
        assert got.findings is not None and all(
            "error_swallowed" in got.findings[r.trace_id].kind for r in got.rows
        )
        assert title(c.app) == "traces: route:support-chat errors finding:error_swallowed"


async def test_bare_id_and_id_prefix_open_the_trace_analysed_in_a_thread(sim, store) -> None:
    wanted = next(iter(sim.engine.store.traces))  # the oldest the simulator holds
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        for query in (wanted, f"id:{wanted.upper()}"):
            await c.search(pilot, query)
            await c.until(pilot, lambda: isinstance(c.app.screen, TraceScreen))
            screen = c.app.screen
            assert screen.trace.trace_id == wanted
            assert f"trace {wanted}" in [m.origin for m in c.of(TraceAnalysing)]
            assert c.of(TraceAnalysed)[-1].trace is screen.trace
            await pilot.press("escape")  # back to the list, search line as typed
            assert isinstance(c.app.screen, TracesScreen)


async def test_an_unknown_id_says_so_in_the_status_line(store) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, "id:0123456789abcdef")
        await c.until(pilot, lambda: c.of(TraceLoadFailed))
        assert isinstance(c.app.screen, TracesScreen)
        said = status(c.app)
        assert said.startswith("cannot open trace 0123456789abcdef") and "not found" in said


async def test_file_query_opens_the_biggest_trace_in_a_file(store, tmp_path) -> None:
    small = TraceBuilder(trace_id="ef" * 16)
    small.agent("tiny", end=10)
    big = TraceBuilder(trace_id="12" * 16)
    agent = big.agent("planner", end=1000)
    big.tool("lookup", big.model(agent, 0, 900), 10, 890)
    path = tmp_path / "two traces.json"  # a space: the query quotes it
    path.write_bytes(msgspec.json.encode(traces_data(small.spans + big.spans)))
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, f'file:"{path}"')
        await c.until(pilot, lambda: isinstance(c.app.screen, TraceScreen))
        assert c.app.screen.trace.trace_id == "12" * 16
        assert [m.origin for m in c.of(TraceAnalysed)] == [str(path)]
        await pilot.press("escape")
        await c.search(pilot, f"file:{tmp_path / 'missing.json'}")
        await c.until(pilot, lambda: c.of(TraceLoadFailed))
        assert isinstance(c.app.screen, TracesScreen)
        assert "missing.json: No such file or directory" in status(c.app)


async def test_a_store_gone_away_is_said_in_the_status_line(sim, store) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await sim.stop()
        await c.search(pilot, "errors")
        await c.until(pilot, lambda: c.of(TraceSearchFailed))
        assert status(c.app).startswith("cannot search traces:")
        assert len(c.app.screen.rows) > 0  # the last list stays, the line says why


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("bogus", "'bogus'"),
        ("route:", "'route:'"),
        ("route:a route:b", "'route:b'"),
        ("errors id:abc", "'errors'"),
        ("id:xyz", "'id:xyz'"),
        ('file:"open', "quotation"),
    ],
)
async def test_a_bad_query_names_the_bad_word_and_changes_nothing(store, query, named) -> None:
    c = Console(store)
    async with c.app.run_test(size=SIZE, message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        await c.search(pilot, query)
        await pilot.pause(0.2)
        said = status(c.app)
        assert said.startswith("bad query:") and named in said, said
        assert "\n" not in said
        assert title(c.app) == "traces: all"
        assert len(c.of(TracesListed)) == 1  # no new search ran
        assert c.app.screen.query_one(SearchLine).has_focus  # left there to fix


async def test_hostile_root_names_and_queries_stay_inert(sim, store) -> None:
    b = TraceBuilder(trace_id="ee" * 16, service="ai-gateway")
    # The root span's name; a minute after the simulator's clock, so the newest row.
    at_ms = int(sim.engine.fleet.now().timestamp() * 1000) + 60_000
    b.agent(EVIL, start=at_ms, end=at_ms + 100)
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.post("/v1/traces", content=b.otlp())).status_code == 200
    c = Console(store)
    async with c.app.run_test(size=(160, 40), message_hook=c.posted.append) as pilot:
        got = await c.listed(pilot, 0)
        assert "ee" * 16 in {r.trace_id for r in got.rows}
        await pilot.pause(0.1)
        text = screen_text(c.app)
        assert "invoke_agent \\x1b]0;pwned\\x07\\x1b[31m[b" in text  # cut at 40, shown as text
        assert "\x1b" not in text and "\x07" not in text
        # A pasted query full of escapes is shown, not obeyed: in the field,
        # the title and the status line.
        line = c.app.screen.query_one(SearchLine)
        await pilot.press("slash")
        line.value = ""
        c.app.post_message(events.Paste(f"route:{EVIL}"))
        await pilot.pause(0.1)
        assert line.value.startswith("route:\\x1b]0;pwned")
        await pilot.press("enter")
        await c.listed(pilot, 1)
        assert title(c.app).startswith("traces: route:'\\x1b]0;pwned\\x07")
        await pilot.press("slash")
        line.value = EVIL  # set, not typed: the field still shows it inert
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert status(c.app).startswith("bad query: unknown word '\\x1b]0;pwned")
        assert "\x1b" not in screen_text(c.app) and "\x07" not in screen_text(c.app)


@pytest.fixture(scope="module")
def big_trace():
    from bench.gen import generate
    from oncall_tui.sources.detect import read_traces

    [trace] = read_traces(generate(100_000))
    return trace


async def test_console_answers_keys_while_a_big_trace_is_analysed(big_trace) -> None:
    """analyze of 100k spans takes seconds; it runs in a thread worker, so a
    key press and a timer are handled within a small bound meanwhile. The key
    goes in as the terminal driver sends it (pilot.press itself waits for the
    whole process to idle, which a busy analysis thread never is)."""
    trace = big_trace
    posted: list[tuple[float, Message]] = []
    app = OncallApp(trace=trace)
    ticks: list[float] = []
    key_lags: list[float] = []
    async with app.run_test(
        size=(80, 24), message_hook=lambda m: posted.append((time.monotonic(), m))
    ) as pilot:
        app.set_interval(0.05, lambda: ticks.append(time.monotonic()))
        [worker] = [w for w in app.workers if w.group == LOAD_GROUP]
        said = str(app.query_one("#app-status").render())
        assert f"analysing {len(trace.spans):,} spans…" in said
        while worker.state is WorkerState.RUNNING and len(key_lags) < 5:
            seen = len(posted)
            sent = time.monotonic()
            app.post_message(events.Key("t", "t"))  # no store: answered with a notification
            while time.monotonic() - sent < 5 and not any(
                isinstance(m, Notify) for _, m in posted[seen:]
            ):
                await asyncio.sleep(0.005)
            if worker.state is WorkerState.RUNNING:  # answered while it still analysed
                key_lags.append(time.monotonic() - sent)
            await asyncio.sleep(0.1)
        assert len(key_lags) >= 2, "analysis ended before the keys could be timed"
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen))
        done_at = next(at for at, m in posted if isinstance(m, TraceAnalysed))
    running = [t for t in ticks if t <= done_at]
    gaps = [b - a for a, b in itertools.pairwise(running)]
    assert len(gaps) >= 10
    assert max(key_lags) < 0.5, key_lags
    assert max(gaps) < 0.5, gaps


async def test_keys_opened_while_analysing_give_way_to_the_trace(big_trace) -> None:
    app = OncallApp(trace=big_trace)
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(events.Key("question_mark", "?"))  # see above: not pilot.press
        for _ in range(100):
            await asyncio.sleep(0.01)
            if isinstance(app.screen, HelpScreen):
                break
        [worker] = [w for w in app.workers if w.group == LOAD_GROUP]
        assert isinstance(app.screen, HelpScreen) and worker.state is WorkerState.RUNNING
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("escape")  # under the trace: what was opened, not the keys
        said = str(app.query_one("#app-status").render())
        assert said == f"trace {big_trace.trace_id}: {len(big_trace.spans):,} spans"


async def test_a_file_given_at_start_is_read_and_analysed_off_the_loop(tmp_path) -> None:
    path = tmp_path / "t.json"
    b = TraceBuilder()
    b.agent("planner", end=100)
    path.write_bytes(b.otlp())
    posted: list[Message] = []
    app = OncallApp(trace_file=str(path))
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen))
        assert [type(m) for m in posted if isinstance(m, (TraceAnalysing, TraceAnalysed))] == [
            TraceAnalysing,
            TraceAnalysed,
        ]
    failed: list[Message] = []
    bad = OncallApp(trace_file=str(tmp_path / "nope.json"))
    async with bad.run_test(size=(80, 24), message_hook=failed.append) as pilot:
        await wait_for(pilot, lambda: isinstance(bad.screen, MessageScreen))
        [said] = [m for m in failed if isinstance(m, TraceLoadFailed)]
        assert said.reason == "No such file or directory"
        assert "cannot open" in screen_text(bad)


async def test_slash_focuses_the_search_line_escape_leaves_it_and_help_lists_it() -> None:
    from tests.tui.test_snapshots import FixedStore

    c = Console(FixedStore())
    async with c.app.run_test(size=(80, 24), message_hook=c.posted.append) as pilot:
        await c.listed(pilot, 0)
        line = c.app.screen.query_one(SearchLine)
        assert not line.has_focus  # keys go to the list first: enter opens, x filters
        await pilot.press("slash", *"rout")
        assert line.has_focus and line.value == "rout"
        await pilot.press("escape")  # leaves the line, not the screen; the typing is undone
        assert isinstance(c.app.screen, TracesScreen)
        assert c.app.screen.query_one("#traces").has_focus and line.value == ""
        await pilot.press("question_mark")
        await pilot.pause()
        body = str(c.app.screen.query_one("#help-body").render())
        assert "traces.search" in body and "traces.errors" in body
        await pilot.press("escape", "escape")  # the keys, then back from the list
        assert not isinstance(c.app.screen, TracesScreen)


async def test_loading_a_trace_never_spells_it_out_to_name_its_worker() -> None:
    """Textual describes a worker by repr(work) unless told; for a partial
    holding a 100k-span trace that took 1.4 s on the event loop before the
    analysis even started (first paint 2.9 s -> 1.3 s once fixed)."""
    from oncall_tui.tui.loading import analysed, start_loading
    from tests.tui.test_console import reentrant_trace

    trace = reentrant_trace()
    app = OncallApp(problem="nothing")
    async with app.run_test(size=(80, 24)):
        worker = start_loading(app, "test", trace=trace)
        assert len(worker.description) < 80 and trace.trace_id not in worker.description
        await worker.wait()
        await analysed(app, trace)
        assert all(len(w.description) < 80 for w in app.workers)
