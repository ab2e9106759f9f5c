"""Traces as they arrive live: joined by id across requests, settled after a
quiet period, analysed once settled, and bounded.

Behind ``trace listen`` (which prints each trace as it settles) and its
``--tui`` screen (which lists them). Exporters send a trace in many requests
(a batch per flush, a span per request with SimpleSpanProcessor), children
before parents: a trace is only worth a diagnosis once nothing has arrived for
it for ``quiet_s``. Then it is merged once (core/assemble.py), stitched with
the other traces held whose time overlaps it (core/stitch.py: context lost
across threads), and analysed (core/analysis.py). A span that arrives for a
settled trace reopens it; when it settles again its entry says it was updated.
Span events recorded apart from their spans (OTLP log records posted to
``/v1/logs``: GenAI message content and tool arguments in the older event
conventions) are held per trace id until the trace settles and then attached
(core/assemble.attach_events), so the live diagnosis is what ``trace analyze
spans logs`` gives; events for a trace whose spans have not arrived wait,
bounded, and a late one reopens a settled trace like a late span.

Threads: receivers call ``add`` from their handler threads (cheap: a list
append under a short lock, no decoding, no analysis); one consumer calls
``tick`` (it does the merging and analysis, outside the lock); anyone reads
``entries``, ``get``, ``stats`` and ``version``. A UI repaints only when
``version`` moved, at a rate it chooses.

Bounds: at most ``max_traces`` traces and ``max_spans`` spans are held; the
trace that received nothing for longest goes first (its entry too), counted
in ``stats``. A single trace bigger than ``max_spans`` keeps its first spans
and is marked truncated. No textual here: this is headless.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import msgspec

from oncall_tui.core.analysis import Analysis, analyze
from oncall_tui.core.assemble import (
    DERIVED_KINDS,
    EventBatch,
    assemble,
    attach_events,
    drop_resent,
    group_by_trace,
    resent_note,
)
from oncall_tui.core.graph import node_key
from oncall_tui.core.models import QualityNote, Span, Trace
from oncall_tui.core.stitch import stitch

DEFAULT_QUIET_S = 2.0
DEFAULT_MAX_TRACES = 1000
DEFAULT_MAX_SPANS = 250_000


class LiveEntry(msgspec.Struct, frozen=True):
    """One trace as it last settled: what a listing row and the trace screen show."""

    trace_id: str
    #: The trace as analysed: with the traces stitched into it when it is an
    #: outer trace (their ids in ``trace.linked_trace_ids``).
    trace: Trace
    analysis: Analysis
    #: Clock readings (the store's clock, ``time.monotonic`` by default).
    first_seen: float
    last_seen: float
    settled_at: float
    #: Requests that carried spans of this trace id.
    requests: int
    #: Spans of this trace id held (not counting stitched-in traces).
    span_count: int
    #: Times it settled again after the first (a late span, or a trace
    #: stitched into it later); 0 the first time.
    updates: int
    #: False while a late span has reopened it (this is the last settled view).
    settled: bool = True
    #: The trace this one ran inside (context lost across threads), if any;
    #: its spans are in that trace's entry too.
    inside_trace_id: str | None = None


class LiveStats(msgspec.Struct, frozen=True):
    received_requests: int
    received_spans: int
    held_traces: int
    held_spans: int
    #: Traces waiting for their quiet period (never settled, or reopened).
    pending_traces: int
    #: Traces that settled at least once and are still held.
    settled_traces: int
    evicted_traces: int
    #: Spans no longer held because of the bounds (evicted traces' spans and
    #: spans cut from a trace bigger than ``max_spans``).
    evicted_spans: int
    #: Span events received as log records (``/v1/logs``), and those still
    #: waiting for their trace's spans.
    received_events: int = 0
    waiting_events: int = 0
    #: Waiting events dropped because more trace ids waited than ``max_traces``.
    evicted_events: int = 0


class _Held:
    """What is held for one trace id (mutable; only touched under the lock)."""

    __slots__ = (
        "entry",
        "events",
        "first_seen",
        "fragments",
        "last_seen",
        "outline",
        "requests",
        "settled",
        "spans",
    )

    def __init__(self, now: float) -> None:
        #: Pieces not yet merged; after a settle, [the merged trace] + later pieces.
        self.fragments: list[Trace] = []
        self.spans = 0
        self.first_seen = now
        self.last_seen = now
        self.requests = 0
        self.settled = False
        self.entry: LiveEntry | None = None
        #: What stitching needs of it, worked out when it settles.
        self.outline: _Outline | None = None
        #: Span events (log records) not yet attached: at the next settle.
        self.events: list[EventBatch] = []


class LiveTraces:
    """The live assembly store; see the module docstring for who calls what."""

    def __init__(
        self,
        *,
        quiet_s: float = DEFAULT_QUIET_S,
        max_traces: int = DEFAULT_MAX_TRACES,
        max_spans: int = DEFAULT_MAX_SPANS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if quiet_s < 0 or max_traces < 1 or max_spans < 1:
            raise ValueError("quiet_s >= 0, max_traces >= 1 and max_spans >= 1")
        self.quiet_s = quiet_s
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._clock = clock
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        # Insertion order is recency: a trace moves to the end when spans arrive.
        self._held: dict[str, _Held] = {}
        # Trace id -> entry, in the order they (last) settled.
        self._settled: dict[str, LiveEntry] = {}
        self._span_total = 0
        self._requests = 0
        self._received_spans = 0
        self._evicted_traces = 0
        self._evicted_spans = 0
        self._version = 0
        # Events for trace ids with no spans held yet, oldest first; at most
        # ``max_traces`` trace ids (a log exporter flushes on its own clock).
        self._waiting: dict[str, list[EventBatch]] = {}
        self._received_events = 0
        self._evicted_events = 0

    # ------------------------------------------------------------ receiving

    def add(self, traces: Iterable[Trace], *, now: float | None = None) -> None:
        """Take what one request carried: pieces per trace id (``fragments``,
        what the receiver hands over) or Traces as sources/detect.read_traces
        gives them. Never analyses; safe from any thread."""
        with self._lock:
            at = self._clock() if now is None else now
            self._requests += 1
            counted: set[str] = set()
            for trace in traces:
                self._add_one(trace, at, counted)
            self._version += 1

    def add_events(self, batch: EventBatch, *, now: float | None = None) -> None:
        """Take one ``/v1/logs`` request's span events: held with their trace
        until it settles (a settled trace reopens), or waiting for its spans."""
        with self._lock:
            at = self._clock() if now is None else now
            self._requests += 1
            for tid, part in _per_trace(batch).items():
                self._received_events += part.count
                held = self._held.get(tid)
                if held is None:
                    waiting = self._waiting.pop(tid, [])
                    waiting.append(part)
                    self._waiting[tid] = waiting  # now the newest
                    while len(self._waiting) > self.max_traces:
                        gone = self._waiting.pop(next(iter(self._waiting)))
                        self._evicted_events += sum(b.count for b in gone)
                    continue
                held.events.append(part)
                held.last_seen = at
                self._reopen(tid, held)
            self._version += 1

    def _reopen(self, tid: str, held: _Held) -> None:
        if held.settled:
            held.settled = False
            if held.entry is not None:
                held.entry = msgspec.structs.replace(held.entry, settled=False)
                self._settled[tid] = held.entry

    def _add_one(self, trace: Trace, now: float, counted: set[str]) -> None:
        tid = trace.trace_id
        n = len(trace.spans)
        self._received_spans += n
        held = self._held.pop(tid, None)  # re-inserted below: now the newest
        if held is None:
            held = _Held(now)
            held.events = self._waiting.pop(tid, [])
        # Room first: the traces that received nothing for longest go.
        while self._held and self._span_total + n > self.max_spans:
            self._evict_oldest()
        room = self.max_spans - self._span_total
        if n > room:
            trace = _cut(trace, room, self.max_spans)
            self._evicted_spans += n - room
            n = room
        held.fragments.append(trace)
        held.spans += n
        held.last_seen = now
        if tid not in counted:
            held.requests += 1
            counted.add(tid)
        self._reopen(tid, held)
        self._held[tid] = held
        self._span_total += n
        while len(self._held) > self.max_traces:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        tid = next(iter(self._held))
        held = self._held.pop(tid)
        self._settled.pop(tid, None)
        self._span_total -= held.spans
        self._evicted_traces += 1
        self._evicted_spans += held.spans

    # ------------------------------------------------------------- settling

    def tick(self, now: float | None = None) -> list[LiveEntry]:
        """Settle every trace quiet for ``quiet_s``: merge, stitch, analyse.
        Returns the entries that settled or changed in this call (a first
        settle, a re-settle after a late span, or a settled trace whose
        stitching changed), oldest first. Call it from one consumer thread
        a few times per quiet period; each call reports only its own."""
        with self._tick_lock:
            with self._lock:
                at = self._clock() if now is None else now
                due = [
                    (tid, h, list(h.fragments), list(h.events))
                    for tid, h in self._held.items()
                    if not h.settled and at - h.last_seen >= self.quiet_s
                ]
                if not due:
                    return []
                settled = [
                    (tid, h.fragments[0], h.outline, h.entry)
                    for tid, h in self._held.items()
                    if h.settled and h.entry is not None and h.outline is not None
                ]
            # The expensive part, with the lock released: receivers go on.
            merged: dict[str, Trace] = {}
            unplaced: dict[str, list[EventBatch]] = {}
            for tid, _, frags, events in due:
                merged[tid], unplaced[tid] = _merged(frags, events)
            outlines = {tid: _outline(t) for tid, t in merged.items()}
            changed, outer_of = _diagnose(merged, outlines, _overlapping(settled, outlines))
            with self._lock:
                self._settle(due, merged, outlines, unplaced)
                out = self._publish(at, changed, outer_of)
                if out:
                    self._version += 1
            return out

    def _settle(
        self,
        due: list[tuple[str, _Held, list[Trace], list[EventBatch]]],
        merged: dict[str, Trace],
        outlines: dict[str, _Outline],
        unplaced: dict[str, list[EventBatch]],
    ) -> None:
        for tid, snap_held, frags, events in due:
            held = self._held.get(tid)
            if held is not snap_held:
                continue  # evicted while we analysed (or evicted and back anew)
            later = held.fragments[len(frags) :]
            # Events attached in this merge are in the merged trace's spans
            # now; those naming a span not here yet wait for it.
            arrived = held.events[len(events) :]
            held.events = [*unplaced[tid], *arrived]
            held.fragments = [merged[tid], *later]
            # Copies of a resent batch were dropped in the merge: not held.
            kept = len(merged[tid].spans) + sum(len(t.spans) for t in later)
            self._span_total -= held.spans - kept
            held.spans = kept
            held.outline = outlines[tid]
            # A piece that arrived during the analysis keeps it pending.
            held.settled = not later and not arrived

    def _publish(
        self,
        now: float,
        changed: dict[str, tuple[Trace, Analysis]],
        outer_of: dict[str, str],
    ) -> list[LiveEntry]:
        out: list[LiveEntry] = []
        for tid, (view, analysis) in changed.items():
            held = self._held.get(tid)
            if held is None or not held.fragments:
                continue
            old = held.entry
            entry = LiveEntry(
                trace_id=tid,
                trace=view,
                analysis=analysis,
                first_seen=held.first_seen,
                last_seen=held.last_seen,
                settled_at=now,
                requests=held.requests,
                span_count=held.spans,
                updates=0 if old is None else old.updates + 1,
                settled=held.settled,
                inside_trace_id=outer_of.get(tid),
            )
            held.entry = entry
            self._settled.pop(tid, None)
            self._settled[tid] = entry
            out.append(entry)
        return out

    # -------------------------------------------------------------- reading

    def entries(self) -> list[LiveEntry]:
        """Every held trace that has settled at least once, newest (last
        settled) first; a reopened one keeps its place with ``settled`` False."""
        with self._lock:
            return list(reversed(self._settled.values()))

    def get(self, trace_id: str) -> LiveEntry | None:
        """The trace's last settled entry; None if it never settled or is gone."""
        with self._lock:
            held = self._held.get(trace_id.lower())
            return None if held is None else held.entry

    def stats(self) -> LiveStats:
        with self._lock:
            settled = len(self._settled)
            return LiveStats(
                received_requests=self._requests,
                received_spans=self._received_spans,
                held_traces=len(self._held),
                held_spans=self._span_total,
                pending_traces=sum(1 for h in self._held.values() if not h.settled),
                settled_traces=settled,
                evicted_traces=self._evicted_traces,
                evicted_spans=self._evicted_spans,
                received_events=self._received_events,
                waiting_events=sum(b.count for w in self._waiting.values() for b in w),
                evicted_events=self._evicted_events,
            )

    @property
    def version(self) -> int:
        """Moves whenever anything held or shown changed (cheap to poll)."""
        return self._version


