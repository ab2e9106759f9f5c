"""The trace data model every adapter produces and every analysis reads.

Bulk types (``Span``, ``GenAI``, ``SpanEvent``) are ``gc=False``: a million of
them must not be walked by the cycle collector, and they hold no reference
cycles (attributes are plain JSON values). Keep it that way.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: An attribute value exactly as the source gave it (OTLP AnyValue flattened).
AttrValue = Any

SpanKind = Literal["internal", "server", "client", "producer", "consumer", "unspecified"]
StatusCode = Literal["unset", "ok", "error"]
Completeness = Literal["complete", "partial", "truncated"]


class GenAI(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The normalised GenAI view of one span.

    Filled from OTel GenAI semantic conventions (current and deprecated names)
    and OpenInference names; see ``core.genai``. ``None`` means "not recorded",
    which the flight-recorder finding depends on: never default to 0 or "".
    """

    operation: str | None = None  # chat, invoke_agent, execute_tool, embeddings, ...
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    agent_name: str | None = None
    conversation_id: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_call_arguments: str | None = None
    tool_call_result: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    time_to_first_chunk_s: float | None = None
    time_to_first_visible_s: float | None = None
    finish_reasons: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    system_prompt_hash: str | None = None
    error_type: str | None = None
    # An HTTP client attempt (often below a model call, where retries hide):
    # the response status and how many times the request was re-sent.
    http_status_code: int | None = None
    http_resend_count: int | None = None
    # The call asked for a streamed answer (None: not recorded). Without a
    # first-chunk time, hidden reasoning is estimated only for streamed calls.
    streaming: bool | None = None
    # Size of the visible output the span recorded (text, refusals, reasoning
    # text and tool-call arguments of its output messages), in characters, a
    # non-ASCII one counted as 4 (about a token); None when content capture
    # was off or the output is not all text. Without a reasoning count, output
    # tokens beyond these (~4 characters a token) were hidden: docs/findings.md,
    # hidden_reasoning_latency.
    output_chars: int | None = None


class SpanEvent(msgspec.Struct, frozen=True, gc=False):
    name: str
    time_ns: int
    attributes: dict[str, AttrValue] = {}


class Span(msgspec.Struct, gc=False):
    """One span, normalised. Times are integer nanoseconds since the epoch.

    ``host`` is the process identity used for interval-containment inference
    and clock-skew analysis (``host.name``/``host.id`` plus ``process.pid`` when
    the source has them, else the service name).
    """

    trace_id: str  # lowercase hex, 32 chars when the source follows W3C
    span_id: str  # lowercase hex, 16 chars when the source follows W3C
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    kind: SpanKind = "unspecified"
    status: StatusCode = "unset"
    status_message: str | None = None
    service: str | None = None
    host: str | None = None
    attributes: dict[str, AttrValue] = {}
    events: tuple[SpanEvent, ...] = ()
    gen_ai: GenAI | None = None

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class QualityNote(msgspec.Struct, frozen=True, omit_defaults=True):
    """Something wrong with the data itself (not with the system it describes).

    kind: orphan | duplicate_id | parent_loop | negative_duration |
    truncated_attribute | malformed_span | clock_skew | partial | resent | other
    ``where`` names the place in the input (``file:line``, JSON path) when known.
    """

    kind: str
    detail: str
    span_id: str | None = None
    where: str | None = None


class Trace(msgspec.Struct, weakref=True):  # weak: core.tree caches its index
    trace_id: str
    spans: list[Span]
    completeness: Completeness = "complete"
    completeness_reason: str | None = None
    source: str | None = None  # which adapter/format produced it, e.g. "otlp-json"
    quality: list[QualityNote] = []
    # Other traces stitched into this one because a root of theirs ran inside
    # a span of this trace (context lost across threads); see DESIGN.md.
    linked_trace_ids: list[str] = []


Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class Finding(msgspec.Struct, frozen=True, omit_defaults=True):
    """One thing the analysis believes a responder should look at."""

    kind: str
    severity: Severity
    summary: str  # one line, plain text
    span_ids: tuple[str, ...] = ()
    numbers: dict[str, float | int | str] = {}


class TraceSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    """One row of a trace search result, before the whole trace is fetched."""

    trace_id: str
    root_name: str | None = None
    service: str | None = None
    start_ns: int | None = None
    duration_ns: int | None = None
    span_count: int | None = None
    error_count: int | None = None
    route: str | None = None
