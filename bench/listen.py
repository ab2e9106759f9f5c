"""``python -m bench.listen [--spans 100000] [--connections 4]``: what ``trace
listen`` takes per second.

The receiver and the live store run here as ``trace listen`` runs them
(cli/trace_store_cmd.listening: OtlpReceiver -> LiveTraces), with a consumer
standing in for the live screen: it ticks the store (settling, stitching,
analysing) 4 times a second and reads ``version`` / ``entries()`` at 10 Hz,
repainting only when the version moved. A client in another process posts
pre-encoded batches over loopback from several keep-alive connections, as a
fleet of BatchSpanProcessors would (512 spans a batch, the SDK default), for
protobuf and then JSON. Agent traces of ~50 spans (bench/gen.py's shape, a
reentrancy cycle in some), started a few milliseconds apart so several run at
once, spread over batches the way spans end.

Printed, per encoding, measured in this run: spans/s received (client's
view: all answered 200), spans/s assembled (until every trace settled and
was analysed, the quiet period taken off), spans per CPU-second of the
listener process (the same work, but blind to other load on a shared
machine), and each against the goal of 20,000 spans/s (issue 15).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec

GOAL = 20_000
BATCH = 512
SPANS_PER_TRACE = 110
QUIET_S = 0.5


def make_batches(n_spans: int) -> tuple[list[bytes], list[bytes], int, int]:
    """(protobuf bodies, JSON bodies, spans, traces): pre-encoded requests."""
    from bench.gen import generate

    spans: list[dict[str, Any]] = []
    resource: dict[str, Any] = {}
    traces = 0
    while len(spans) < n_spans:
        doc = msgspec.json.decode(generate(SPANS_PER_TRACE, seed=traces + 1))
        rs = doc["resourceSpans"][0]
        resource = rs["resource"]
        shift = traces * 20_000_000  # a new run every 20 ms; each lasts ~100 ms
        for span in rs["scopeSpans"][0]["spans"]:
            for key in ("startTimeUnixNano", "endTimeUnixNano"):
                span[key] = str(int(span[key]) + shift)
            spans.append(span)
        traces += 1
    spans.sort(key=lambda s: int(s["endTimeUnixNano"]))  # exported as they end
    json_bodies: list[bytes] = []
    pb_bodies: list[bytes] = []
    for i in range(0, len(spans), BATCH):
        doc = {
            "resourceSpans": [
                {"resource": resource, "scopeSpans": [{"spans": spans[i : i + BATCH]}]}
            ]
        }
        json_bodies.append(msgspec.json.encode(doc))
        pb_bodies.append(_protobuf(doc))
    return pb_bodies, json_bodies, len(spans), traces


def _protobuf(doc: dict[str, Any]) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    doc = msgspec.json.decode(msgspec.json.encode(doc))
    for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if span.get(key):
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(doc, ExportTraceServiceRequest()).SerializeToString()


def _post_all(url: str, bodies: list[bytes], ctype: str, connections: int, out: Any) -> None:
    """Client process: post every body over ``connections`` keep-alive
    connections; report (seconds, failures)."""
    parts = urlsplit(url)
    failures = [0]
    lock = threading.Lock()

    def worker(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        for body in mine:
            conn.request("POST", parts.path, body, {"Content-Type": ctype})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                with lock:
                    failures[0] += 1
        conn.close()

    threads = [
        threading.Thread(target=worker, args=(bodies[i::connections],)) for i in range(connections)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send((time.perf_counter() - start, failures[0]))


def one(
    bodies: list[bytes], ctype: str, spans: int, traces: int, connections: int
) -> dict[str, Any]:
    from oncall_tui.sources.live_traces import LiveTraces
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

    live = LiveTraces(quiet_s=QUIET_S, max_traces=traces + 10, max_spans=spans + 10)
    receiver = OtlpReceiver(lambda got, _lines: live.add(got), port=0, keep_lines=False)
    receiver.start()
    stop = threading.Event()
    repaints = [0]
    settled = [0]
    last_settle = [0.0]

    def screen() -> None:
        # What the live screen does: tick a few times a second, repaint at
        # most 10 times a second and only when something changed.
        seen = -1
        next_tick = 0.0
        while not stop.is_set():
            now = time.perf_counter()
            if now >= next_tick:
                got = live.tick()
                if got:
                    settled[0] += sum(1 for e in got if e.updates == 0)
                    last_settle[0] = time.perf_counter()
                next_tick = now + 0.25
            if live.version != seen:
                seen = live.version
                live.entries()
                repaints[0] += 1
            time.sleep(0.1)

    consumer = threading.Thread(target=screen, daemon=True)
    consumer.start()
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    client = ctx.Process(target=_post_all, args=(receiver.url, bodies, ctype, connections, theirs))
    start = time.perf_counter()
    cpu = time.process_time()
    client.start()
    sent_s, failures = mine.recv()
    client.join()
    while settled[0] < traces and time.perf_counter() - start < 600:
        time.sleep(0.05)
    cpu_s = time.process_time() - cpu
    stop.set()
    consumer.join()
    receiver.close()
    stats = live.stats()
    assembled_s = last_settle[0] - start - QUIET_S
    return {
        "spans": stats.received_spans,
        "requests": stats.received_requests,
        "failures": failures,
        "traces": settled[0],
        "received_per_s": spans / sent_s,
        "assembled_per_s": spans / max(assembled_s, 1e-9),
        # The listener's own CPU time (receive, decode, assemble, analyse,
        # repaint reads), whatever else the machine is doing.
        "per_cpu_s": spans / max(cpu_s, 1e-9),
        "repaints": repaints[0],
        "cycles": sum(1 for e in live.entries() if e.analysis.cycles),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.listen")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    pb, js, spans, traces = make_batches(args.spans)
    print(
        f"{spans} spans in {traces} traces, {len(pb)} requests of <= {BATCH} spans, "
        f"{args.connections} connections; goal {GOAL} spans/s"
    )
    print(
        f"{'encoding':>9} {'received/s':>11} {'x goal':>7} {'assembled/s':>12} {'x goal':>7}"
        f" {'per CPU s':>10} {'x goal':>7} {'traces':>7} {'cycles':>7} {'repaints':>9}"
        f" {'failed':>7}"
    )
    for name, bodies, ctype in (
        ("protobuf", pb, "application/x-protobuf"),
        ("json", js, "application/json"),
    ):
        r = one(bodies, ctype, spans, traces, args.connections)
        print(
            f"{name:>9} {r['received_per_s']:>11.0f} {r['received_per_s'] / GOAL:>7.2f}"
            f" {r['assembled_per_s']:>12.0f} {r['assembled_per_s'] / GOAL:>7.2f}"
            f" {r['per_cpu_s']:>10.0f} {r['per_cpu_s'] / GOAL:>7.2f}"
            f" {r['traces']:>7} {r['cycles']:>7} {r['repaints']:>9} {r['failures']:>7}",
            flush=True,
        )


if __name__ == "__main__":
    main()
