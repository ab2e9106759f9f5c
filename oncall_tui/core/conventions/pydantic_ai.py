"""Pydantic AI's own names, beside the OTel GenAI ones it also writes.

Its instrumentation version 1 (still selectable) names a tool span's
arguments ``tool_arguments`` and its result ``tool_response``, and the agent
run span's agent ``agent_name``; version 2 and later use
``gen_ai.tool.call.arguments`` / ``.result`` and ``gen_ai.agent.name``
(``otel_genai``). Source: pydantic/pydantic-ai
``pydantic_ai/_instrumentation.py`` (``InstrumentationNames``).
"""

from __future__ import annotations

from oncall_tui.core.conventions.base import Family

TABLE: tuple[tuple[str, str, int], ...] = (
    ("tool_arguments", "tool_call_arguments", 20),
    ("tool_response", "tool_call_result", 20),
    ("agent_name", "agent_name", 20),
)

FAMILY = Family("pydantic_ai", TABLE)
