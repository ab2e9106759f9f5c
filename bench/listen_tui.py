"""``python -m bench.listen_tui [--spans 100000]``: ``trace listen --tui``'s numbers.

The receiver, the live store and the real live screen (headless, 80x24, the
app's own ticker and bounded repaint) run in this process, as under
``oncall-tui trace listen --tui``; a separate process posts prebuilt
OTLP/HTTP requests one after the other, as one SDK's BatchSpanProcessor
does (512 spans a request, spans of 8 traces in flight interleaved, 64 spans
a trace, every 4th trace a tool reentrancy). Per encoding (protobuf, the SDK
default, and JSON):
- received: spans/s from the first request sent to the last span counted in;
- assembled: spans/s until every trace has settled and been analysed (the
  quiet period, ``--quiet-s``, subtracted: it is waiting, not work);
- repaints of the live screen and their rate (bounded at 4 Hz by design).
Goal (issue 15): at least 20,000 spans/s with the screen repainting.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

BATCH = 512  # the SDK's default max_export_batch_size
IN_FLIGHT = 8
PER_TRACE = 64
T0 = 1_700_000_000_000_000_000


def _kv(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _trace_spans(n: int) -> list[dict[str, Any]]:
    """One agent run of PER_TRACE spans, children ending (and so exported) first."""
    trace_id = f"{n + 1:032x}"
    base = T0 + n * 10_000_000_000
    spans: list[dict[str, Any]] = []

    def span(i: int, name: str, parent: int | None, depth: int, attrs: list[Any]) -> None:
        spans.append(
            {
                "traceId": trace_id,
                "spanId": f"{i + 1:016x}",
                **({"parentSpanId": f"{parent + 1:016x}"} if parent is not None else {}),
                "name": name,
                "kind": 1,
                "startTimeUnixNano": str(base + i * 1_000_000),
                "endTimeUnixNano": str(base + 5_000_000_000 - i * 1_000_000 - depth),
                "attributes": attrs,
            }
        )

    chat = [_kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "gpt-4o")]
    span(0, "invoke_agent support", None, 0, [_kv("gen_ai.operation.name", "invoke_agent")])
    reentrant = n % 4 == 0
    parent = 0
    for i in range(1, PER_TRACE):
        if i % 2:
            span(i, "chat gpt-4o", parent if reentrant else 0, i, chat)
        else:
            tool = "lookup" if reentrant else f"tool{i}"
            attrs = [_kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", tool)]
            span(i, f"execute_tool {tool}", i - 1 if reentrant else 0, i, attrs)
        if reentrant:
            parent = i
    return spans[::-1]


def _requests(n_spans: int) -> list[dict[str, Any]]:
    traces = max(1, n_spans // PER_TRACE)
    queues = [_trace_spans(n) for n in range(traces)]
    order: list[dict[str, Any]] = []
    for start in range(0, traces, IN_FLIGHT):
        group = queues[start : start + IN_FLIGHT]
        for i in range(PER_TRACE):
            order.extend(q[i] for q in group if i < len(q))
    resource = {"attributes": [_kv("service.name", "agent-app")]}
    return [
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": order[i : i + BATCH]}]}]}
        for i in range(0, len(order), BATCH)
    ]


def _protobuf(doc: dict[str, Any]) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    return json_format.ParseDict(doc, ExportTraceServiceRequest()).SerializeToString()


def _post(url: str, path: str, content_type: str) -> None:
    """The sender (its own process): every body, one after the other."""
    import httpx

    bodies = msgspec.msgpack.decode(Path(path).read_bytes(), type=list[bytes])
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            r = client.post(url, content=body, headers={"content-type": content_type})
            r.raise_for_status()


class _Poller:
    """The stand-in for the screen (``--no-screen``): what ``trace listen``
    without --tui does, a tick every 0.25 s in a thread."""

    repaints = 0

    def __init__(self, live: Any) -> None:
        import threading

        self.live = live
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            self.live.tick()


class _NoApp:
    async def pause(self, delay: float) -> None:
        await asyncio.sleep(delay)


async def one(
    encoding: str, n_spans: int, quiet_s: float, screen_on: bool = True
) -> dict[str, float]:
    from oncall_tui.cli.trace_store_cmd import listening
    from oncall_tui.tui.app import OncallApp
    from oncall_tui.tui.live_screen import LiveScreen

    docs = _requests(n_spans)
    total = sum(len(d["resourceSpans"][0]["scopeSpans"][0]["spans"]) for d in docs)
    traces = max(1, n_spans // PER_TRACE)
    if encoding == "protobuf":
        bodies, ctype = [_protobuf(d) for d in docs], "application/x-protobuf"
    else:
        bodies, ctype = [msgspec.json.encode(d) for d in docs], "application/json"
    with tempfile.NamedTemporaryFile(suffix=".msgpack") as f:
        f.write(msgspec.msgpack.encode(bodies))
        f.flush()
        args = argparse.Namespace(
            port=0,
            save=None,
            quiet_s=quiet_s,
            max_traces=traces + 10,
            max_spans=total + 10,
            max_body=64 << 20,
        )
        with listening(args) as (live, receiver):
            app = OncallApp(live=(live, receiver))
            async with contextlib.AsyncExitStack() as stack:
                if screen_on:
                    pilot: Any = await stack.enter_async_context(app.run_test(size=(80, 24)))
                    screen: Any = app.screen
                    assert isinstance(screen, LiveScreen)
                else:
                    pilot, screen = _NoApp(), _Poller(live)
                    stack.callback(screen.stop.set)
                repaints0 = screen.repaints
                argv = [sys.executable, "-m", "bench.listen_tui", "--post", receiver.url]
                sender = subprocess.Popen([*argv, f.name, ctype])
                start = time.perf_counter()
                received_s = 0.0
                while True:
                    await pilot.pause(0.01)
                    stats = live.stats()
                    if not received_s and stats.received_spans >= total:
                        received_s = time.perf_counter() - start
                    if received_s and stats.settled_traces >= traces and not stats.pending_traces:
                        break
                    if sender.poll() not in (None, 0):
                        raise SystemExit(f"the sender failed: {sender.returncode}")
                assembled_s = time.perf_counter() - start
                sender.wait()
                await pilot.pause(0.3)
                repaints = screen.repaints - repaints0
                run_s = time.perf_counter() - start
    return {
        "spans": total,
        "requests": len(bodies),
        "received_per_s": total / received_s,
        "assembled_per_s": total / max(assembled_s - quiet_s, 1e-9),
        "repaints": repaints,
        "repaints_per_s": repaints / run_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--quiet-s", type=float, default=0.5)
    parser.add_argument(
        "--no-screen", action="store_true", help="a ticker thread instead of the live screen"
    )
    parser.add_argument("--post", nargs=3, metavar=("URL", "FILE", "TYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.post:
        _post(*args.post)
        return
    head = ("encoding", "spans", "reqs", "recv/s", "assembled/s", "repaints")
    print("{:<9} {:>8} {:>5} {:>9} {:>11} {:>9}".format(*head))
    for encoding in ("protobuf", "json"):
        r = asyncio.run(one(encoding, args.spans, args.quiet_s, not args.no_screen))
        print(
            f"{encoding:<9} {r['spans']:>8,} {r['requests']:>5} {r['received_per_s']:>9,.0f} "
            f"{r['assembled_per_s']:>11,.0f} {r['repaints']:>4.0f} ({r['repaints_per_s']:.1f}/s)"
        )


if __name__ == "__main__":
    main()
