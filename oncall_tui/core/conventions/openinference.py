"""OpenInference (Arize Phoenix): ``openinference.span.kind``, ``llm.*``,
``tool.*``, ``input.value`` / ``output.value``, ``graph.node.id``, ``metadata``.

Registry: Arize-ai/openinference ``openinference-semantic-conventions``
(``openinference/semconv/trace/__init__.py``). Emitted by the langchain /
LangGraph, openai-agents, openai, llama-index, crewai, ... instrumentations.

What a table cannot say, the hook does:
- the span kind decides the operation (LLM -> chat, TOOL -> execute_tool, ...);
- a TOOL span's arguments and result are ``input.value`` / ``output.value``.
  ``tool.parameters`` is the tool's JSON schema, the same on every call: never
  the arguments (reading it as such made every Agents SDK tool that ran three
  times a "repeated identical call");
- the request model and sampling parameters live in the JSON string
  ``llm.invocation_parameters`` (``model``, or ``model_name`` in LlamaIndex);
- agent identity: ``agent.name``, else ``graph.node.id`` (Agents SDK, CrewAI),
  else the LangGraph node (``metadata`` JSON, ``langgraph_node``), else the
  span name. Which CHAIN spans are agents is in ``_chain_agent``;
- an LLM span's visible output size is the sum of its
  ``llm.output_messages.N.message.content`` (and ``.contents.M`` text parts)
  and tool-call arguments; the openai-agents instrumentation records a
  streamed call's reasoning tokens only in ``output.value`` (the Responses
  API object's ``usage.output_tokens_details.reasoning_tokens``), read when
  that value is small and names them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from oncall_tui.core.conventions.base import (
    FIELD,
    Family,
    flat_chars,
    json_object,
    nonempty,
    to_float,
    to_int,
    to_str,
)
from oncall_tui.core.models import SpanEvent

TABLE: tuple[tuple[str, str, int], ...] = (
    ("llm.provider", "provider", 5),
    ("llm.system", "provider", 15),  # "the AI product": may name a framework
    ("llm.request.model_name", "request_model", 20),
    ("llm.response.model_name", "response_model", 20),
    ("llm.model_name", "response_model", 21),  # what answered (e.g. a dated snapshot)
    ("agent.name", "agent_name", 20),
    ("session.id", "conversation_id", 20),
    ("tool.name", "tool_name", 20),
    ("tool_call.id", "tool_call_id", 20),
    ("tool.id", "tool_call_id", 21),
    ("llm.token_count.prompt", "input_tokens", 20),
    ("llm.token_count.completion", "output_tokens", 20),
    ("llm.token_count.completion_details.reasoning", "reasoning_tokens", 20),
    ("llm.token_count.prompt_details.cache_read", "cache_read_tokens", 20),
    ("llm.token_count.prompt_details.cache_write", "cache_creation_tokens", 20),
    ("llm.finish_reason", "finish_reasons", 20),
    ("llm.prompt_template.version", "system_prompt_hash", 20),
)

KIND_TO_OPERATION = {
    "LLM": "chat",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
}

# LangGraph nodes that are machinery, never an agent: the ToolNode (which runs
# a model turn's tool calls, several in parallel) recurs by the same name in
# every nested create_react_agent graph, so calling it an agent would close a
# false loop through any tool that runs a sub-agent; the model-calling node is
# the model's wrapper, not who decides.
_MACHINERY_NODES = frozenset(
    {
        "tools",
        "tool_node",
        "action",
        "model",
        "call_model",
        "llm",
        "pre_model_hook",
        "post_model_hook",
        "generate_structured_response",
        "should_continue",
        "LangGraph",
    }
)

_OP = FIELD["operation"]
_AGENT = FIELD["agent_name"]
_TOOL = FIELD["tool_name"]
_ARGS = FIELD["tool_call_arguments"]
_RESULT = FIELD["tool_call_result"]
_REQUEST = FIELD["request_model"]
_OUTPUT_TOKENS = FIELD["output_tokens"]
_OUTPUT_CHARS = FIELD["output_chars"]
_REASONING = FIELD["reasoning_tokens"]
_OUTPUT_SUFFIXES = (
    ".message.content",
    ".message_content.text",
    ".tool_call.function.arguments",
)
# output.value is parsed for a reasoning count only up to this size: the
# Responses object is a few KB; a long answer is not worth a parse per span.
_MAX_USAGE_JSON = 64 * 1024
_PARAMS = (
    ("temperature", FIELD["temperature"], to_float),
    ("top_p", FIELD["top_p"], to_float),
    ("max_tokens", FIELD["max_tokens"], to_int),
    ("seed", FIELD["seed"], to_int),
)


def _hook(
    attrs: Mapping[str, Any],
    values: list[Any],
    name: str,
    events: Sequence[SpanEvent],
    start_ns: int | None,
) -> None:
    if "llm.invocation_parameters" in attrs:
        _invocation(json_object(attrs["llm.invocation_parameters"]), values)
    kind = attrs.get("openinference.span.kind")
    if not isinstance(kind, str):
        return
    kind = kind.upper()
    if kind == "AGENT" and nonempty(attrs.get("tool.name")) and not _agent_identity(attrs):
        # LangChain marks any run whose name contains "agent" as AGENT, tools
        # included ("ask_research_agent"): a span with a tool name and no
        # agent identity is the tool.
        kind = "TOOL"
    if values[_OP] is None:
        values[_OP] = KIND_TO_OPERATION.get(kind)
    if kind == "TOOL":
        values[_TOOL] = values[_TOOL] or name or None
        if values[_ARGS] is None and nonempty(attrs.get("input.value")):
            values[_ARGS] = to_str(attrs["input.value"])
        if values[_RESULT] is None and attrs.get("output.value") is not None:
            values[_RESULT] = to_str(attrs["output.value"])
        return
    # Only a TOOL span is a tool: LlamaIndex writes the tool about to run
    # onto the agent step that dispatches it.
    values[_TOOL] = None
    if kind == "LLM" and values[_OUTPUT_TOKENS] is not None:
        _llm_output(attrs, values)
    if kind == "AGENT":
        values[_AGENT] = _agent_identity(attrs) or _graph_node(attrs, name) or name or None
    elif kind == "CHAIN" and values[_OP] is None:
        agent = _chain_agent(attrs, name)
        if agent:
            values[_OP] = "invoke_agent"
            values[_AGENT] = agent


def _llm_output(attrs: Mapping[str, Any], values: list[Any]) -> None:
    if values[_OUTPUT_CHARS] is None and "llm.output_messages.0.message.role" in attrs:
        values[_OUTPUT_CHARS] = flat_chars(attrs, "llm.output_messages.", _OUTPUT_SUFFIXES)
    raw = attrs.get("output.value")
    if (
        values[_REASONING] is None
        and isinstance(raw, str)
        and len(raw) <= _MAX_USAGE_JSON
        and '"reasoning_tokens"' in raw
    ):
        values[_REASONING] = _usage_reasoning(raw)


def _usage_reasoning(raw: str) -> int | None:
    """``usage.output_tokens_details.reasoning_tokens`` (Responses API) or
    ``usage.completion_tokens_details.reasoning_tokens`` (Chat Completions)
    of the response object(s) in an ``output.value`` JSON string."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    for item in (parsed if isinstance(parsed, list) else [parsed])[:8]:
        usage = item.get("usage") if isinstance(item, dict) else None
        if not isinstance(usage, dict):
            continue
        for key in ("output_tokens_details", "completion_tokens_details"):
            details = usage.get(key)
            if isinstance(details, dict):
                count = to_int(details.get("reasoning_tokens"))
                if count is not None and count >= 0:
                    return count
    return None


