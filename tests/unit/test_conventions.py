"""Convention families: what each instrumentation's attributes mean in the
GenAI view, and the diagnoses that depend on reading them right.

The attribute sets are copied from what the libraries set (their source or
recorded spans): OpenInference openai-agents ``_processor.py``, langchain
``_tracer.py``, llama-index ``_handler.py``, crewai ``_wrappers.py``; OTel
openai-v2 and util-genai; Pydantic AI ``_instrumentation.py``; Strands
``telemetry/tracer.py``; OpenLLMetry ``semconv_ai``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from oncall_tui.core.analysis import analyze
from oncall_tui.core.assemble import assemble
from oncall_tui.core.conventions import FAMILIES, genai_view
from oncall_tui.core.graph import node_key
from oncall_tui.core.models import GenAI, Span, SpanEvent, Trace

MS = 1_000_000

_LANGGRAPH_META = {
    "langgraph_step": 1,
    "langgraph_node": "agent",
    "langgraph_triggers": ["branch:to:agent"],
    "langgraph_path": ["__pregel_pull", "agent"],
    "langgraph_checkpoint_ns": "agent:1f0a6f2e-0a1b-6c3d-8e4f-5a6b7c8d9e0f",
    "checkpoint_ns": "agent:1f0a6f2e-0a1b-6c3d-8e4f-5a6b7c8d9e0f",
    "ls_provider": "openai",
    "ls_model_name": "gpt-4o-mini",
    "ls_model_type": "chat",
    "ls_temperature": 0.0,
}


def _meta(**changes: Any) -> str:
    return json.dumps({**_LANGGRAPH_META, **changes})


# (case, span name, attributes, events, expected view fields)
CASES: list[tuple[str, str, dict[str, Any], tuple[SpanEvent, ...], dict[str, Any]]] = [
    # -- OpenInference: OpenAI Agents SDK ------------------------------------
    (
        "oi-agents function span: args are input.value, never tool.parameters",
        "get_weather",
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "input.value": '{"city":"Paris"}',
            "input.mime_type": "application/json",
            "output.value": "Sunny, 21C",
            "tool.description": "Get the weather for a city.",
            "tool.parameters": '{"properties":{"city":{"title":"City","type":"string"}},'
            '"required":["city"],"title":"get_weather_args","type":"object",'
            '"additionalProperties":false}',
        },
        (),
        {
            "operation": "execute_tool",
            "tool_name": "get_weather",
            "tool_call_arguments": '{"city":"Paris"}',
            "tool_call_result": "Sunny, 21C",
        },
    ),
    (
        "oi-agents response span: request model from llm.invocation_parameters",
        "response",
        {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2,'
            ' "parallel_tool_calls": true, "tool_choice": "auto"}',
            "llm.token_count.prompt": 312,
            "llm.token_count.completion": 96,
            "llm.token_count.total": 408,
            "llm.token_count.prompt_details.cache_read": 128,
            "llm.token_count.completion_details.reasoning": 64,
        },
        (),
        {
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o-mini",
            "response_model": "gpt-4o-mini-2024-07-18",
            "temperature": 0.2,
            "input_tokens": 312,
            "output_tokens": 96,
            "cache_read_tokens": 128,
            "reasoning_tokens": 64,
        },
    ),
    (
        "oi-agents agent span: graph.node.id / agent.name",
        "Weather agent",
        {
            "openinference.span.kind": "AGENT",
            "graph.node.id": "Weather agent",
            "agent.name": "Weather agent",
        },
        (),
        {"operation": "invoke_agent", "agent_name": "Weather agent"},
    ),
    (
        "oi-agents trace root: an AGENT span named by the workflow",
        "Agent workflow",
        {"openinference.span.kind": "AGENT"},
        (),
        {"operation": "invoke_agent", "agent_name": "Agent workflow"},
    ),
    # -- OpenInference: LangChain / LangGraph --------------------------------
    (
        "langchain ChatOpenAI: framework metadata is not an agent",
        "ChatOpenAI",
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.system": "openai",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.invocation_parameters": '{"model": "gpt-4o-mini", "model_name": "gpt-4o-mini",'
            ' "stream": false, "temperature": 0.0, "_type": "openai-chat", "stop": null}',
            "metadata": _meta(),
            "llm.token_count.prompt": 80,
            "llm.token_count.completion": 17,
        },
        (),
        {
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o-mini",
            "agent_name": None,
            "temperature": 0.0,
        },
    ),
    (
        "langgraph 'agent' node (AGENT by the tracer's name rule)",
        "agent",
        {"openinference.span.kind": "AGENT", "metadata": _meta(), "input.value": "{}"},
        (),
        {"operation": "invoke_agent", "agent_name": "agent", "tool_call_arguments": None},
    ),
    (
        "langgraph ToolNode 'tools': machinery, neither tool nor agent",
        "tools",
        {
            "openinference.span.kind": "CHAIN",
            "metadata": _meta(langgraph_node="tools", langgraph_step=2),
            "input.value": '{"messages": []}',
        },
        (),
        {"operation": None, "agent_name": None, "tool_name": None},
    ),
    (
        "langgraph supervisor: a sub-agent node recorded as CHAIN is the agent",
        "research_expert",
        {
            "openinference.span.kind": "CHAIN",
            "metadata": _meta(langgraph_node="research_expert"),
        },
        (),
        {"operation": "invoke_agent", "agent_name": "research_expert"},
    ),
    (
        "a run below a node inherits its metadata: not the node",
        "RunnableSequence",
        {"openinference.span.kind": "CHAIN", "metadata": _meta(langgraph_node="research_expert")},
        (),
        {"operation": None, "agent_name": None},
    ),
    (
        "langchain agent named by lc_agent_name",
        "weather_bot",
        {
            "openinference.span.kind": "CHAIN",
            "metadata": json.dumps({"lc_agent_name": "weather_bot", "thread_id": "t1"}),
        },
        (),
        {"operation": "invoke_agent", "agent_name": "weather_bot"},
    ),
    (
        "langchain TOOL span",
        "get_weather",
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "tool.description": "Get the weather for a city.",
            "input.value": "{'city': 'Paris'}",
            "output.value": 'content="Sunny" name="get_weather" tool_call_id="call_1"',
            "metadata": _meta(langgraph_node="tools"),
        },
        (),
        {"operation": "execute_tool", "tool_call_arguments": "{'city': 'Paris'}"},
    ),
    (
        "langchain tool whose name says 'agent' is still the tool",
        "ask_research_agent",
        {
            "openinference.span.kind": "AGENT",
            "tool.name": "ask_research_agent",
            "input.value": '{"question": "why"}',
        },
        (),
        {"operation": "execute_tool", "tool_name": "ask_research_agent", "agent_name": None},
    ),
    # -- OpenInference: CrewAI, LlamaIndex ------------------------------------
    (
        "crewai task span: the agent is graph.node.id (its role)",
        "Research the topic",
        {
            "openinference.span.kind": "AGENT",
            "graph.node.id": "Senior Researcher",
            "task_key": "k",
            "input.value": "{}",
        },
        (),
        {"operation": "invoke_agent", "agent_name": "Senior Researcher"},
    ),
    (
        "llama-index LLM: invocation parameters say model_name",
        "OpenAI.achat",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.invocation_parameters": '{"context_window": 128000, "num_output": -1,'
            ' "is_chat_model": true, "is_function_calling_model": true,'
            ' "model_name": "gpt-4o-mini", "system_role": "system"}',
            "llm.provider": "openai",
            "llm.system": "openai",
        },
        (),
        {"operation": "chat", "request_model": "gpt-4o-mini", "provider": "openai"},
    ),
    (
        "llama-index agent step carrying the tool it dispatches is not the tool",
        "FunctionAgent.call_tool",
        {
            "openinference.span.kind": "CHAIN",
            "tool.name": "multiply",
            "tool.parameters": '{"type": "object"}',
        },
        (),
        {"operation": None, "tool_name": None, "tool_call_arguments": None},
    ),
    # -- OTel GenAI ------------------------------------------------------------
    (
        "openai-v2 chat span",
        "chat gpt-4o-mini",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.response.finish_reasons": ("tool_calls",),
            "gen_ai.usage.input_tokens": 50,
            "gen_ai.usage.output_tokens": 20,
            "server.address": "127.0.0.1",
            "server.port": 8000,
        },
        (),
        {
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o-mini",
            "finish_reasons": ("tool_calls",),
            "input_tokens": 50,
        },
    ),
    (
        "util-genai tool span",
        "execute_tool get_weather",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": '{"city":"Paris"}',
            "gen_ai.tool.call.result": "Sunny",
        },
        (),
        {"tool_call_id": "call_1", "tool_call_arguments": '{"city":"Paris"}'},
    ),
    (
        "reasoning, cache and first chunk, current names",
        "chat o4-mini",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "o4-mini",
            "gen_ai.usage.output_tokens": 900,
            "gen_ai.usage.reasoning.output_tokens": 640,
            "gen_ai.usage.cache_read.input_tokens": 1024,
            "gen_ai.usage.cache_creation.input_tokens": 0,
            "gen_ai.response.time_to_first_chunk": 3.5,
        },
        (),
        {
            "reasoning_tokens": 640,
            "cache_read_tokens": 1024,
            "cache_creation_tokens": 0,
            "time_to_first_chunk_s": 3.5,
        },
    ),
    (
        "older reasoning and cache names",
        "chat",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.completion_tokens": 900,
            "gen_ai.usage.output_tokens_details.reasoning_tokens": 600,
            "gen_ai.usage.cache_read_input_tokens": 12,
            "gen_ai.usage.cache_creation_input_tokens": 34,
            "gen_ai.server.time_to_first_token": 1.25,
        },
        (),
        {
            "output_tokens": 900,
            "reasoning_tokens": 600,
            "cache_read_tokens": 12,
            "cache_creation_tokens": 34,
            "time_to_first_chunk_s": 1.25,
        },
    ),
    (
        "strands tool span: arguments and result only in the older events",
        "execute_tool search_flights",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.system": "strands-agents",
            "gen_ai.tool.name": "search_flights",
            "gen_ai.tool.call.id": "tooluse_JuGterOa",
            "gen_ai.event.start_time": "2025-03-15T10:00:00+00:00",
        },
        (
            SpanEvent(
                "gen_ai.tool.message",
                1,
                {"role": "tool", "content": '{"origin": "SEA"}', "id": "tooluse_JuGterOa"},
            ),
            SpanEvent("gen_ai.choice", 2, {"message": '[{"text": "2 flights"}]', "id": "x"}),
        ),
        {
            "provider": None,  # strands-agents is the framework, not the provider
            "tool_call_arguments": '{"origin": "SEA"}',
            "tool_call_result": '[{"text": "2 flights"}]',
        },
    ),
    (
        "azure-style model span: finish reason only in a gen_ai.choice event",
        "chat gpt-4o",
        {"gen_ai.operation.name": "chat", "gen_ai.system": "az.ai.inference"},
        (
            SpanEvent(
                "gen_ai.choice",
                1,
                {"gen_ai.event.content": '{"finish_reason": "stop", "index": 0, "message": {}}'},
            ),
        ),
        {"provider": "az.ai.inference", "finish_reasons": ("stop",)},
    ),
    # -- Pydantic AI ------------------------------------------------------------
    (
        "pydantic-ai v1 tool span: tool_arguments / tool_response",
        "running tool",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "roll_dice",
            "gen_ai.tool.call.id": "pyd_ai_tool_call_id_1",
            "tool_arguments": '{"sides":6}',
            "tool_response": "4",
            "gen_ai.agent.name": "dice_game",
            "logfire.msg": "running tool: roll_dice",
        },
        (),
        {"tool_call_arguments": '{"sides":6}', "tool_call_result": "4", "tool_name": "roll_dice"},
    ),
    (
        "pydantic-ai chat span: its first-chunk time is the first chunk WITH content",
        "chat gpt-4o",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.agent.name": "dice_game",
            "gen_ai.client.operation.time_to_first_chunk": 0.42,
            "gen_ai.usage.output_tokens": 3020,
            "gen_ai.usage.details.reasoning_tokens": 3000,
        },
        (),
        {
            "operation": "chat",
            "time_to_first_chunk_s": None,
            "time_to_first_visible_s": 0.42,
            "reasoning_tokens": 3000,
            "provider": "openai",
        },
    ),
    # -- OpenLLMetry -------------------------------------------------------------
    (
        "traceloop tool span: arguments are traceloop.entity.input",
        "get_weather.tool",
        {
            "traceloop.span.kind": "tool",
            "traceloop.entity.name": "get_weather",
            "traceloop.entity.path": "",
            "traceloop.workflow.name": "weather_workflow",
            "traceloop.entity.input": '{"args": [], "kwargs": {"city": "Paris"}}',
            "traceloop.entity.output": '"Sunny"',
        },
        (),
        {
            "operation": "execute_tool",
            "tool_name": "get_weather",
            "tool_call_arguments": '{"args": [], "kwargs": {"city": "Paris"}}',
            "tool_call_result": '"Sunny"',
        },
    ),
    (
        "traceloop agent span",
        "planner.agent",
        {"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"},
        (),
        {"operation": "invoke_agent", "agent_name": "planner"},
    ),
    (
        "traceloop workflow span is plain",
        "weather_workflow.workflow",
        {"traceloop.span.kind": "workflow", "traceloop.entity.name": "weather_workflow"},
        (),
        {"operation": None, "agent_name": None, "tool_name": None},
    ),
    (
        "traceloop openai chat span with flattened completions",
        "openai.chat",
        {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "llm.usage.total_tokens": 70,
            "gen_ai.usage.prompt_tokens": 50,
            "gen_ai.usage.completion_tokens": 20,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "weather in Paris?",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.tool_calls.0.id": "call_1",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}',
            "llm.is_streaming": False,
        },
        (),
        {
            "operation": "chat",
            "provider": "openai",
            "input_tokens": 50,
            "output_tokens": 20,
            "finish_reasons": ("tool_calls",),
        },
    ),
    (
        "traceloop langchain LLM: 'Langchain' is no provider, the model says openai",
        "ChatOpenAI.chat",
        {
            "llm.request.type": "chat",
            "gen_ai.system": "Langchain",
            "gen_ai.request.model": "gpt-4o-mini",
        },
        (),
        {"operation": "chat", "provider": "openai"},
    ),
    (
        "newest openllmetry: current gen_ai names, finish reasons as a Python repr",
        "openai.chat",
        {
            "gen_ai.operation.name": "chat",
            "traceloop.workflow.name": "refund_request",
            "gen_ai.agent.name": "support_agent",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.finish_reasons": "['tool_call']",
            "gen_ai.usage.input_tokens": "31",
            "gen_ai.usage.reasoning_tokens": "0",
        },
        (),
        {"operation": "chat", "finish_reasons": ("tool_call",), "input_tokens": 31},
    ),
    (
        "pydantic-ai v1 agent run span",
        "agent run",
        {"model_name": "gpt-4o", "agent_name": "dice_game", "logfire.msg": "dice_game run"},
        (),
        {"operation": "invoke_agent", "agent_name": "dice_game"},
    ),
    # -- HTTP client attempts -------------------------------------------------------
    (
        "http attempt, current names",
        "POST",
        {
            "http.request.method": "POST",
            "http.response.status_code": 429,
            "http.request.resend_count": 1,
            "url.full": "http://127.0.0.1:8000/v1/chat/completions",
        },
        (),
        {"http_status_code": 429, "http_resend_count": 1, "operation": None},
    ),
    (
        "http attempt, old names",
        "POST",
        {"http.method": "POST", "http.status_code": "500"},
        (),
        {"http_status_code": 500},
    ),
]


@pytest.mark.parametrize(
    ("name", "attrs", "events", "expected"),
    [pytest.param(n, a, e, x, id=case) for case, n, a, e, x in CASES],
)
def test_each_family_maps_its_attributes(
    name: str, attrs: dict[str, Any], events: tuple[SpanEvent, ...], expected: dict[str, Any]
) -> None:
    view = genai_view(attrs, name, events)
    assert view is not None
    assert {field: getattr(view, field) for field in expected} == expected


def test_tool_parameters_alone_are_never_arguments() -> None:
    view = genai_view(
        {"openinference.span.kind": "TOOL", "tool.name": "t", "tool.parameters": '{"a":1}'}, "t"
    )
    assert view is not None and view.tool_call_arguments is None


def test_families_are_registered_once() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    assert {"otel_genai", "openinference", "openllmetry", "http"} <= set(names)


# -- node identity ----------------------------------------------------------------


def _span(name: str, attrs: dict[str, Any], **kw: Any) -> Span:
    return Span(
        "a" * 32, "b" * 16, None, name, 0, 1, attributes=attrs, gen_ai=genai_view(attrs, name)
    )


@pytest.mark.parametrize(
    ("attrs", "key"),
    [
        ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o-mini"}, "model:openai/gpt-4o-mini"),
        ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
          "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}, "model:openai/gpt-4o-mini"),
        ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "openai/gpt-4o-mini"}, "model:openai/gpt-4o-mini"),
        # No provider attribute at all: the gateway prefix names it, once.
        ({"gen_ai.operation.name": "chat", "gen_ai.request.model": "openai/gpt-4o-mini"},
         "model:openai/gpt-4o-mini"),
        ({"openinference.span.kind": "LLM", "llm.system": "langchain",
          "llm.model_name": "claude-3-5-sonnet-20241022"}, "model:anthropic/claude-3-5-sonnet"),
        ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o"}, "model:openai/gpt-4o"),
    ],
)  # fmt: skip
def test_model_node_is_the_canonical_requested_model(attrs: dict[str, Any], key: str) -> None:
    assert node_key(_span("chat", attrs)) == key


def test_an_agent_name_copied_onto_an_http_attempt_makes_no_agent() -> None:
    """OpenLLMetry copies gen_ai.agent.name onto every span of the run; the
    HTTP attempts below a model call then looked like agent calls and closed
    an agent -> model -> agent loop (corpus openllmetry/http-retries)."""
    attrs = {
        "gen_ai.agent.name": "support_agent",
        "traceloop.workflow.name": "weather_request",
        "http.request.method": "POST",
        "http.response.status_code": 429,
    }
    assert node_key(_span("POST", attrs)) is None


def test_alias_and_snapshot_are_one_node_and_no_fallback() -> None:
    """Request gpt-4o-mini, answered by the dated snapshot; a retry records
    only the response model: one model, no tier demotion between them."""
    spans = [
        Span("c" * 32, "1" * 16, None, "invoke_agent a", 0, 100 * MS, attributes=(a := {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}),
            gen_ai=genai_view(a)),
        Span("c" * 32, "2" * 16, "1" * 16, "chat", 1 * MS, 5 * MS, status="error",
             attributes=(m1 := {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                "gen_ai.request.model": "gpt-4o-mini"}), gen_ai=genai_view(m1)),
        Span("c" * 32, "3" * 16, "1" * 16, "chat", 6 * MS, 9 * MS,
             attributes=(m2 := {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}),
             gen_ai=genai_view(m2)),
    ]  # fmt: skip
    [trace] = assemble(spans, source="test")
    result = analyze(trace)
    assert set(result.graph.nodes) == {"agent:a", "model:openai/gpt-4o-mini"}
    assert "tier_demotion" not in {f.kind for f in result.findings}


# -- diagnoses that depend on the tables ----------------------------------------------


class _Trace:
    """Spans with parent links and times, decoded through the real view."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._ids = itertools.count(1)

    def add(
        self,
        name: str,
        parent: str | None,
        start: int,
        end: int,
        attrs: dict[str, Any],
        events: tuple[SpanEvent, ...] = (),
    ) -> str:
        sid = f"{next(self._ids):016x}"
        self.spans.append(
            Span(
                "d" * 32, sid, parent, name, start * MS, end * MS,
                service="svc", host="h1", attributes=attrs, events=events,
                gen_ai=genai_view(attrs, name, events),
            )
        )  # fmt: skip
        return sid

    def trace(self) -> Trace:
        [trace] = assemble(self.spans, source="test")
        return trace


