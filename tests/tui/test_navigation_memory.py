"""Memory under navigation: a person goes traces -> trace -> graph -> back all
night. What each trip allocates must be released when its screens close;
measured with tracemalloc after a collection (not RSS, not a timing), on the
real simulator's trace store. Issue 14, item 8; what Textual kept and why is
in tui/textual_leaks.py and tui/footer.py."""

from __future__ import annotations

import contextvars
import gc
import threading
import tracemalloc
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from bench.gen import generate
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import running_sim
from oncall_tui.sources.detect import read_traces
from oncall_tui.sources.native import NativeGateway, Options
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.graph_screen import GraphScreen
from oncall_tui.tui.loading import TracesListed
from oncall_tui.tui.textual_leaks import FreshContextExecutor, release_render_caches
from oncall_tui.tui.trace_screen import TraceScreen
from oncall_tui.tui.traces_screen import TracesScreen

WARM = 6  # trips before tracing: first-use imports, Textual's bounded caches fill
SETTLE = 2  # traced trips before the first reading (tracemalloc's own start)
MEASURED = 12
# Bytes the measured trips may keep in all. Measured after the fixes: under
# 10 KB (noise); before them 12 trips kept 3-7 MB (about 550 KB a trip at
# 100x30, levelling off only once Textual's 1,024-entry colour cache was full
# of dead widgets' lines) and a whole closed traces screen with its trace.
BOUND = 256 * 1024


@pytest.fixture
async def store():
    async with running_sim(scenarios=("tool-reentrancy",), warmup_s=120) as sim:
        gw = NativeGateway(
            Options(url=sim.url, token_env="T", timeout_s=5),
            PluginContext(environ={"T": sim.token}),
        )
        yield gw
        await gw.aclose()


async def _until(pilot, cond: Callable[[], object], tries: int = 500) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if cond():
            return
    raise AssertionError(f"condition never held on {pilot.app.screen!r}")


def _live(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


@pytest.mark.slow
async def test_trips_to_a_trace_and_its_graph_release_what_they_took(store) -> None:
    posted: list[object] = []
    app = OncallApp(store=store)

    def listed() -> int:
        return sum(isinstance(m, TracesListed) for m in posted)

    async def trip() -> None:
        before = listed()
        await pilot.press("t")
        await _until(pilot, lambda: listed() > before)
        await pilot.press("down", "enter")
        await _until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("g")
        await _until(pilot, lambda: isinstance(app.screen, GraphScreen))
        for back_to in (TraceScreen, TracesScreen):
            await pilot.press("escape")
            await _until(pilot, lambda kind=back_to: isinstance(app.screen, kind))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, TracesScreen))
        posted.clear()  # the test's own record of messages, not the app's

    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await _until(pilot, listed)
        await pilot.press("escape")  # to the base screen, under every trip
        for _ in range(WARM):
            await trip()
        gc.collect()
        keys = _live(FooterKey)
        tracemalloc.start()
        try:
            for _ in range(SETTLE):
                await trip()
            gc.collect()
            start, _ = tracemalloc.get_traced_memory()
            for _ in range(MEASURED):
                await trip()
            await pilot.pause(0.1)
            gc.collect()
            end, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert _live(TraceScreen) == 0, "a closed trace screen is kept"
        assert _live(TracesScreen) == 0, "a closed traces screen is kept"
        assert _live(FooterKey) <= keys, "footer keys of closed screens are kept"
        assert _live(StylesCache) <= _live(Widget), "closed widgets' rendered lines are kept"
    kept = end - start
    assert kept < BOUND, f"{kept / MEASURED / 1024:.0f} KB kept per trip"


def test_a_widgets_rendered_lines_go_with_it() -> None:
    assert release_render_caches(), "Textual changed: re-check tui/textual_leaks.py"
    cache = StylesCache()
    cache.get_inner_outer(Color(10, 20, 30), Color(40, 50, 60, 0.5))
    gone = weakref.ref(cache)
    del cache
    gc.collect()
    assert gone() is None


class _Held:
    """Stands for a worker and the screen it points to."""


def _set_and_forget(var: contextvars.ContextVar[_Held]) -> weakref.ref[_Held]:
    held = _Held()
    var.set(held)  # what Textual's run_callable does with active_worker
    return weakref.ref(held)


@pytest.mark.parametrize(
    ("executor_kind", "released"), [(FreshContextExecutor, True), (ThreadPoolExecutor, False)]
)
def test_what_a_thread_job_sets_goes_with_the_job(executor_kind, released: bool) -> None:
    # The stdlib pool is the control: it shows the test can see the retention.
    var: contextvars.ContextVar[_Held] = contextvars.ContextVar("held")
    with executor_kind(max_workers=1) as pool:
        first_thread = pool.submit(threading.get_ident).result()
        gone = pool.submit(_set_and_forget, var).result()
        gc.collect()
        assert (gone() is None) is released
        seen = pool.submit(var.get, None).result()
        assert (seen is None) is released
        assert pool.submit(threading.get_ident).result() == first_thread  # same idle thread


async def test_a_trace_closed_after_its_skew_toggle_is_released() -> None:
    # "s" re-analyses in a thread worker; the worker's idle thread used to keep
    # the whole trace screen (trace, analysis, rows) once the trace was closed.
    [trace] = read_traces(generate(300), source="test")
    app = OncallApp(trace=trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("s")
        await _until(pilot, lambda: all(w.is_finished for w in app.workers))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, TraceScreen))
        await pilot.pause(0.1)
        gc.collect()
        assert _live(TraceScreen) == 0