def _invocation(params: dict[str, Any], values: list[Any]) -> None:
    if values[FIELD["streaming"]] is None and isinstance(params.get("stream"), bool):
        values[FIELD["streaming"]] = params["stream"]
    if values[_REQUEST] is None:
        model = params.get("model") or params.get("model_name")
        if isinstance(model, str) and model:
            values[_REQUEST] = model
    for key, index, convert in _PARAMS:
        if values[index] is None and params.get(key) is not None:
            values[index] = convert(params[key])


def _agent_identity(attrs: Mapping[str, Any]) -> str | None:
    for key in ("agent.name", "graph.node.id", "graph.node.name"):
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _graph_node(attrs: Mapping[str, Any], name: str) -> str | None:
    """The LangGraph node this span IS (not merely runs inside: LangChain
    copies the node's metadata onto every run below it, so the node's own span
    is the one whose name is the node)."""
    if "metadata" not in attrs:
        return None
    meta = json_object(attrs["metadata"])
    agent = meta.get("lc_agent_name")
    if isinstance(agent, str) and agent and agent == name:
        return agent
    node = meta.get("langgraph_node")
    if isinstance(node, str) and node and node == name:
        return node
    return None


def _chain_agent(attrs: Mapping[str, Any], name: str) -> str | None:
    """A CHAIN span that is an agent run: one with an agent identity of its
    own, or a LangGraph node (a supervisor's sub-agent, a graph's named step)
    that is not the framework's machinery. When unsure: not an agent, so the
    span collapses through; a missed agent costs a label, a false one a loop."""
    identity = _agent_identity(attrs)
    if identity:
        return identity
    node = _graph_node(attrs, name)
    if node is None or node in _MACHINERY_NODES or node.startswith("__"):
        return None
    if "tool" in node.lower():  # a renamed ToolNode ("run_tools", "ToolNode")
        return None
    return node


FAMILY = Family(
    "openinference",
    TABLE,
    signals=("openinference.", "llm.", "tool.", "tool_call."),
    hook=_hook,
)