def _oi_llm(t: _Trace, parent: str, start: int, end: int) -> str:
    return t.add(
        "response",
        parent,
        start,
        end,
        {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.invocation_parameters": '{"model": "gpt-4o-mini"}',
            "llm.token_count.prompt": 100,
            "llm.token_count.completion": 10,
        },
    )


def test_agents_sdk_tool_called_three_times_with_different_args_is_no_repeat() -> None:
    """The issue's false alarm: one tool, three different arguments, the same
    schema in tool.parameters on every call."""
    t = _Trace()
    root = t.add("Agent workflow", None, 0, 100, {"openinference.span.kind": "AGENT"})
    agent = t.add(
        "Weather agent",
        root,
        1,
        99,
        {"openinference.span.kind": "AGENT", "graph.node.id": "Weather agent",
         "agent.name": "Weather agent"},
    )  # fmt: skip
    for i, city in enumerate(["Paris", "Oslo", "Lima"]):
        _oi_llm(t, agent, 2 + 20 * i, 10 + 20 * i)
        t.add(
            "get_weather",
            agent,
            11 + 20 * i,
            15 + 20 * i,
            {
                "openinference.span.kind": "TOOL",
                "tool.name": "get_weather",
                "input.value": json.dumps({"city": city}),
                "output.value": "Sunny",
                "tool.parameters": '{"properties":{"city":{"type":"string"}},"type":"object"}',
            },
        )
    findings = analyze(t.trace()).findings
    kinds = {f.kind for f in findings}
    assert "repeated_tool_call" not in kinds
    gaps = [f for f in findings if f.kind == "flight_recorder_gaps"]
    assert not gaps or "tool arguments" not in gaps[0].summary


