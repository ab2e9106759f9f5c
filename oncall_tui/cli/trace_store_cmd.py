"""``oncall-tui trace get|search|listen``: traces from the environment's
trace stores, and an OTLP/JSON receiver (registered into the ``trace`` group
by cli/trace_cmd.py's EXTRA_REGISTRARS).

Exit codes: 0 found (``search``: at least one row) or listened; 1 ``search``
found nothing (so a script can gate on it); 2 bad input or config; 3 the store
could not be reached, refused us, or has no such trace (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, environment, first_capable
from oncall_tui.cli.output import emit_json, say, table

if TYPE_CHECKING:
    from oncall_tui.core.models import Finding, Trace


def register(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get = cmds.add_parser("get", help="fetch one trace from a trace store and analyse it")
    get.add_argument("trace_id", metavar="ID")
    get.add_argument("--store", help="trace store name from the config (default: first able)")
    get.add_argument("--save", metavar="FILE", help="also write the trace as OTLP/JSON")
    add_json(get)
    get.set_defaults(func=_get)

    search = cmds.add_parser("search", help="list recent traces from a trace store")
    search.add_argument("--store", help="trace store name from the config (default: first able)")
    search.add_argument("--service", help="only traces of this service")
    search.add_argument("--operation", help="only traces with this span name")
    search.add_argument("--errors", action="store_true", help="only traces with errors")
    search.add_argument("--route", help="only traces of this gateway route")
    search.add_argument(
        "--finding",
        metavar="KIND",
        help="only traces with a finding of this kind (part of it is enough: cycle); "
        "fetches and analyses each trace the search returns",
    )
    search.add_argument("--limit", type=int, default=20, help="at most N traces (default 20)")
    search.add_argument("--since", type=float, default=3600, help="look back S seconds")
    add_json(search)
    search.set_defaults(func=_search)

    listen = cmds.add_parser(
        "listen",
        help="receive OTLP/JSON at http://127.0.0.1:PORT/v1/traces and print each trace",
    )
    listen.add_argument("--port", type=int, default=4318, help="port (default 4318; 0: any)")
    listen.add_argument("--save", metavar="FILE", help="append each request body (JSON lines)")
    listen.add_argument("--count", type=int, default=0, help="stop after N traces (0: never)")
    listen.add_argument("--seconds", type=float, default=0, help="stop after S s (0: never)")
    add_json(listen)
    listen.set_defaults(func=_listen)


def _store(args: argparse.Namespace, capability: Any, what: str) -> tuple[str, Any]:
    _, _, env = environment(args)
    return first_capable(env, "trace_stores", capability, what, args.store)


async def _closing(adapter: Any, call: Any) -> Any:
    try:
        return await call
    finally:
        if hasattr(adapter, "aclose"):
            await adapter.aclose()


def _get(args: argparse.Namespace) -> int:
    from oncall_tui.cli.trace_cmd import _print_analysis
    from oncall_tui.core.analysis import analyze
    from oncall_tui.sources.capabilities import TraceStore

    name, store = _store(args, TraceStore, "fetch a trace")
    trace = asyncio.run(_closing(store, store.get_trace(args.trace_id)))
    if args.save:
        import msgspec

        from oncall_tui.core.otlp_write import traces_data

        Path(args.save).write_bytes(msgspec.json.encode(traces_data(trace.spans)))
    analysis = analyze(trace)
    if args.json:
        emit_json({"store": name, "trace": trace, "analysis": analysis})
    else:
        say(f"from {name} ({trace.source})")
        _print_analysis(analysis)
    return exit_codes.OK


def _search(args: argparse.Namespace) -> int:
    from oncall_tui.core.text import inert, truncate
    from oncall_tui.sources.capabilities import TraceQuery, TraceSearch, TraceStore

    name, store = _store(args, TraceSearch, "search traces")
    now = time.time_ns()
    query = TraceQuery(
        service=args.service,
        operation=args.operation,
        errors_only=args.errors,
        route=args.route,
        limit=max(1, args.limit),
        start_ns=now - int(args.since * 1e9),
        end_ns=now,
    )
    rows = asyncio.run(_closing(store, store.search(query)))
    if args.route:
        # Stores that cannot filter by route return every trace: drop those
        # whose root names another route (a row with no route is kept).
        rows = [r for r in rows if r.route is None or r.route == args.route]
    matched: dict[str, Finding] = {}
    if args.finding:
        _, _, env = environment(args)
        _, getter = first_capable(env, "trace_stores", TraceStore, "fetch traces", name)
        matched = asyncio.run(_closing(getter, _with_finding(getter, rows, args.finding)))
        rows = [r for r in rows if r.trace_id in matched]
    if args.json:
        doc: dict[str, object] = {"store": name, "query": query, "traces": rows}
        if args.finding:
            doc["findings"] = matched
        emit_json(doc)
    elif args.finding:
        table(
            [
                [
                    r.trace_id,
                    inert(r.root_name or "-", single_line=True),
                    matched[r.trace_id].severity,
                    truncate(inert(matched[r.trace_id].summary, single_line=True), 60),
                ]
                for r in rows
            ],
            ["TRACE", "ROOT", "SEVERITY", "FINDING"],
        )
    else:
        table(
            [
                [
                    r.trace_id,
                    inert(r.service or "-", single_line=True),
                    inert(r.root_name or "-", single_line=True),
                    "-" if r.span_count is None else str(r.span_count),
                    "-" if r.error_count is None else str(r.error_count),
                    "-" if r.duration_ns is None else f"{r.duration_ns / 1e6:.1f}",
                ]
                for r in rows
            ],
            ["TRACE", "SERVICE", "ROOT", "SPANS", "ERRORS", "MS"],
        )
    return exit_codes.OK if rows else exit_codes.PROBLEM


async def _with_finding(store: Any, rows: list[Any], wanted: str) -> dict[str, Finding]:
    """Fetch each listed trace (one at a time: a search is at most --limit
    rows), stitch those split by lost thread context (a cycle can cross
    them), and keep the most severe finding whose kind matches; a finding of
    a stitched trace counts for every trace id in it."""
    from oncall_tui.core.analysis import analyze, matching_finding
    from oncall_tui.core.stitch import stitch

    fetched = [await store.get_trace(row.trace_id) for row in rows]
    out: dict[str, Finding] = {}
    for trace in stitch(fetched):
        hit = matching_finding(analyze(trace), wanted)
        if hit is not None:
            for tid in (trace.trace_id, *trace.linked_trace_ids):
                out[tid] = hit
    return out


class ListenSession:
    """What ``trace listen`` has received so far, per trace id.

    Exporters send a trace in many requests (a batch per flush, a span per
    request with SimpleSpanProcessor): each request's pieces are joined to
    what came before, so a line reports the trace as received so far, says
    it was updated, and says ``partial`` while parents are still missing.
    Traces split by lost thread context are stitched over the session. The
    oldest traces are forgotten past ``keep`` (a session can run for hours).
    """

    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self.traces: dict[str, Trace] = {}
        self.requests: dict[str, int] = {}

    def add(self, traces: list[Trace]) -> list[tuple[Trace, int, str | None]]:
        """(the trace so far, requests it came in, id of the trace it ran
        inside or None) for each trace of one request."""
        from oncall_tui.core.assemble import merge_fragments
        from oncall_tui.core.stitch import stitch

        touched: list[str] = []
        for trace in traces:
            tid = trace.trace_id
            before = self.traces.pop(tid, None)
            self.traces[tid] = merge_fragments([before, trace])[0] if before else trace
            self.requests[tid] = self.requests.get(tid, 0) + 1
            if tid not in touched:
                touched.append(tid)
        while len(self.traces) > self.keep:
            oldest = next(iter(self.traces))
            del self.traces[oldest]
            del self.requests[oldest]
        outer_of: dict[str, Trace] = {}
        for t in stitch(list(self.traces.values())):
            outer_of[t.trace_id] = t
            for inner in t.linked_trace_ids:
                outer_of[inner] = t
        out: list[tuple[Trace, int, str | None]] = []
        for tid in touched:
            if tid not in self.traces:
                continue
            outer = outer_of.get(tid)
            if outer is not None and outer.trace_id != tid:
                out.append((self.traces[tid], self.requests[tid], outer.trace_id))
            else:
                out.append((outer or self.traces[tid], self.requests[tid], None))
        return out


def _save_line(body: bytes) -> bytes:
    """A request body as JSON lines: one compact line per document, so the
    saved file is itself a trace file ``trace analyze`` reads."""
    import msgspec

    try:
        return msgspec.json.encode(msgspec.json.decode(body)) + b"\n"
    except msgspec.DecodeError:
        # The body was JSON lines already (read_traces accepted it).
        return b"".join(
            msgspec.json.encode(msgspec.json.decode(line)) + b"\n"
            for line in body.splitlines()
            if line.strip()
        )


def _listen(args: argparse.Namespace) -> int:
    from oncall_tui.core.summary import summarize
    from oncall_tui.core.text import inert
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

    lock = threading.Lock()
    done = threading.Event()
    seen = [0]
    session = ListenSession()
    save = Path(args.save).open("ab") if args.save else None  # noqa: SIM115 (closed below)

    def on_traces(traces: list[Any], body: bytes) -> None:
        with lock:
            if save is not None:
                save.write(_save_line(body))
                save.flush()
            for trace, requests, inside in session.add(traces):
                s = summarize(trace)
                seen[0] += 1
                if args.json:
                    emit_json(
                        {
                            **msgspec.structs.asdict(s),
                            "requests": requests,
                            "completeness": trace.completeness,
                            "completeness_reason": trace.completeness_reason,
                            "inside_trace_id": inside,
                            "linked_trace_ids": trace.linked_trace_ids,
                        }
                    )
                    continue
                line = (
                    f"trace {s.trace_id}  {s.span_count} spans  {s.error_count} errors  "
                    f"{(s.duration_ns or 0) / 1e6:.1f} ms  "
                    f"{inert(s.service or '-', single_line=True)}: "
                    f"{inert(s.root_name or '-', single_line=True)}"
                )
                if requests > 1:
                    line += f"  (updated: {requests} requests so far)"
                if trace.completeness != "complete":
                    why = inert(trace.completeness_reason or "", single_line=True)
                    line += f"  {trace.completeness.upper()} so far: {why}"
                if inside:
                    line += f"  inside trace {inside} (context lost across threads)"
                elif trace.linked_trace_ids:
                    line += f"  linked: {', '.join(trace.linked_trace_ids)}"
                say(line)
            if args.count and seen[0] >= args.count:
                done.set()

    receiver = OtlpReceiver(on_traces, port=args.port)
    receiver.start()
    if not args.json:
        say(f"listening on {receiver.url} (OTLP/JSON); Ctrl-C stops")
    try:
        done.wait(args.seconds or None)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.close()
        if save is not None:
            save.close()
    return exit_codes.OK
