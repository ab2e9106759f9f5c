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
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, environment, first_capable
from oncall_tui.cli.output import emit_json, json_bytes, say, table
from oncall_tui.errors import UsageError

if TYPE_CHECKING:
    from oncall_tui.core.assemble import EventBatch
    from oncall_tui.core.models import Finding, Trace
    from oncall_tui.sources.live_traces import LiveEntry, LiveStats, LiveTraces
    from oncall_tui.sources.otlp_receiver import OtlpReceiver

# The defaults of sources/live_traces.py and sources/otlp_receiver.py,
# repeated so that building the parser (--help) imports neither: the analysis
# engine behind them costs ~60 ms. tests/unit/test_otlp_receiver.py keeps
# them equal.
DEFAULT_QUIET_S = 2.0
DEFAULT_MAX_TRACES = 1000
DEFAULT_MAX_SPANS = 250_000
MAX_BODY = 64 * 1024 * 1024


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
        help="receive OTLP/HTTP (protobuf or JSON) at http://127.0.0.1:PORT/v1/traces "
        "and print each trace once it settles",
        description="Point an app's OTLP exporter at it "
        "(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318). Spans of a trace are "
        "joined across requests; a trace is analysed and printed once nothing has "
        "arrived for it for --quiet-s, and printed again, marked updated, when late "
        "spans reopen it.",
    )
    listen.add_argument(
        "--port", type=int, default=4318, metavar="N", help="port (default 4318; 0: any)"
    )
    listen.add_argument("--save", metavar="FILE", help="append what is received as OTLP/JSON lines")
    listen.add_argument(
        "--count", type=int, default=0, metavar="N", help="stop after N traces shown (0: never)"
    )
    listen.add_argument(
        "--seconds", type=float, default=0, metavar="S", help="stop after S s (0: never)"
    )
    listen.add_argument(
        "--quiet-s",
        type=float,
        metavar="S",
        default=DEFAULT_QUIET_S,
        help=f"a trace settles after S s with no new spans (default {DEFAULT_QUIET_S:g})",
    )
    listen.add_argument(
        "--max-traces",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_TRACES,
        help=f"hold at most N traces; the quietest go first (default {DEFAULT_MAX_TRACES})",
    )
    listen.add_argument(
        "--max-spans",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_SPANS,
        help=f"hold at most N spans in all (default {DEFAULT_MAX_SPANS})",
    )
    listen.add_argument(
        "--max-body",
        type=int,
        default=MAX_BODY,
        metavar="BYTES",
        help=f"refuse a request body over BYTES with 413 (default {MAX_BODY})",
    )
    listen.add_argument(
        "--tui",
        action="store_true",
        help="watch the traces in the console as they settle (newest first; enter opens one)",
    )
    listen.add_argument(
        "--json", action="store_true", help="one JSON object per trace, a line each (docs/cli.md)"
    )
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


@contextlib.contextmanager
def listening(args: argparse.Namespace) -> Iterator[tuple[LiveTraces, OtlpReceiver]]:
    """The live store and a started receiver feeding it (and ``--save``),
    built from ``trace listen``'s arguments; both closed on exit. The one
    place the listen wiring lives, for the printer here and the live screen."""
    from oncall_tui.sources.live_traces import LiveTraces
    from oncall_tui.sources.otlp_receiver import (
        OtlpReceiver,
        protobuf_missing,
        protobuf_readable,
    )

    if not protobuf_readable():
        # SDKs send protobuf by default: say so before the first 415.
        sys.stderr.write(f"oncall-tui: warning: {protobuf_missing()}\n")
    if args.quiet_s < 0 or args.max_traces < 1 or args.max_spans < 1 or args.max_body < 1:
        raise UsageError("--quiet-s must be >= 0; --max-traces, --max-spans, --max-body >= 1")
    live = LiveTraces(quiet_s=args.quiet_s, max_traces=args.max_traces, max_spans=args.max_spans)
    save = Path(args.save).open("ab") if args.save else None  # noqa: SIM115 (closed below)
    save_lock = threading.Lock()

    def keep(lines: bytes) -> None:
        if save is not None and lines:
            with save_lock:
                save.write(lines)
                save.flush()

    def on_traces(traces: list[Trace], lines: bytes) -> None:
        keep(lines)
        live.add(traces)

    def on_events(batch: EventBatch, lines: bytes) -> None:
        keep(lines)  # `trace analyze FILE` attaches them as the live view did
        live.add_events(batch)

    try:
        receiver = OtlpReceiver(
            on_traces,
            port=args.port,
            max_body=args.max_body,
            keep_lines=save is not None,
            on_events=on_events,
        )
    except OSError as exc:
        if save is not None:
            save.close()
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    receiver.start()
    try:
        yield live, receiver
    finally:
        receiver.close()
        if save is not None:
            save.close()


