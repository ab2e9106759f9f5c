"""``python -m bench.tui_memory [--cycles 42] [--idle 30]``: the console's memory under navigation.

Drives the console headless (Textual's pilot) against the simulator's trace
store, in this process, the way issue 14 (item 8) measured it: ``t`` (the
traces list), ``enter`` on a trace, ``g`` (its call graph), then escape back
to the base screen, ``--cycles`` times. Prints RSS at the start, every
``--every`` cycles (with the memory tracemalloc sees allocated since the
first cycle, after a collection, when ``--traced``), after the last cycle,
and after ``--idle`` seconds of doing nothing. A bounded cache levels off;
a leak keeps climbing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def until(pilot: Any, cond: Callable[[], object], tries: int = 500) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if cond():
            return
    raise AssertionError(f"condition never held on {pilot.app.screen!r}")


def trip_driver(app: Any, pilot: Any, posted: list[object]) -> Callable[[], Awaitable[None]]:
    """One trip from the base screen: traces -> trace -> graph -> back to the base.

    ``posted`` is the run's message hook list (the messages the app saw).
    """
    from oncall_tui.tui.loading import TracesListed
    from oncall_tui.tui.trace_screen import TraceScreen
    from oncall_tui.tui.traces_screen import TracesScreen

    def listed() -> int:
        return sum(isinstance(m, TracesListed) for m in posted)

    async def trip() -> None:
        before = listed()
        await pilot.press("t")
        await until(pilot, lambda: listed() > before)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("g")
        await until(pilot, lambda: not isinstance(app.screen, TraceScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TracesScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TracesScreen))
        posted.clear()  # the run's own record of messages, not the app's

    return trip


async def run(cycles: int, every: int, idle: float, size: tuple[int, int], traced: bool) -> None:
    from oncall_tui.plugins import PluginContext
    from oncall_tui.sim.server import running_sim
    from oncall_tui.sources.native import NativeGateway, Options
    from oncall_tui.tui.app import OncallApp
    from oncall_tui.tui.loading import TracesListed

    async with running_sim(scenarios=("tool-reentrancy",), warmup_s=120) as sim:
        gw = NativeGateway(
            Options(url=sim.url, token_env="T", timeout_s=5),
            PluginContext(environ={"T": sim.token}),
        )
        posted: list[object] = []
        app = OncallApp(store=gw)
        async with app.run_test(size=size, message_hook=posted.append) as pilot:
            await until(pilot, lambda: any(isinstance(m, TracesListed) for m in posted))
            print(f"start (traces list up): RSS {rss_mb():.1f} MB", flush=True)
            await pilot.press("escape")
            trip = trip_driver(app, pilot, posted)
            if traced:
                tracemalloc.start()
            gc.collect()
            base = tracemalloc.get_traced_memory()[0] if traced else 0
            started = time.perf_counter()
            for n in range(1, cycles + 1):
                await trip()
                if n % every == 0 or n == cycles:
                    line = f"cycle {n:3}: RSS {rss_mb():.1f} MB"
                    if traced:
                        gc.collect()
                        kept = (tracemalloc.get_traced_memory()[0] - base) / 1024
                        line += f"  traced since cycle 0 {kept:,.0f} KB"
                    print(line, flush=True)
            spent = time.perf_counter() - started
            print(f"{cycles} cycles in {spent:.0f} s", flush=True)
            await asyncio.sleep(idle)  # the app idles; Python collects as it would
            print(f"after {idle:.0f} s idle: RSS {rss_mb():.1f} MB", flush=True)
        await gw.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=42)
    parser.add_argument("--every", type=int, default=6, help="print every N cycles")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds idle at the end")
    parser.add_argument("--size", default="80x24", help="terminal COLSxROWS")
    parser.add_argument("--traced", action="store_true", help="also tracemalloc (slower)")
    args = parser.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    asyncio.run(run(args.cycles, args.every, args.idle, (cols, rows), args.traced))


if __name__ == "__main__":
    main()