def test_same_args_three_times_under_one_agent_still_alarms() -> None:
    t = _Trace()
    agent = t.add("a", None, 0, 100, {"openinference.span.kind": "AGENT", "agent.name": "a"})
    for i in range(3):
        t.add(
            "get_weather",
            agent,
            10 * i,
            10 * i + 5,
            {"openinference.span.kind": "TOOL", "tool.name": "get_weather",
             "input.value": '{"city": "Paris"}', "output.value": "err"},
        )  # fmt: skip
    assert "repeated_tool_call" in {f.kind for f in analyze(t.trace()).findings}


def _langgraph_react(t: _Trace, parent: str | None, start: int, tool: str) -> str:
    """One create_react_agent run as OpenInference records it: LangGraph ->
    agent (AGENT) -> ChatOpenAI, then tools (CHAIN) -> the TOOL span.
    Returns the TOOL span id."""
    graph = t.add("LangGraph", parent, start, start + 40, {"openinference.span.kind": "CHAIN"})
    node = t.add(
        "agent", graph, start + 1, start + 10,
        {"openinference.span.kind": "AGENT", "metadata": _meta()},
    )  # fmt: skip
    t.add(
        "ChatOpenAI", node, start + 2, start + 9,
        {"openinference.span.kind": "LLM", "llm.provider": "openai",
         "llm.model_name": "gpt-4o-mini", "metadata": _meta()},
    )  # fmt: skip
    tools = t.add(
        "tools", graph, start + 11, start + 39,
        {"openinference.span.kind": "CHAIN", "metadata": _meta(langgraph_node="tools")},
    )  # fmt: skip
    return t.add(
        tool, tools, start + 12, start + 38,
        {"openinference.span.kind": "TOOL", "tool.name": tool, "input.value": "{}",
         "metadata": _meta(langgraph_node="tools")},
    )  # fmt: skip


