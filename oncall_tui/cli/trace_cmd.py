"""``oncall-tui trace ...``: analyse a trace file, draw its call graph, and
(through trace-store adapters) fetch, search and receive traces.

``trace analyze`` exits 1 when a finding at or above ``--fail-on`` is present,
so a script can gate on it; 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json
from oncall_tui.cli.output import emit_json, say
from oncall_tui.errors import DataError

SEVERITIES = ("info", "low", "medium", "high", "critical")

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_FILES_HELP = "trace file(s) read together, e.g. trace.json logs.json; - for stdin"

#: Further ``trace`` subcommands (store access, listen) register here.
EXTRA_REGISTRARS: list[str] = ["oncall_tui.cli.trace_store_cmd", "oncall_tui.cli.onset_cmd"]


def register(sub: Sub) -> None:
    parser = sub.add_parser("trace", help="analyse, graph, fetch and receive traces")
    cmds = parser.add_subparsers(dest="trace_command", metavar="ACTION")

    analyze = cmds.add_parser(
        "analyze",
        help="summary, findings, cycles and data quality of a trace file",
        description="Reads OTLP/JSON, Jaeger, Tempo, Phoenix or Langfuse JSON "
        "(gzip ok; - for stdin). Several files are read together: spans of one "
        "trace are joined across them, and OTLP/JSON logs (span events recorded "
        "as log records) are attached to the spans they name.",
    )
    analyze.add_argument("files", nargs="+", metavar="FILE", help=_FILES_HELP)
    analyze.add_argument("--trace-id", help="analyse only this trace of a multi-trace file")
    analyze.add_argument(
        "--adjust-skew", action="store_true", help="shift cross-host spans into their parents"
    )
    analyze.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="high",
        help="exit 1 when a finding at or above this severity is present (default: high)",
    )
    add_json(analyze)
    analyze.set_defaults(func=_analyze)

    graph = cmds.add_parser("graph", help="the agent/model/tool call graph of a trace file")
    graph.add_argument("files", nargs="+", metavar="FILE", help=_FILES_HELP)
    graph.add_argument("--trace-id", help="only this trace of a multi-trace file")
    graph.add_argument(
        "--format",
        choices=("text", "list", "dot", "mermaid", "json"),
        default="text",
        help="text: the graph drawn in layers (default); list: one line per node and edge",
    )
    graph.add_argument("--json", action="store_true", help="same as --format json")
    graph.set_defaults(func=_graph)

    view = cmds.add_parser("view", help="open a trace file in the console (call tree, findings)")
    view.add_argument("file", help="trace file (any format trace analyze reads)")
    view.set_defaults(func=_view)

    import importlib
    import importlib.util

    for name in EXTRA_REGISTRARS:
        # Absent (not built in this version) is fine; a registrar that exists
        # but fails to import is a bug and must say so, not vanish.
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(cmds)


def _view(args: argparse.Namespace) -> int:
    import importlib

    if not Path(args.file).is_file():
        raise DataError(f"{args.file}: no such file")
    args.trace_file = args.file
    tui = importlib.import_module("oncall_tui.tui.app")  # the one way into textual
    result: int = tui.run(args)
    return result


def read_input(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    file = Path(path)
    try:
        return file.read_bytes(), str(file)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a trace file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def load_traces(paths: str | Sequence[str], trace_id: str | None) -> list[Any]:
    """Every trace of one file or several read together (spans joined by
    trace id across them, log records attached to their spans), those split
    by lost thread context stitched back (core/stitch.py); ``trace_id`` may
    name an outer or a linked trace."""
    from oncall_tui.core.stitch import find, stitch
    from oncall_tui.sources.detect import read_many

    if isinstance(paths, str):
        paths = [paths]
    if list(paths).count("-") > 1:
        raise DataError("- (stdin) can be named only once")
    inputs = [read_input(path) for path in paths]
    source = ", ".join(src for _, src in inputs)
    everything = traces = stitch(read_many(inputs, need_spans=True))
    if trace_id:
        traces = find(everything, trace_id)
        if not traces:
            # Exit 2 (input), not 3: no outside system failed us, the file lacks it.
            have = ", ".join(t.trace_id for t in everything[:5])
            raise DataError(f"trace {trace_id} is not in {source} (it has: {have})")
    if not traces:
        raise DataError(f"{source}: holds no spans")
    return traces


def _analyze(args: argparse.Namespace) -> int:
    from oncall_tui.core.analysis import analyze
    from oncall_tui.core.models import SEVERITY_ORDER

    traces = load_traces(args.files, args.trace_id)
    results = [analyze(t, adjust_skew=args.adjust_skew) for t in traces]
    threshold = SEVERITY_ORDER[args.fail_on]
    failing = any(SEVERITY_ORDER[f.severity] >= threshold for a in results for f in a.findings)
    if args.json:
        # Outer trace id -> the trace ids stitched into it (core/stitch.py).
        linked = {t.trace_id: t.linked_trace_ids for t in traces if t.linked_trace_ids}
        emit_json(
            {
                "traces": results,
                "fail_on": args.fail_on,
                "failed": failing,
                "linked_trace_ids": linked,
            }
        )
    else:
        for t, a in zip(traces, results, strict=True):
            _print_analysis(a, t.linked_trace_ids)
    return exit_codes.PROBLEM if failing else exit_codes.OK


def _print_analysis(a: Any, linked: list[str] | None = None) -> None:
    s = a.summary
    dur = f"{(s.duration_ns or 0) / 1e6:.1f} ms"
    say(f"trace {s.trace_id}  {s.span_count} spans  {s.error_count} errors  {dur}")
    say(f"  root: {s.root_name}  service: {s.service}")
    if linked:
        say(f"  linked traces (context lost across threads): {', '.join(linked)}")
    if a.completeness != "complete":
        say(f"  {a.completeness.upper()}: {a.completeness_reason or 'the store said so'}")
    if a.cycles:
        say(f"  reentrancy cycles: {len(a.cycles)}")
        for c in a.cycles:
            kind = " (inferred)" if c.inferred else ""
            say(f"    {' -> '.join(c.witness_keys)}{kind}")
            say(f"      witness spans: {' -> '.join(c.witness)}")
    if a.findings:
        say("  findings:")
        for f in a.findings:
            say(f"    [{f.severity}] {f.kind}: {f.summary}")
    else:
        say("  no findings")
    if a.quality:
        say(f"  data quality: {len(a.quality)} note(s)")
        for q in a.quality[:10]:
            where = f" ({q.where})" if q.where else ""
            say(f"    {q.kind}: {q.detail}{where}")
    if a.adjusted:
        say(f"  skew-adjusted: {len(a.adjusted)} span(s) moved")


def _graph(args: argparse.Namespace) -> int:
    from oncall_tui.core.analysis import analyze
    from oncall_tui.core.graph import to_text
    from oncall_tui.core.layout import LEGEND, draw_text

    traces = load_traces(args.files, args.trace_id)
    for trace in traces:
        a = analyze(trace)
        in_cycle = frozenset(k for c in a.cycles for k in c.nodes)
        if args.format == "json" or args.json:
            emit_json(
                {
                    "trace_id": trace.trace_id,
                    "graph": a.graph,
                    "cycles": a.cycles,
                    "linked_trace_ids": trace.linked_trace_ids,
                }
            )
        elif args.format == "dot":
            sys.stdout.write(_dot(a.graph, in_cycle))
        elif args.format == "mermaid":
            sys.stdout.write(_mermaid(a.graph, in_cycle))
        else:
            linked = (
                f"  (linked: {', '.join(trace.linked_trace_ids)})" if trace.linked_trace_ids else ""
            )
            say(f"trace {trace.trace_id}{linked}")
            listed = to_text(a.graph, in_cycle)
            if args.format == "list":
                for line in listed:
                    say("  " + line)
                continue
            for line in draw_text(a.graph, [c.nodes for c in a.cycles]):
                say("  " + line)
            say()
            say("  " + LEGEND)
            # Boxes cut long names; every node's full name and figures follow.
            for line in listed:
                if not line.startswith(" "):
                    say("  " + line)
    return exit_codes.OK


def _quote(text: str) -> str:
    from oncall_tui.core.text import inert

    return inert(text, single_line=True).replace("\\", "\\\\").replace('"', '\\"')


def _dot(graph: Any, in_cycle: frozenset[str]) -> str:
    lines = ["digraph calls {", "  rankdir=LR;"]
    for key, node in graph.nodes.items():
        color = ', color="red"' if key in in_cycle else ""
        lines.append(f'  "{_quote(key)}" [label="{_quote(key)}\\n{node.calls} calls"{color}];')
    for e in graph.edges:
        style = {"inferred": "dashed", "chose_tool": "dotted"}.get(e.kind, "solid")
        red = ', color="red"' if e.source in in_cycle and e.target in in_cycle else ""
        lines.append(
            f'  "{_quote(e.source)}" -> "{_quote(e.target)}" '
            f'[label="{e.count}", style={style}{red}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(graph: Any, in_cycle: frozenset[str]) -> str:
    ids = {key: f"n{i}" for i, key in enumerate(graph.nodes)}

    def label(key: str) -> str:
        return _quote(key).replace('"', "'").replace("[", "(").replace("]", ")")

    lines = ["flowchart LR"]
    for key, nid in ids.items():
        lines.append(f'  {nid}["{label(key)}"]')
    for e in graph.edges:
        arrow = {"inferred": "-.->", "chose_tool": "==>"}.get(e.kind, "-->")
        lines.append(f"  {ids[e.source]} {arrow}|{e.count}| {ids[e.target]}")
    for key in sorted(in_cycle):
        lines.append(f"  style {ids[key]} stroke:#f00,stroke-width:2px")
    return "\n".join(lines) + "\n"