def _per_trace(batch: EventBatch) -> dict[str, EventBatch]:
    """One request's events split by trace id; the request's own notes (a
    malformed record) go with each."""
    out: dict[str, EventBatch] = {}
    for key, events in batch.events.items():
        part = out.get(key[0])
        if part is None:
            part = out[key[0]] = EventBatch({}, {}, list(batch.notes))
        part.events[key] = events
        part.where[key] = batch.where[key]
    return out


def fragments(spans: list[Span], notes: list[QualityNote], source: str) -> list[Trace]:
    """One request's decoded spans as unassembled pieces, one per trace id:
    what a receiver hands to ``add``. Grouping only; the quality check and
    the completeness verdict wait for ``tick`` (once per trace, not once per
    request). Notes naming a span go with its trace, the rest with every one."""
    by_trace = group_by_trace(spans)
    if not notes:
        return [Trace(tid, group, source=source) for tid, group in by_trace.items()]
    span_trace = {s.span_id: tid for tid, group in by_trace.items() for s in group}
    general: list[QualityNote] = []
    per_trace: dict[str, list[QualityNote]] = {tid: [] for tid in by_trace}
    for note in notes:
        tid = span_trace.get(note.span_id) if note.span_id else None
        (per_trace[tid] if tid else general).append(note)
    return [
        Trace(tid, group, source=source, quality=[*general, *per_trace[tid]])
        for tid, group in by_trace.items()
    ]


