"""OpenLLMetry (Traceloop): ``traceloop.*`` entity spans, ``llm.request.type``,
``llm.usage.*`` and the flattened ``gen_ai.prompt.N.*`` /
``gen_ai.completion.N.*`` message attributes.

Registry: traceloop/openllmetry ``opentelemetry-semantic-conventions-ai``
(``opentelemetry/semconv_ai/__init__.py``: ``SpanAttributes``,
``TraceloopSpanKindValues``, ``LLMRequestTypeValues``). Most model attributes
are the (deprecated) OTel GenAI names, read by ``otel_genai``.

Entity spans (``@workflow``, ``@task``, ``@agent``, ``@tool``) carry the
kind in ``traceloop.span.kind``, the name in ``traceloop.entity.name`` and the
call's input and output as JSON in ``traceloop.entity.input`` / ``.output``:
on a tool span those are the arguments and the result.

A streamed call carries one span event ``gen_ai.content.completion.chunk``
(``llm.content.completion.chunk`` in older releases) per chunk received, at
the time it came: the first is the time to first chunk. The OpenAI
instrumentation's events carry no attributes, so which chunk was the first
*visible* one is read from the stream's shape: OpenAI's first chunk carries
only the role (``{"role": "assistant", "content": ""}``), so the second is
the first with content. Events that do carry a delta are read by content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oncall_tui.core.conventions.base import FIELD, Family, flat_chars, nonempty, to_str
from oncall_tui.core.models import SpanEvent

TABLE: tuple[tuple[str, str, int], ...] = (
    ("gen_ai.is_streaming", "streaming", 20),
    ("llm.is_streaming", "streaming", 21),
    ("llm.vendor", "provider", 25),  # the oldest releases
    ("llm.request.model", "request_model", 20),
    ("llm.response.model", "response_model", 20),
    ("llm.usage.prompt_tokens", "input_tokens", 20),
    ("llm.usage.completion_tokens", "output_tokens", 20),
    ("gen_ai.completion.0.finish_reason", "finish_reasons", 20),
    ("llm.response.finish_reason", "finish_reasons", 21),
    ("llm.response.stop_reason", "finish_reasons", 22),
    ("traceloop.prompt.version", "system_prompt_hash", 20),
)

_REQUEST_TYPE = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}

_OP = FIELD["operation"]
_AGENT = FIELD["agent_name"]
_TOOL = FIELD["tool_name"]
_ARGS = FIELD["tool_call_arguments"]
_RESULT = FIELD["tool_call_result"]
_TTFC = FIELD["time_to_first_chunk_s"]
_TTFV = FIELD["time_to_first_visible_s"]
_OUTPUT_TOKENS = FIELD["output_tokens"]
_OUTPUT_CHARS = FIELD["output_chars"]
_CHUNK_EVENTS = frozenset({"gen_ai.content.completion.chunk", "llm.content.completion.chunk"})
# What a chunk event with attributes may hold its delta in.
_DELTA_KEYS = ("content", "delta", "text", "tool_calls.0.function.arguments")
# The legacy flattened completion: its text and its tool calls' arguments.
_COMPLETION_SUFFIXES = (".content", ".arguments")


def _hook(
    attrs: Mapping[str, Any],
    values: list[Any],
    name: str,
    events: Sequence[SpanEvent],
    start_ns: int | None,
) -> None:
    kind = attrs.get("traceloop.span.kind")
    entity = attrs.get("traceloop.entity.name")
    entity = entity if isinstance(entity, str) and entity else None
    if kind == "tool":
        values[_OP] = values[_OP] or "execute_tool"
        # Span names are "{entity}.tool".
        values[_TOOL] = values[_TOOL] or entity or name.removesuffix(".tool") or None
        if values[_ARGS] is None and nonempty(attrs.get("traceloop.entity.input")):
            values[_ARGS] = to_str(attrs["traceloop.entity.input"])
        if values[_RESULT] is None and attrs.get("traceloop.entity.output") is not None:
            values[_RESULT] = to_str(attrs["traceloop.entity.output"])
    elif kind == "agent":
        values[_OP] = values[_OP] or "invoke_agent"
        values[_AGENT] = values[_AGENT] or entity or name.removesuffix(".agent") or None
    elif values[_OP] is None:
        request_type = attrs.get("llm.request.type")
        if isinstance(request_type, str):
            values[_OP] = _REQUEST_TYPE.get(request_type)
    if (
        values[_OUTPUT_TOKENS] is not None
        and values[_OUTPUT_CHARS] is None
        and ("gen_ai.completion.0.role" in attrs or "gen_ai.completion.0.content" in attrs)
    ):
        values[_OUTPUT_CHARS] = flat_chars(attrs, "gen_ai.completion.", _COMPLETION_SUFFIXES)
    if events and start_ns is not None and values[_TTFC] is None:
        _stream_times(values, events, start_ns)


def _stream_times(values: list[Any], events: Sequence[SpanEvent], start_ns: int) -> None:
    """Time to first chunk and to first visible chunk, measured from the
    chunk events (see the module docstring). Events come in time order."""
    times: list[int] = []
    with_delta: int | None = None
    bare = True  # no chunk event carries attributes
    for event in events:
        if event.name not in _CHUNK_EVENTS or event.time_ns < start_ns:
            continue
        times.append(event.time_ns)
        ev = event.attributes
        if ev:
            bare = False
            if any(nonempty(ev.get(k)) for k in _DELTA_KEYS):
                with_delta = event.time_ns
                break
        elif bare and len(times) == 2:
            break  # two bare chunks: the stream's shape is known, stop early
    if not times:
        return
    values[_TTFC] = (times[0] - start_ns) / 1e9
    visible = (times[1] if len(times) > 1 else None) if bare else with_delta
    if visible is not None and values[_TTFV] is None:
        values[_TTFV] = (visible - start_ns) / 1e9


FAMILY = Family(
    "openllmetry",
    TABLE,
    signals=("traceloop.", "llm.request.type", "llm.usage."),
    hook=_hook,
    reads_events=True,
)
