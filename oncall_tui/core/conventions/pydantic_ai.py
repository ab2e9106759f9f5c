"""Pydantic AI's own names, beside the OTel GenAI ones it also writes.

Its instrumentation version 1 (still selectable) names a tool span's
arguments ``tool_arguments`` and its result ``tool_response``, and the agent
run span's agent ``agent_name``; version 2 and later use
``gen_ai.tool.call.arguments`` / ``.result`` and ``gen_ai.agent.name``
(``otel_genai``). Source: pydantic/pydantic-ai
``pydantic_ai/_instrumentation.py`` (``InstrumentationNames``).

Its ``gen_ai.client.operation.time_to_first_chunk`` (seconds) is taken when
the first chunk carrying content arrives, not the stream's first (role-only)
chunk: in the recorded o3-mini stream it reads 2.566 s where the role chunk
came at 0.05 s and the first text at 2.54 s. So it is a time to first
VISIBLE chunk, from the request's start. Reasoning tokens are in its usage
details (``gen_ai.usage.details.reasoning_tokens``, from the provider's
``completion_tokens_details``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oncall_tui.core.conventions.base import FIELD, Family
from oncall_tui.core.models import SpanEvent

TABLE: tuple[tuple[str, str, int], ...] = (
    ("tool_arguments", "tool_call_arguments", 20),
    ("tool_response", "tool_call_result", 20),
    ("agent_name", "agent_name", 20),
    ("gen_ai.client.operation.time_to_first_chunk", "time_to_first_visible_s", 20),
    ("gen_ai.usage.details.reasoning_tokens", "reasoning_tokens", 20),
)

_OP = FIELD["operation"]


def _hook(
    attrs: Mapping[str, Any],
    values: list[Any],
    name: str,
    events: Sequence[SpanEvent],
    start_ns: int | None,
) -> None:
    # ``agent_name`` (unlike the ``gen_ai.agent.name`` baggage copied onto
    # every span of the run) is set on the agent run span only.
    if values[_OP] is None and "agent_name" in attrs and "model_name" in attrs:
        values[_OP] = "invoke_agent"


FAMILY = Family("pydantic_ai", TABLE, signals=("agent_name",), hook=_hook)