def _merged(
    pieces: list[Trace], events: Sequence[EventBatch] = ()
) -> tuple[Trace, list[EventBatch]]:
    """The pieces of one trace assembled once: derived notes and a fragment's
    ``partial`` are worked out again over the whole (OTLP exporters give no
    verdict of their own); only the store's cut (``_cut``) is carried over.
    ``events`` (log records) are attached to the spans they name; with the
    trace, those whose span has not arrived (they wait for it)."""
    spans: list[Span] = []
    notes: list[QualityNote] = []
    seen: set[QualityNote] = set()
    cut: str | None = None
    for piece in pieces:
        spans.extend(piece.spans)
        for note in piece.quality:
            # Input-wide notes ride on every piece of a request: one copy.
            if note.kind not in DERIVED_KINDS and note not in seen:
                seen.add(note)
                notes.append(note)
        if piece.completeness == "truncated":
            cut = piece.completeness_reason
    if not spans:
        return msgspec.structs.replace(pieces[0], quality=notes), list(events)
    spans, resent = drop_resent(spans)
    if resent:
        notes.append(resent_note(resent))
    [trace] = assemble(
        spans,
        source=pieces[0].source or "otlp",
        notes=notes,
        completeness="truncated" if cut is not None else "complete",
        reason=cut,
    )
    if not events:
        return trace, []
    ids = {span.span_id for span in trace.spans}
    here = EventBatch({}, {}, [n for b in events for n in b.notes])
    later = EventBatch({}, {}, [])
    for batch in events:
        for key, evs in batch.events.items():
            part = here if key[1] in ids else later
            part.events.setdefault(key, []).extend(evs)
            part.where.setdefault(key, batch.where[key])
    attach_events([trace], [here])
    return trace, [later] if later.events else []


