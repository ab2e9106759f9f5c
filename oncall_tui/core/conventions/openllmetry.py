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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oncall_tui.core.conventions.base import FIELD, Family, nonempty, to_str
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


def _hook(
    attrs: Mapping[str, Any], values: list[Any], name: str, events: Sequence[SpanEvent]
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


FAMILY = Family(
    "openllmetry",
    TABLE,
    signals=("traceloop.", "llm.request.type", "llm.usage."),
    hook=_hook,
)