def test_a_tool_running_a_sub_agent_graph_is_no_cycle() -> None:
    """Tool A runs a sub-agent (another create_react_agent) that calls tool C:
    the two ToolNodes share the name "tools", which must not close a loop."""
    t = _Trace()
    tool_a = _langgraph_react(t, None, 0, "research")
    _langgraph_react(t, tool_a, 13, "web_search")
    result = analyze(t.trace())
    assert result.cycles == []
    assert "reentrancy_cycle" not in {f.kind for f in result.findings}
    assert "agent:tools" not in result.graph.nodes


def test_two_tools_reentering_each_other_through_sub_agents_is_a_cycle() -> None:
    t = _Trace()
    a1 = _langgraph_react(t, None, 0, "tool_a")
    b1 = _langgraph_react(t, a1, 13, "tool_b")
    _langgraph_react(t, b1, 26, "tool_a")
    result = analyze(t.trace())
    assert any({"tool:tool_a", "tool:tool_b"} <= set(c.nodes) for c in result.cycles)


# -- arguments recorded only on the model span -----------------------------------------


def _tool_without_args(t: _Trace, parent: str, call_id: str) -> str:
    return t.add(
        "execute_tool get_weather", parent, 20, 30,
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
         "gen_ai.tool.call.id": call_id},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("attrs", "events"),
    [
        (
            {"gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                {"type": "tool_call", "id": "call_9", "name": "get_weather",
                 "arguments": {"city": "Paris"}}]}])},
            (),
        ),
        (
            {"openinference.span.kind": "LLM",
             "llm.output_messages.0.message.role": "assistant",
             "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
             "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
             "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments":
                 '{"city":"Paris"}'},
            (),
        ),
        (
            {"llm.request.type": "chat",
             "gen_ai.completion.0.tool_calls.0.id": "call_9",
             "gen_ai.completion.0.tool_calls.0.name": "get_weather",
             "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}'},
            (),
        ),
        (
            {},
            (SpanEvent("gen_ai.choice", 5, {"gen_ai.event.content": json.dumps(
                {"finish_reason": "tool_calls", "index": 0, "message": {"tool_calls": [
                    {"id": "call_9", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}})}),),
        ),
    ],
    ids=["gen_ai.output.messages", "openinference", "openllmetry", "gen_ai.choice event"],
)  # fmt: skip
def test_tool_arguments_come_from_the_model_span_that_asked(
    attrs: dict[str, Any], events: tuple[SpanEvent, ...]
) -> None:
    t = _Trace()
    agent = t.add("invoke_agent a", None, 0, 100,
                  {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"})  # fmt: skip
    t.add("chat gpt-4o-mini", agent, 1, 10,
          {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", **attrs},
          events)  # fmt: skip
    tool = _tool_without_args(t, agent, "call_9")
    trace = t.trace()
    view = next(s.gen_ai for s in trace.spans if s.span_id == tool)
    assert isinstance(view, GenAI)
    assert view.tool_call_arguments is not None
    assert json.loads(view.tool_call_arguments) == {"city": "Paris"}


def test_a_result_read_back_by_the_next_model_call_fills_the_tool_result() -> None:
    t = _Trace()
    agent = t.add("invoke_agent a", None, 0, 100,
                  {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"})  # fmt: skip
    tool = _tool_without_args(t, agent, "call_9")
    t.add("chat", agent, 40, 50, {"gen_ai.operation.name": "chat", "gen_ai.input.messages":
          json.dumps([{"role": "tool", "parts": [
              {"type": "tool_call_response", "id": "call_9", "response": "Sunny"}]}])})  # fmt: skip
    view = next(s.gen_ai for s in t.trace().spans if s.span_id == tool)
    assert view is not None and view.tool_call_result == "Sunny"
    assert view.tool_call_arguments is None  # nobody recorded them: still unknown


def test_hostile_json_in_messages_costs_nothing_and_breaks_nothing() -> None:
    t = _Trace()
    agent = t.add("invoke_agent a", None, 0, 100,
                  {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"})  # fmt: skip
    t.add("chat", agent, 1, 10, {"gen_ai.operation.name": "chat",
          "gen_ai.output.messages": "[" * 5000 + "tool"})  # fmt: skip
    _tool_without_args(t, agent, "call_9")
    assert len(t.trace().spans) == 3


# -- the visible output's size and stream times (hidden_reasoning_latency) ----


def test_output_chars_wherever_each_family_records_the_output() -> None:
    """Text and tool-call arguments of the model's own output, from every
    place a family writes it; None when content capture was off."""
    messages = json.dumps(
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": "Checking."},
                    {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"q": 1}},
                ],
            }
        ]
    )
    otel = genai_view({"gen_ai.usage.output_tokens": 9, "gen_ai.output.messages": messages})
    assert otel is not None and otel.output_chars == len("Checking.") + len('{"q":1}')
    choice = SpanEvent(
        "gen_ai.choice",
        1,
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": '{"a":2}'}}],
            },
        },
    )
    events = genai_view(
        {"gen_ai.operation.name": "chat", "gen_ai.usage.output_tokens": 9}, "chat", (choice,)
    )
    assert events is not None and events.output_chars == 2 + 7
    oi = genai_view(
        {
            "openinference.span.kind": "LLM",
            "llm.token_count.completion": 9,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Hello",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
        }
    )
    assert oi is not None and oi.output_chars == 7
    legacy = genai_view(
        {
            "llm.request.type": "chat",
            "gen_ai.usage.completion_tokens": 9,
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Bonjour",
        }
    )
    assert legacy is not None and legacy.output_chars == 7
    # A non-ASCII character is about a token: it counts as 4 characters.
    cjk = genai_view(
        {
            "gen_ai.usage.output_tokens": 9,
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "好的ok"}]}]
            ),
        }
    )
    assert cjk is not None and cjk.output_chars == 4 + 4 + 2
    off = genai_view(
        {
            "openinference.span.kind": "LLM",
            "llm.token_count.completion": 9,
            "llm.output_messages.0.message.role": "assistant",
        }
    )
    assert off is not None and off.output_chars is None
    no_parts = genai_view(
        {"gen_ai.usage.output_tokens": 9, "gen_ai.output.messages": '[{"role": "assistant"}]'}
    )
    assert no_parts is not None and no_parts.output_chars is None