def _listen(args: argparse.Namespace) -> int:
    if getattr(args, "tui", False):
        return _listen_tui(args)
    with listening(args) as (live, receiver):
        # With --json, stdout is only trace objects: the address goes to stderr.
        say(
            f"listening on {receiver.url} (OTLP/HTTP protobuf or JSON; span events "
            f"sent as logs at /v1/logs); a trace is shown {args.quiet_s:g} s after its "
            "last span; Ctrl-C stops",
            sys.stderr if args.json else None,
        )
        printer = _Printer(args.json, live)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        # Tick often enough that a trace shows within a fraction of its quiet period.
        step = min(0.25, max(0.02, args.quiet_s / 4))
        try:
            while not (args.count and printer.traces >= args.count):
                if deadline is not None and time.monotonic() >= deadline:
                    # Time is up: what is still waiting is shown as it stands.
                    printer.show(live.tick(time.monotonic() + args.quiet_s), args.count)
                    break
                printer.show(live.tick(), args.count)
                time.sleep(step)
        except KeyboardInterrupt:
            printer.show(live.tick(time.monotonic() + args.quiet_s), args.count)
    if not args.json:
        stats = live.stats()
        say(
            f"received {stats.received_spans} spans{_events(stats)} in "
            f"{stats.received_requests} requests; {_n(printer.traces, 'trace')} shown; "
            f"evicted {_n(stats.evicted_traces, 'trace')} ({stats.evicted_spans} spans)"
        )
    return exit_codes.OK


def _listen_tui(args: argparse.Namespace) -> int:
    """The live screen over the same receiver and store (``--save`` too); the
    screen ticks the store. --count and --seconds apply to printing only."""
    import importlib

    if args.json:
        raise UsageError("--tui shows traces in the console; --json prints them: pick one")
    tui = importlib.import_module("oncall_tui.tui.app")  # the one way into textual
    with listening(args) as (live, receiver):
        tui.OncallApp(live=(live, receiver)).run()
    stats = live.stats()
    say(
        f"received {stats.received_spans} spans{_events(stats)} in "
        f"{stats.received_requests} requests; "
        f"evicted {_n(stats.evicted_traces, 'trace')} ({stats.evicted_spans} spans)"
    )
    return exit_codes.OK


def _events(stats: LiveStats) -> str:
    """ ", 3 events (as logs)" when span events came to /v1/logs, else nothing."""
    return f", {_n(stats.received_events, 'event')} (as logs)" if stats.received_events else ""


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Printer:
    """Prints settled traces: one line (and a line per finding) each, or one
    JSON object each; says when the bounds evicted something."""

    def __init__(self, as_json: bool, live: LiveTraces) -> None:
        self.as_json = as_json
        self.live = live
        self.traces = 0  # distinct traces shown (what --count counts)
        self._evicted = (0, 0)

    def show(self, entries: list[LiveEntry], count: int) -> None:
        stats = self.live.stats()
        for entry in entries:
            if count and entry.updates == 0 and self.traces >= count:
                break
            if entry.updates == 0:
                self.traces += 1
            if self.as_json:
                self._json(entry, stats)
            else:
                self._text(entry)
        gone = (stats.evicted_traces, stats.evicted_events)
        if not self.as_json and gone != self._evicted:
            self._evicted = gone
            events = (
                f", {_n(stats.evicted_events, 'event')} waiting for their spans"
                if stats.evicted_events
                else ""
            )
            say(
                f"evicted so far: {_n(stats.evicted_traces, 'trace')}, "
                f"{_n(stats.evicted_spans, 'span')}{events} "
                f"(held at most {self.live.max_traces} traces, {self.live.max_spans} spans: "
                "--max-traces, --max-spans)"
            )
        if entries:
            sys.stdout.flush()  # a pipe (tee, a script) sees each trace as it settles

    def _json(self, entry: LiveEntry, stats: LiveStats) -> None:
        a = entry.analysis
        # One compact object per line (JSON lines): a stream a script can follow.
        line = json_bytes(
            {
                **msgspec.structs.asdict(a.summary),
                "span_count": len(entry.trace.spans),
                "requests": entry.requests,
                "updated": entry.updates > 0,
                "updates": entry.updates,
                "completeness": a.completeness,
                "completeness_reason": a.completeness_reason,
                "inside_trace_id": entry.inside_trace_id,
                "linked_trace_ids": entry.trace.linked_trace_ids,
                "worst": a.worst(),
                "findings": a.findings,
                "cycles": a.cycles,
                "evicted_traces": stats.evicted_traces,
                "evicted_spans": stats.evicted_spans,
            },
            indent=0,
        )
        sys.stdout.write(line.decode() + "\n")

    def _text(self, entry: LiveEntry) -> None:
        from oncall_tui.core.text import inert, truncate

        a = entry.analysis
        s = a.summary
        line = (
            f"trace {s.trace_id}  {s.span_count} spans  {s.error_count} errors  "
            f"{(s.duration_ns or 0) / 1e6:.1f} ms  "
            f"{inert(s.service or '-', single_line=True)}: "
            f"{inert(s.root_name or '-', single_line=True)}"
        )
        if entry.requests > 1:
            line += f"  ({entry.requests} requests)"
        if entry.updates:
            line += f"  UPDATED ({entry.updates}x: late spans or a linked trace)"
        if a.completeness != "complete":
            why = inert(a.completeness_reason or "", single_line=True)
            line += f"  {a.completeness.upper()}: {why}"
        if entry.inside_trace_id:
            line += f"  inside trace {entry.inside_trace_id} (context lost across threads)"
        elif entry.trace.linked_trace_ids:
            line += f"  linked: {', '.join(entry.trace.linked_trace_ids)}"
        say(line)
        for f in a.findings:
            summary = truncate(inert(f.summary, single_line=True), 100)
            say(f"    {f.severity:<8} {f.kind}: {summary}")
