"""Spans from any decoder -> Traces: the one place every format funnels through.

Decoders (core/otlp.py, sources/formats/*) produce flat ``Span`` lists plus the
quality notes they met while decoding (a malformed span is a note, never a lost
trace); ``assemble`` groups by trace id, keeps the order spans arrived in, and
attaches notes and completeness. Data-quality analysis of the assembled trace
(orphans, duplicate ids, parent loops, ...) hangs off here as well, so every
format gets it for free.

A trace whose spans point at parents the input lacks, or that has no root,
is a fragment: ``partial`` whatever the store said, so nobody trusts a
diagnosis of half a trace. ``merge_fragments`` joins the pieces of one trace
that arrived in several documents (JSON lines, requests, pages) and settles
completeness again over the whole.

Some instrumentations record a span's content apart from it: the older GenAI
event conventions emit ``gen_ai.choice`` / ``gen_ai.tool.message`` as OTLP
log records tied to the span by trace and span id. A logs decoder hands those
over as an ``EventBatch``; ``merge_fragments`` attaches them to their spans
(one pass, by id), recomputes those spans' GenAI view and lends tool
arguments across spans again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from oncall_tui.core.conventions import fill_from_requests
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import Completeness, QualityNote, Span, SpanEvent, Trace
from oncall_tui.core.quality import check
from oncall_tui.core.tree import tree_for

#: Note kinds ``quality.check`` derives from a trace's spans: recomputed, not
#: carried over, when fragments are merged (an orphan in a fragment may have
#: its parent in the next line).
DERIVED_KINDS = frozenset(
    {"orphan", "duplicate_id", "parent_loop", "negative_duration", "truncated_attribute"}
)

#: A decoder's note that a span's parent is in another process (OTLP span
#: flags mark it remote): that span is a root here, not an orphan.
REMOTE_PARENT = "remote_parent"

_WEAKNESS: dict[str, int] = {"complete": 0, "partial": 1, "truncated": 2}

#: Note kind for events (log records) whose span the input lacks.
UNATTACHED_EVENTS = "unattached_events"


class EventBatch(msgspec.Struct, gc=False):
    """Span events recorded apart from their spans (OTLP log records), keyed
    by (trace id, span id), waiting for the spans they belong to."""

    #: (trace id, span id) -> its events, in the order the input gave them.
    events: dict[tuple[str, str], list[SpanEvent]]
    #: (trace id, span id) -> where its first event was in the input.
    where: dict[tuple[str, str], str]
    #: Notes about the input as a whole (records that could not be decoded).
    notes: list[QualityNote] = []

    @property
    def count(self) -> int:
        return sum(len(e) for e in self.events.values())


def group_by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans per trace id, ids and spans in first-seen order."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        bucket = by_trace.get(span.trace_id)
        if bucket is None:
            bucket = by_trace[span.trace_id] = []
        bucket.append(span)
    return by_trace


def assemble(
    spans: Iterable[Span],
    *,
    source: str,
    notes: Iterable[QualityNote] = (),
    completeness: Completeness = "complete",
    reason: str | None = None,
) -> list[Trace]:
    """Group ``spans`` into Traces in first-seen order.

    ``notes`` that name a span id go to that span's trace; the rest go to
    every trace (they describe the input as a whole).
    """
    by_trace = group_by_trace(spans)
    span_trace = {s.span_id: tid for tid, group in by_trace.items() for s in group}
    general: list[QualityNote] = []
    per_trace: dict[str, list[QualityNote]] = {tid: [] for tid in by_trace}
    for note in notes:
        tid = span_trace.get(note.span_id) if note.span_id else None
        (per_trace[tid] if tid else general).append(note)
    traces = []
    for tid, group in by_trace.items():
        fill_from_requests(group)  # tool arguments recorded only where the model asked
        trace = Trace(
            trace_id=tid,
            spans=group,
            completeness=completeness,
            completeness_reason=reason,
            source=source,
            quality=[*general, *per_trace[tid]],
        )
        trace.quality.extend(check(trace))
        traces.append(trace)
    return [_settle(t) for t in traces]


def _settle(trace: Trace) -> Trace:
    """Drop orphan notes for spans whose parent is marked remote, and mark a
    fragment ``partial`` (a store's own partial/truncated verdict and reason
    stay: they say more than ours)."""
    remote = {n.span_id for n in trace.quality if n.kind == REMOTE_PARENT}
    if remote:
        trace.quality = [
            n for n in trace.quality if not (n.kind == "orphan" and n.span_id in remote)
        ]
    reason = fragment_reason(trace, remote)
    if reason is not None and trace.completeness == "complete":
        trace.completeness = "partial"
        trace.completeness_reason = reason
    return trace


def fragment_reason(trace: Trace, remote: set[str | None] | None = None) -> str | None:
    """Why ``trace`` is a fragment of a bigger one, or None when it is whole."""
    spans = trace.spans
    if not spans:
        return None
    if remote is None:
        remote = {n.span_id for n in trace.quality if n.kind == REMOTE_PARENT}
    tree = tree_for(trace)
    missing = [i for i in tree.orphans if spans[i].span_id not in remote]
    if missing:
        first = spans[missing[0]]
        n = len(missing)
        what = "1 span's parent is" if n == 1 else f"{n} spans' parents are"
        return (
            f"{what} not in the input (first: span {first.span_id} under parent {first.parent_id})"
        )
    if not any(s.parent_id is None or s.span_id in remote for s in spans):
        return "no root span in the input (every span names a parent; the parents loop)"
    return None


def merge_fragments(traces: list[Trace], events: Sequence[EventBatch] = ()) -> list[Trace]:
    """One Trace per trace id, in first-seen order: pieces of a trace read from
    several documents are joined, quality is checked again over the whole, and
    completeness is the weakest the stores reported (or ``partial`` if the
    whole is still a fragment). ``events`` recorded apart from their spans are
    attached to them (see ``attach_events``)."""
    groups: dict[str, list[Trace]] = {}
    for trace in traces:
        groups.setdefault(trace.trace_id, []).append(trace)
    if not all(len(g) == 1 for g in groups.values()):
        traces = [g[0] if len(g) == 1 else _merge(g) for g in groups.values()]
    if events:
        attach_events(traces, events)
    return traces


def attach_events(traces: list[Trace], batches: Sequence[EventBatch]) -> None:
    """Attach each batch's events to the span they name, in place.

    One pass over the spans of the traces the events name, a dict lookup
    each. A span that gains events gets its GenAI view recomputed from
    them (the conventions read ``gen_ai.choice`` / ``gen_ai.tool.message``
    events as if the span carried them), and its trace gets tool arguments
    and results lent by call id again. Events whose span the input lacks are
    kept as one ``unattached_events`` note per trace (or, when their trace
    is absent too, on every trace): never an error, the spans may simply be
    in a file that was not read.
    """
    pending: dict[tuple[str, str], list[SpanEvent]] = {}
    where: dict[tuple[str, str], str] = {}
    general: list[QualityNote] = []
    for batch in batches:
        for key, evs in batch.events.items():
            have = pending.get(key)
            if have is None:
                pending[key] = list(evs)
                where[key] = batch.where[key]
            else:
                have.extend(evs)
        general.extend(batch.notes)
    named = {tid for tid, _ in pending}
    for trace in traces:
        if trace.trace_id not in named:
            continue
        tid = trace.trace_id
        changed = False
        for span in trace.spans:
            # pop: a duplicated span id gets the events once (the first span,
            # as quality.check keeps the first).
            key = (tid, span.span_id)
            if key not in pending:
                continue
            evs = pending.pop(key)
            span.events = tuple(sorted((*span.events, *evs), key=_event_time))
            span.gen_ai = genai_view(span.attributes, span.name, span.events, span.start_ns)
            changed = True
        if changed:
            fill_from_requests(trace.spans)
    if pending:
        by_trace: dict[str, list[tuple[str, str]]] = {}
        for key in pending:
            by_trace.setdefault(key[0], []).append(key)
        present = {t.trace_id for t in traces}
        absent = [k for tid, keys in by_trace.items() if tid not in present for k in keys]
        for trace in traces:
            keys = by_trace.get(trace.trace_id)
            if keys:
                trace.quality.append(_unattached(keys, pending, where))
        if absent:
            general.append(_unattached(absent, pending, where))
    if general:
        for trace in traces:
            trace.quality.extend(general)


def _event_time(event: SpanEvent) -> int:
    return event.time_ns


def _unattached(
    keys: list[tuple[str, str]],
    pending: dict[tuple[str, str], list[SpanEvent]],
    where: dict[tuple[str, str], str],
) -> QualityNote:
    count = sum(len(pending[k]) for k in keys)
    tid, sid = keys[0]
    what = "1 event (log record) names" if count == 1 else f"{count} events (log records) name"
    spans = "a span" if len(keys) == 1 else f"{len(keys)} spans"
    return QualityNote(
        UNATTACHED_EVENTS,
        f"{what} {spans} not in the input (first: span {sid} of trace {tid}); "
        "read the log records with the trace file they belong to",
        None,
        where[keys[0]],
    )


def _store_verdict(trace: Trace) -> tuple[Completeness, str | None]:
    """What the store said about a fragment, without what ``_settle`` added."""
    if trace.completeness == "partial" and trace.completeness_reason == fragment_reason(trace):
        return "complete", None
    return trace.completeness, trace.completeness_reason


def drop_resent(spans: list[Span]) -> tuple[list[Span], int]:
    """``spans`` without the copies of a batch sent twice, and how many went.

    An exporter retries a batch it got no answer for (OTLP/HTTP lets a
    receiver see one twice): a span that comes again with the same id, name
    and times is that batch again, kept once. A different span under a known
    id stays, for ``quality.check`` to report as ``duplicate_id``."""
    sent: set[tuple[str, str, int, int]] = set()
    kept: list[Span] = []
    for span in spans:
        key = (span.span_id, span.name, span.start_ns, span.end_ns)
        if key not in sent:
            sent.add(key)
            kept.append(span)
    return kept, len(spans) - len(kept)


def resent_note(count: int) -> QualityNote:
    return QualityNote(
        "resent",
        f"{count} span(s) arrived again with the same id, name and times "
        "(a batch sent twice); each kept once",
    )


def _merge(fragments: list[Trace]) -> Trace:
    spans: list[Span] = []
    notes: list[QualityNote] = []
    seen_notes: set[QualityNote] = set()
    verdicts: list[tuple[Completeness, str | None]] = []
    sources: list[str] = []
    linked: list[str] = []
    for frag in fragments:
        verdicts.append(_store_verdict(frag))
        spans.extend(frag.spans)
        for note in frag.quality:
            # Input-wide notes are attached to every trace of a document;
            # one copy is enough.
            if note.kind not in DERIVED_KINDS and note not in seen_notes:
                seen_notes.add(note)
                notes.append(note)
        if frag.source and frag.source not in sources:
            sources.append(frag.source)
        linked.extend(t for t in frag.linked_trace_ids if t not in linked)
    worst = max((v[0] for v in verdicts), key=_WEAKNESS.__getitem__)
    reasons = list(dict.fromkeys(r for c, r in verdicts if c == worst and r))
    # A tool span and the model span that asked for it may arrive in
    # different pieces: only the whole can lend arguments by call id.
    spans, resent = drop_resent(spans)
    fill_from_requests(spans)
    trace = Trace(
        trace_id=fragments[0].trace_id,
        spans=spans,
        completeness=worst,
        completeness_reason="; ".join(reasons) or None,
        source="+".join(sources) or None,
        quality=notes,
        linked_trace_ids=linked,
    )
    if resent:
        trace.quality.append(resent_note(resent))
    trace.quality.extend(check(trace))
    return _settle(trace)
