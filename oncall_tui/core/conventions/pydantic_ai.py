"""Pydantic AI's own names, beside the OTel GenAI ones it also writes.

Its instrumentation version 1 (still selectable) names a tool span's
arguments ``tool_arguments`` and its result ``tool_response``, and the agent
run span's agent ``agent_name``; version 2 and later use
``gen_ai.tool.call.arguments`` / ``.result`` and ``gen_ai.agent.name``
(``otel_genai``). Source: pydantic/pydantic-ai
``pydantic_ai/_instrumentation.py`` (``InstrumentationNames``).
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
)

_OP = FIELD["operation"]


def _hook(
    attrs: Mapping[str, Any], values: list[Any], name: str, events: Sequence[SpanEvent]
) -> None:
    # ``agent_name`` (unlike the ``gen_ai.agent.name`` baggage copied onto
    # every span of the run) is set on the agent run span only.
    if values[_OP] is None and "agent_name" in attrs and "model_name" in attrs:
        values[_OP] = "invoke_agent"


FAMILY = Family("pydantic_ai", TABLE, signals=("agent_name",), hook=_hook)
