"""``python -m bench.listen_tui [--spans 100000] [--connections 4]``: ``trace
listen --tui``'s numbers, with the real live screen instead of bench/listen.py's
stand-in.

The same input and client as ``bench.listen`` (pre-encoded batches of 512
spans posted from another process over keep-alive connections), but the
listener process runs what ``oncall-tui trace listen --tui`` runs: the
receiver, the store and the console with its live screen (headless, 80x24,
``App.run_test``), which owns the ticker (settling and analysis in a thread
worker) and repaints at most 4 times a second, only when the store moved.
Printed per encoding: spans/s received (the client's view), spans/s
assembled (until every trace settled and was analysed, the quiet period
taken off), spans per CPU-second of the listener process, and the screen's
repaints over the run against the goal of 20,000 spans/s (issue 15).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from typing import Any

from bench.listen import BATCH, GOAL, QUIET_S, _post_all, make_batches


def _post_when_told(go: Any, url: str, bodies: list[bytes], ctype: str, n: int, out: Any) -> None:
    """The client process, started before the console (Textual holds the
    terminal's file descriptors, which a spawn then cannot pass on)."""
    go.recv()
    _post_all(url, bodies, ctype, n, out)


async def one(
    bodies: list[bytes], ctype: str, spans: int, traces: int, connections: int
) -> dict[str, Any]:
    from oncall_tui.sources.live_traces import LiveTraces
    from oncall_tui.sources.otlp_receiver import OtlpReceiver
    from oncall_tui.tui.app import OncallApp
    from oncall_tui.tui.live_list import LiveList
    from oncall_tui.tui.live_screen import LiveScreen

    live = LiveTraces(quiet_s=QUIET_S, max_traces=traces + 10, max_spans=spans + 10)
    receiver = OtlpReceiver(lambda got, _lines: live.add(got), port=0, keep_lines=False)
    receiver.start()
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    go, wait = ctx.Pipe()
    client = ctx.Process(
        target=_post_when_told, args=(wait, receiver.url, bodies, ctype, connections, theirs)
    )
    client.start()
    app = OncallApp(live=(live, receiver))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, LiveScreen)
            await pilot.pause(0.3)
            repaints = screen.repaints
            start = time.perf_counter()
            cpu = time.process_time()
            go.send(True)
            settled_at = 0.0
            while time.perf_counter() - start < 600:
                await pilot.pause(0.05)
                stats = live.stats()
                if stats.received_spans >= spans and not stats.pending_traces:
                    settled_at = time.perf_counter()
                    break
            sent_s, failures = await asyncio.to_thread(mine.recv)
            client.join()
            cpu_s = time.process_time() - cpu
            await pilot.pause(0.3)  # the last repaint
            repaints = screen.repaints - repaints
            run_s = time.perf_counter() - start
            shown = len(screen.query_one("#live", LiveList).rows)
    finally:
        receiver.close()
    stats = live.stats()
    return {
        "spans": stats.received_spans,
        "failures": failures,
        "traces": stats.settled_traces,
        "received_per_s": spans / sent_s,
        "assembled_per_s": spans / max(settled_at - start - QUIET_S, 1e-9),
        "per_cpu_s": spans / max(cpu_s, 1e-9),
        "repaints": repaints,
        "repaints_per_s": repaints / run_s,
        "rows": shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.listen_tui")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    pb, js, spans, traces = make_batches(args.spans)
    print(
        f"{spans} spans in {traces} traces, {len(pb)} requests of <= {BATCH} spans, "
        f"{args.connections} connections, the live screen at 80x24; goal {GOAL} spans/s"
    )
    head = ("encoding", "received/s", "assembled/s", "per CPU s", "traces", "repaints", "failed")
    print("{:>9} {:>11} {:>12} {:>10} {:>7} {:>14} {:>7}".format(*head))
    for name, bodies, ctype in (
        ("protobuf", pb, "application/x-protobuf"),
        ("json", js, "application/json"),
    ):
        r = asyncio.run(one(bodies, ctype, spans, traces, args.connections))
        paints = f"{r['repaints']} ({r['repaints_per_s']:.1f}/s)"
        print(
            f"{name:>9} {r['received_per_s']:>11,.0f} {r['assembled_per_s']:>12,.0f} "
            f"{r['per_cpu_s']:>10,.0f} {r['traces']:>7} {paints:>14} {r['failures']:>7}"
        )


if __name__ == "__main__":
    main()
