"""``python -m bench [--sizes 10000,100000,1000000]``: the trace engine's numbers.

For each size, in a fresh subprocess (so peak memory is that size's alone):
- decode floor: msgspec decoding the file into the typed OTLP wire Structs,
  the least any reader of this file can do;
- two bounds on what interpreted Python adds to the floor, for scale:
  touch (visit every span and attribute once, doing nothing) and edges (the
  bare call-graph edge counts, with no analysis at all);
- analyze: what ``oncall-tui trace analyze`` does (read + normalise + quality
  + graph + cycles + findings);
then their ratio, the per-span cost, and the slope of per-span cost from the
smallest to the largest size (1.0 = perfectly linear). Targets (issue 3):
analyze <= 1.5x the decode floor at 100k spans; slope <= 1.1.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _stdlib_walk(data: bytes) -> int:
    """What a hand-written reader costs before any analysis: json.loads, then a
    walk that normalises ids and times and flattens attributes into dicts."""
    doc = json.loads(data)
    count = 0
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                attrs = {kv["key"]: next(iter(kv["value"].values())) for kv in s["attributes"]}
                _ = (s["traceId"].lower(), s["spanId"].lower(), int(s["startTimeUnixNano"]), attrs)
                count += 1
    return count


def _touch(data: bytes) -> int:
    """The typed decode plus one interpreted loop that reads each span's ids and
    times and each attribute's key and value once, and does nothing with them:
    the least any analysis written in Python adds to the floor."""
    from oncall_tui.core import otlp

    doc = otlp._DECODER.decode(data)
    count = 0
    for rs in doc.resource_spans:
        for ss in rs.scope_spans:
            for w in ss.spans:
                _ = (w.trace_id, w.span_id, w.parent_span_id, w.start_time_unix_nano)
                for kv in w.attributes:
                    _ = (kv.key, kv.value)
                count += 1
    return count


def _edges_only(data: bytes) -> int:
    """The least an interpreted call graph costs: the typed decode, then id,
    parent and time columns (C-level ``map``), one loop that picks each span's
    node key from its attribute names (cached per key set, like the real
    reader), and the parent->child node edge counts. No Span objects, no
    GenAI view, no quality pass, no cycles, no findings, no evidence."""
    from collections import Counter
    from operator import attrgetter

    from oncall_tui.core import otlp

    key_of = attrgetter("key")
    plans: dict[tuple[str, ...], tuple[str, int | None]] = {}

    def plan(keys: tuple[str, ...]) -> tuple[str, int | None]:
        at = {k: i for i, k in enumerate(keys)}
        for name, kind in (
            ("gen_ai.tool.name", "tool"),
            ("gen_ai.request.model", "model"),
            ("gen_ai.agent.name", "agent"),
        ):
            if name in at:
                return kind, at[name]
        return "span", None

    edges: Counter[tuple[object, object]] = Counter()
    doc = otlp._DECODER.decode(data)
    for rs in doc.resource_spans:
        for ss in rs.scope_spans:
            spans = ss.spans
            ids = list(map(attrgetter("span_id"), spans))
            parents = list(map(attrgetter("parent_span_id"), spans))
            _ = list(map(int, map(attrgetter("start_time_unix_nano"), spans)))
            _ = list(map(int, map(attrgetter("end_time_unix_nano"), spans)))
            nodes: list[object] = []
            for attrs in map(attrgetter("attributes"), spans):
                keys = tuple(map(key_of, attrs))
                hit = plans.get(keys)
                if hit is None:
                    hit = plans[keys] = plan(keys)
                kind, i = hit
                nodes.append((kind, attrs[i].value.string_value) if i is not None else kind)
            index = dict(zip(ids, range(len(ids)), strict=True))
            up = [None if p is None else nodes[p] for p in map(index.get, parents)]
            edges.update(zip(up, nodes, strict=True))
    return len(edges)


def one(n: int) -> dict[str, float]:
    from bench.gen import generate
    from oncall_tui.core import otlp
    from oncall_tui.core.analysis import analyze
    from oncall_tui.sources.detect import read_traces

    data = generate(n)
    floor = min(_time(lambda: otlp._DECODER.decode(data)) for _ in range(3 if n <= 100_000 else 1))
    stdlib = _time(lambda: _stdlib_walk(data))
    touch = min(_time(lambda: _touch(data)) for _ in range(3 if n <= 100_000 else 1))
    edges = min(_time(lambda: _edges_only(data)) for _ in range(3 if n <= 100_000 else 1))
    best = float("inf")
    cycles = 0
    for _ in range(3 if n <= 100_000 else 1):
        start = time.perf_counter()
        [trace] = read_traces(data, source="bench")
        result = analyze(trace)
        best = min(best, time.perf_counter() - start)
        cycles = len(result.cycles)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "spans": n,
        "bytes": len(data),
        "floor_s": floor,
        "stdlib_s": stdlib,
        "touch_s": touch,
        "edges_s": edges,
        "analyze_s": best,
        "ratio": best / floor,
        "per_span_us": best / n * 1e6,
        "peak_rss_mb": rss_mb,
        "cycles": cycles,
    }


def _time(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "--one", str(n)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
        rows.append(json.loads(proc.stdout))
    print(
        f"{'spans':>9} {'MB':>7} {'floor s':>8} {'touch s':>8} {'edges s':>8} {'stdlib s':>8} "
        f"{'analyze s':>9} "
        f"{'ratio':>6} "
        f"{'µs/span':>8} {'spans/s':>9} {'peak MB':>8}"
    )
    for r in rows:
        print(
            f"{r['spans']:>9} {r['bytes'] / 1e6:>7.1f} {r['floor_s']:>8.3f} {r['touch_s']:>8.3f} "
            f"{r['edges_s']:>8.3f} "
            f"{r['stdlib_s']:>8.3f} "
            f"{r['analyze_s']:>9.3f} {r['ratio']:>6.2f} {r['per_span_us']:>8.2f} "
            f"{r['spans'] / r['analyze_s']:>9.0f} {r['peak_rss_mb']:>8.0f}"
        )
    if len(rows) > 1:
        slope = rows[-1]["per_span_us"] / rows[0]["per_span_us"]
        print(
            f"per-span cost slope {rows[0]['spans']} -> {rows[-1]['spans']}: "
            f"{slope:.2f} (target <= 1.1)"
        )
    at_100k = [r for r in rows if r["spans"] == 100_000]
    if at_100k:
        r = at_100k[0]
        print(f"analyze / decode floor at 100k spans: {r['ratio']:.2f}x (target <= 1.5x)")
        print(
            "decode + one bare Python visit of every span and attribute / floor at 100k: "
            f"{r['touch_s'] / r['floor_s']:.2f}x"
        )
        print(
            "decode + the bare call-graph edge counts in Python (no analysis) / floor "
            f"at 100k: {r['edges_s'] / r['floor_s']:.2f}x"
        )
        print(
            "stdlib json.loads + dict walk (no analysis) / full analyze at 100k: "
            f"{r['stdlib_s'] / r['analyze_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
