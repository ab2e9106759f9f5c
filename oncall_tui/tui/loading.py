"""Reading and analysing traces off the event loop, results as messages.

A 100,000-span trace takes seconds to analyse; run on the event loop, that
freezes the console (no keys, no repaint, no live overview). So every file
read and every ``analyze`` runs in a thread worker: ``start_loading`` reads
and/or analyses one trace and posts ``TraceAnalysing`` (for the status line),
then ``TraceAnalysed`` or ``TraceLoadFailed`` to the node that asked, and
``analysed`` hands one analysis back to an async worker (the traces screen's
``finding:`` filter, whose result is ``TracesListed``). Callers: ``OncallApp``
(a trace or file given at start) and ``TracesScreen`` (``enter``, ``id:``,
``file:``, ``finding:``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, get_current_worker

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.models import Finding, Trace, TraceSummary
from oncall_tui.core.stitch import stitch
from oncall_tui.errors import DataError, OncallError
from oncall_tui.sources.detect import read_traces

LOAD_GROUP = "trace-load"


class TraceAnalysing(Message):
    """The trace is read; its analysis has started (the status line says so)."""

    def __init__(self, origin: str, span_count: int) -> None:
        super().__init__()
        self.origin = origin
        self.span_count = span_count

    @property
    def text(self) -> str:
        return f"analysing {self.span_count:,} spans…"


class TraceAnalysed(Message):
    def __init__(self, origin: str, trace: Trace, analysis: Analysis) -> None:
        super().__init__()
        self.origin = origin
        self.trace = trace
        self.analysis = analysis


class TraceLoadFailed(Message):
    def __init__(self, origin: str, reason: str) -> None:
        super().__init__()
        self.origin = origin
        self.reason = reason

    @property
    def text(self) -> str:
        return f"cannot open {self.origin}: {self.reason}"


class TracesListed(Message):
    """A search's rows, and for a ``finding:`` search the matching finding of each."""

    def __init__(
        self, query: str, rows: list[TraceSummary], findings: dict[str, Finding] | None = None
    ) -> None:
        super().__init__()
        self.query = query
        self.rows = rows
        self.findings = findings


class TraceSearchFailed(Message):
    def __init__(self, query: str, reason: str) -> None:
        super().__init__()
        self.query = query
        self.reason = reason


def read_biggest(path: str) -> Trace:
    """The biggest trace in a trace file: the one a person opening it means."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise DataError(exc.strerror or str(exc)) from exc
    # Traces split by lost thread context are one trace to the person reading.
    traces = stitch(read_traces(data, source=path))
    if not traces:
        raise DataError("the file holds no spans")
    return max(traces, key=lambda t: len(t.spans))


def start_loading(
    node: DOMNode, origin: str, *, trace: Trace | None = None, path: str | None = None
) -> Worker[None]:
    """Analyse ``trace`` (or the biggest trace in the file at ``path``) in a
    thread; a newer load on the same node cancels this one's result."""
    return node.run_worker(
        partial(_load, node, origin, trace, path),
        name=f"load {origin}",
        # Textual describes a worker by repr(work) unless told: the repr of a
        # partial holding a 100k-span trace took 1.4 s on the event loop.
        description=f"load {origin}",
        group=LOAD_GROUP,
        exclusive=True,
        exit_on_error=False,
        thread=True,
    )


def _load(node: DOMNode, origin: str, trace: Trace | None, path: str | None) -> None:
    worker = get_current_worker()
    try:
        if trace is None:
            assert path is not None, "start_loading needs a trace or a path"
            trace = read_biggest(path)
    except OncallError as exc:
        node.post_message(TraceLoadFailed(origin, exc.message))
        return
    if worker.is_cancelled:
        return
    node.post_message(TraceAnalysing(origin, len(trace.spans)))
    try:
        analysis = analyze(trace)
    except Exception as exc:  # a trace that breaks the engine says so; "analysing…" must not hang
        node.post_message(TraceLoadFailed(origin, f"analysis failed: {type(exc).__name__}: {exc}"))
        return
    if not worker.is_cancelled:
        node.post_message(TraceAnalysed(origin, trace, analysis))


async def analysed(node: DOMNode, trace: Trace) -> Analysis:
    """``analyze(trace)`` in a thread worker, awaited from an async worker."""
    worker: Worker[Analysis] = node.run_worker(
        partial(analyze, trace),
        name=f"analyse {trace.trace_id}",
        description=f"analyse {trace.trace_id}",  # not repr(trace): see start_loading
        group="trace-analyse",
        exit_on_error=False,
        thread=True,
    )
    return await worker.wait()