def test_openinference_reasoning_count_from_the_response_usage() -> None:
    response = {
        "object": "response",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}],
        "usage": {"output_tokens": 3020, "output_tokens_details": {"reasoning_tokens": 3000}},
    }
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.token_count.completion": 3020,
        "output.value": json.dumps([response]),
    }
    view = genai_view(attrs)
    assert view is not None and view.reasoning_tokens == 3000
    # A TOOL span's output is the tool's result, never a usage report.
    tool = genai_view({**attrs, "openinference.span.kind": "TOOL", "tool.name": "t"})
    assert tool is not None and tool.reasoning_tokens is None
    # Hostile or oversized: no count, no error.
    for junk in ('[{"usage": {"output_tokens_details": {"reasoning_tokens": "x"}}}]', "{" * 5000):
        bad = genai_view({**attrs, "output.value": junk + '"reasoning_tokens"'})
        assert bad is not None and bad.reasoning_tokens is None
    big = genai_view({**attrs, "output.value": json.dumps([response]) + " " * 70_000})
    assert big is not None and big.reasoning_tokens is None


def test_openllmetry_chunk_events_give_both_stream_times() -> None:
    start = 1_000_000_000
    attrs = {"gen_ai.is_streaming": True, "gen_ai.operation.name": "chat"}
    bare = tuple(
        SpanEvent("gen_ai.content.completion.chunk", start + ms * MS) for ms in (47, 2542, 2544)
    )
    view = genai_view(attrs, "openai.chat", bare, start)
    assert view is not None
    assert view.time_to_first_chunk_s == 0.047 and view.time_to_first_visible_s == 2.542
    # Events that carry their delta are read by content.
    rich = (
        SpanEvent("llm.content.completion.chunk", start + 40 * MS, {"role": "assistant"}),
        SpanEvent("llm.content.completion.chunk", start + 900 * MS, {"content": ""}),
        SpanEvent("llm.content.completion.chunk", start + 3000 * MS, {"content": "Hi"}),
    )
    view = genai_view(attrs, "openai.chat", rich, start)
    assert view is not None
    assert view.time_to_first_chunk_s == 0.04 and view.time_to_first_visible_s == 3.0
    # No start time given: nothing measured rather than a wrong offset.
    view = genai_view(attrs, "openai.chat", bare)
    assert view is not None and view.time_to_first_chunk_s is None
