"""OTel GenAI semantic conventions: the current ``gen_ai.*`` names, their
deprecated names, and the older event conventions (span events
``gen_ai.tool.message`` / ``gen_ai.choice`` /
``gen_ai.client.inference.operation.details``).

Registry: open-telemetry/semantic-conventions-genai ``model/gen-ai/registry.yaml``
and ``deprecated/registry-deprecated.yaml``, ``events-deprecated.yaml``.
Emitted by opentelemetry-instrumentation-openai-v2 with opentelemetry-util-genai
(``invoke_agent`` / ``execute_tool`` spans), Pydantic AI (see also
``pydantic_ai``), Strands, Semantic Kernel, Azure AI Inference, ...
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from oncall_tui.core.conventions.base import (
    FIELD,
    Family,
    messages_chars,
    nonempty,
    openai_message_chars,
    to_reasons,
    to_str,
)
from oncall_tui.core.models import SpanEvent

TABLE: tuple[tuple[str, str, int], ...] = (
    ("gen_ai.request.stream", "streaming", 0),
    ("gen_ai.operation.name", "operation", 0),
    ("gen_ai.provider.name", "provider", 0),
    ("gen_ai.system", "provider", 10),  # deprecated; often names a framework
    ("gen_ai.request.model", "request_model", 0),
    ("gen_ai.response.model", "response_model", 0),
    ("gen_ai.agent.name", "agent_name", 0),
    ("gen_ai.conversation.id", "conversation_id", 0),
    ("gen_ai.tool.name", "tool_name", 0),
    ("gen_ai.tool.call.id", "tool_call_id", 0),
    ("gen_ai.tool.call.arguments", "tool_call_arguments", 0),
    ("gen_ai.tool.call.result", "tool_call_result", 0),
    ("gen_ai.usage.input_tokens", "input_tokens", 0),
    ("gen_ai.usage.prompt_tokens", "input_tokens", 10),
    ("gen_ai.usage.output_tokens", "output_tokens", 0),
    ("gen_ai.usage.completion_tokens", "output_tokens", 10),
    ("gen_ai.usage.reasoning.output_tokens", "reasoning_tokens", 0),
    ("gen_ai.usage.reasoning_tokens", "reasoning_tokens", 10),
    ("gen_ai.usage.output_tokens_details.reasoning_tokens", "reasoning_tokens", 11),
    ("gen_ai.usage.cache_read.input_tokens", "cache_read_tokens", 0),
    ("gen_ai.usage.cache_read_input_tokens", "cache_read_tokens", 10),
    ("gen_ai.usage.cache_creation.input_tokens", "cache_creation_tokens", 0),
    ("gen_ai.usage.cache_creation_input_tokens", "cache_creation_tokens", 10),
    ("gen_ai.usage.cache_write_input_tokens", "cache_creation_tokens", 11),  # Strands
    ("gen_ai.response.time_to_first_chunk", "time_to_first_chunk_s", 0),
    ("gen_ai.server.time_to_first_token", "time_to_first_chunk_s", 10),
    # Not in the conventions yet: the first chunk a user can SEE (reasoning
    # chunks excluded). Our simulator and docs/protocol.md emit it.
    ("gen_ai.response.time_to_first_visible_chunk", "time_to_first_visible_s", 0),
    ("gen_ai.response.finish_reasons", "finish_reasons", 0),
    ("gen_ai.request.temperature", "temperature", 0),
    ("gen_ai.request.top_p", "top_p", 0),
    ("gen_ai.request.max_tokens", "max_tokens", 0),
    ("gen_ai.request.seed", "seed", 0),
    ("gen_ai.openai.request.seed", "seed", 10),
    ("gen_ai.system_instructions.hash", "system_prompt_hash", 0),
    ("gen_ai.prompt.hash", "system_prompt_hash", 1),
    ("gen_ai.prompt.template.version", "system_prompt_hash", 2),
    ("error.type", "error_type", 0),
)

_OP = FIELD["operation"]
_HASH = FIELD["system_prompt_hash"]
_ARGS = FIELD["tool_call_arguments"]
_RESULT = FIELD["tool_call_result"]
_FINISH = FIELD["finish_reasons"]
_CALL_ID = FIELD["tool_call_id"]
_OUTPUT_TOKENS = FIELD["output_tokens"]
_OUTPUT_CHARS = FIELD["output_chars"]


def _hook(
    attrs: Mapping[str, Any],
    values: list[Any],
    name: str,
    events: Sequence[SpanEvent],
    start_ns: int | None,
) -> None:
    if values[_HASH] is None:
        instructions = attrs.get("gen_ai.system_instructions")
        if nonempty(instructions):
            text = to_str(instructions) or ""
            values[_HASH] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    # The visible output's size, only where it can matter: a call that
    # counted its output tokens (one parse of the model's own output).
    if (
        values[_OUTPUT_TOKENS] is not None
        and values[_OP] != "execute_tool"
        and "gen_ai.output.messages" in attrs
    ):
        values[_OUTPUT_CHARS] = messages_chars(attrs["gen_ai.output.messages"])
    if events:
        _from_events(values, events)


def _from_events(values: list[Any], events: Sequence[SpanEvent]) -> None:
    """The older event conventions put a tool span's arguments and result, and
    a model span's finish reason, in span events instead of attributes."""
    tool = values[_OP] == "execute_tool"
    # Output size from events, only when no attribute gave it (several
    # choices are summed; one without content makes it unknown).
    chars: int | None = None
    sized = values[_OUTPUT_CHARS] is not None or tool or values[_OUTPUT_TOKENS] is None
    unknown = False
    for event in events:
        attrs = event.attributes
        if event.name == "gen_ai.tool.message" and tool:
            # On a tool span (Strands): the call as the tool received it.
            if values[_ARGS] is None and nonempty(attrs.get("content")):
                values[_ARGS] = to_str(attrs["content"])
            if values[_CALL_ID] is None and nonempty(attrs.get("id")):
                values[_CALL_ID] = to_str(attrs["id"])
        elif event.name == "gen_ai.choice":
            if tool:
                if values[_RESULT] is None and attrs.get("message") is not None:
                    values[_RESULT] = to_str(attrs["message"])
            else:
                if not sized and not unknown:
                    message = attrs.get("message")
                    if message is None:  # the oldest form: one JSON body
                        message = _json(attrs.get("gen_ai.event.content")).get("message")
                    size = openai_message_chars(message)
                    if size is None:
                        unknown = True
                    else:
                        chars = (chars or 0) + size
                if not values[_FINISH]:
                    reason = attrs.get("finish_reason")
                    if reason is None:
                        reason = _json(attrs.get("gen_ai.event.content")).get("finish_reason")
                    if nonempty(reason):
                        values[_FINISH] = to_reasons(reason)
        elif event.name == "gen_ai.client.inference.operation.details" and not tool:
            if not sized and "gen_ai.output.messages" in attrs:
                values[_OUTPUT_CHARS] = messages_chars(attrs["gen_ai.output.messages"])
                sized = True
        elif event.name == "gen_ai.client.inference.operation.details" and tool:
            for part in _parts(attrs.get("gen_ai.input.messages")):
                if part.get("type") == "tool_call" and values[_ARGS] is None:
                    values[_ARGS] = to_str(part.get("arguments"))
            for part in _parts(attrs.get("gen_ai.output.messages")):
                if part.get("type") == "tool_call_response" and values[_RESULT] is None:
                    values[_RESULT] = to_str(part.get("response", part.get("result")))
    if chars is not None and not unknown and values[_OUTPUT_CHARS] is None:
        values[_OUTPUT_CHARS] = chars


def _json(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _parts(raw: Any) -> list[dict[str, Any]]:
    """The message parts of a ``gen_ai.input.messages`` /
    ``gen_ai.output.messages`` value (a JSON string or an array)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return []
    parts: list[dict[str, Any]] = []
    for message in raw if isinstance(raw, list) else ():
        if isinstance(message, dict):
            parts.extend(p for p in message.get("parts") or () if isinstance(p, dict))
    return parts


FAMILY = Family("otel_genai", TABLE, signals=("gen_ai.",), hook=_hook, reads_events=True)