class _Outline(NamedTuple):
    """A settled trace as stitching sees it: its time span, and only the
    spans core/stitch.py looks at (roots, and tool spans that may hold
    another trace's root), so a tick stitches hundreds of spans, not the
    whole window."""

    start: int
    end: int
    reduced: Trace


def _outline(trace: Trace) -> _Outline:
    spans = trace.spans
    if not spans:
        return _Outline(0, 0, trace)
    keep = [s for s in spans if s.parent_id is None or _is_tool(s)]
    return _Outline(
        min(s.start_ns for s in spans),
        max(s.end_ns for s in spans),
        Trace(trace.trace_id, keep),
    )


def _is_tool(span: Span) -> bool:
    if span.gen_ai is None:
        return False
    key = node_key(span)
    return key is not None and key.startswith("tool:")


def _diagnose(
    merged: dict[str, Trace],
    outlines: dict[str, _Outline],
    neighbours: list[tuple[str, Trace, _Outline, LiveEntry]],
) -> tuple[dict[str, tuple[Trace, Analysis]], dict[str, str]]:
    """Stitch the settling traces with their settled neighbours and analyse
    what changed: (trace id -> (trace as shown, its analysis)), (inner trace
    id -> the trace it ran inside)."""
    raw: dict[str, Trace] = dict(merged)
    reduced = [o.reduced for o in outlines.values()]
    prior: dict[str, LiveEntry] = {}
    for tid, trace, outline, entry in neighbours:
        raw[tid] = trace
        reduced.append(outline.reduced)
        prior[tid] = entry
    outer_of: dict[str, str] = {}
    stitched: dict[str, Trace] = {}
    # Who ran inside whom, from the outlines (stitching keys on nothing
    # else); then each group merged from its whole traces.
    for group in stitch(reduced):
        if not group.linked_trace_ids:
            continue
        members = [raw[group.trace_id], *(raw[t] for t in group.linked_trace_ids)]
        whole = next(t for t in stitch(members) if t.trace_id == group.trace_id)
        stitched[whole.trace_id] = whole
        for inner in whole.linked_trace_ids:
            outer_of[inner] = whole.trace_id
    changed: dict[str, tuple[Trace, Analysis]] = {}
    for tid, trace in raw.items():
        view = stitched.get(tid, trace)
        old = prior.get(tid)
        if old is None:
            changed[tid] = (view, analyze(view))
        elif old.trace.linked_trace_ids != view.linked_trace_ids:
            changed[tid] = (view, analyze(view))  # a trace was stitched into it
        elif old.inside_trace_id != outer_of.get(tid):
            changed[tid] = (view, old.analysis)  # it now ran inside another
        # else: a settled neighbour whose stitching did not change.
    return changed, outer_of


def _overlapping(
    settled: Sequence[tuple[str, Trace, _Outline | None, LiveEntry | None]],
    outlines: dict[str, _Outline],
) -> list[tuple[str, Trace, _Outline, LiveEntry]]:
    """The settled traces whose time overlaps a settling one's: only those
    can hold it, or run inside it (stitching needs containment)."""
    spans = sorted((o.start, o.end) for o in outlines.values())
    starts = [s for s, _ in spans]
    reach: list[int] = []  # the latest end among the first k intervals
    for _, end in spans:
        reach.append(end if not reach else max(reach[-1], end))
    out: list[tuple[str, Trace, _Outline, LiveEntry]] = []
    for tid, trace, outline, entry in settled:
        if outline is None or entry is None:
            continue
        k = bisect.bisect_right(starts, outline.end)
        if k and reach[k - 1] >= outline.start:
            out.append((tid, trace, outline, entry))
    return out


def _cut(trace: Trace, keep: int, limit: int) -> Trace:
    return msgspec.structs.replace(
        trace,
        spans=trace.spans[:keep],
        completeness="truncated",
        completeness_reason=(
            f"the live session holds at most {limit} spans; "
            f"{len(trace.spans) - keep} of this trace's were dropped"
        ),
    )
