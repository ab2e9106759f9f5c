"""Record the ``openinference-langgraph`` corpus family.

LangGraph agents (langgraph.prebuilt.create_react_agent, langgraph-supervisor,
langgraph-swarm) on langchain-openai's ChatOpenAI pointed at the mock with
``base_url``, instrumented with openinference-instrumentation-langchain
(``LangChainInstrumentor``). LangSmith tracing is off: nothing leaves 127.0.0.1.

Run in the family's venv: ``python record_openinference_langgraph.py [case ...]``.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, last_message, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "openinference-langgraph"
PACKAGES = [
    "langgraph",
    "langgraph-prebuilt",
    "langgraph-supervisor",
    "langgraph-swarm",
    "langchain-core",
    "langchain-openai",
    "openai",
    "openinference-instrumentation-langchain",
    "openinference-instrumentation",
    "openinference-semantic-conventions",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-httpx",
    "httpx2",
]
# LangSmith's own tracer would call out; it stays off in every case.
OFFLINE = {
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING": "false",
}
CONTENT_OFF = {
    **OFFLINE,
    "OPENINFERENCE_HIDE_INPUTS": "true",
    "OPENINFERENCE_HIDE_OUTPUTS": "true",
    "OPENINFERENCE_HIDE_INPUT_MESSAGES": "true",
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "true",
}
MODEL = "gpt-4o-mini"
LIMIT = {"recursion_limit": 12}  # every graph run is bounded
MAX_DEPTH = 5  # nested tool calls in the reentrancy cases


def instrument(rec: Any, *, httpx: bool = False) -> None:
    from openinference.instrumentation.langchain import LangChainInstrumentor

    LangChainInstrumentor().instrument(tracer_provider=rec.tracer_provider)
    if httpx:
        # openai 3.x (under ChatOpenAI) sends through httpx2, not httpx
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

        HTTPX2ClientInstrumentor().instrument(tracer_provider=rec.tracer_provider)


def chat(rec: Any, model: str = MODEL, **kw: Any) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=rec.base_url, api_key="sk-mock-not-a-secret", **kw)


def react(llm: Any, tools: list[Any], name: str) -> Any:
    from langgraph.prebuilt import create_react_agent

    return create_react_agent(llm, tools, name=name)


def answer(graph: Any, user: str) -> str:
    out = graph.invoke({"messages": [("user", user)]}, LIMIT)
    return str(out["messages"][-1].content)


def weather_tools() -> list[Any]:
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        time.sleep(0.1)  # lets the parallel case overlap in time
        return f"{city}: 18C, sunny"

    @tool
    def get_time(city: str) -> str:
        """Local time in a city."""
        time.sleep(0.1)
        return f"{city}: 10:00"

    return [get_weather, get_time]


def plain_script(req: dict[str, Any], n: int) -> Reply:
    k = tool_results(req)
    if k == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if k == 1:
        return tool_reply(("get_time", {"city": "Paris"}))
    return text_reply("In Paris it is 18C and sunny, and 10:00.")


def _plain(case_dir: Path, env: dict[str, str], scenario: str) -> None:
    with recording(case_dir, plain_script, packages=PACKAGES, env=env, scenario=scenario) as rec:
        instrument(rec)
        answer(react(chat(rec), weather_tools(), "weather_agent"), "Weather and time in Paris?")


def plain_loop(case_dir: Path) -> None:
    _plain(case_dir, OFFLINE, "plain loop: get_weather, get_time, answer")


def content_off(case_dir: Path) -> None:
    _plain(case_dir, CONTENT_OFF, "plain loop, content capture off")


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "Rome", "Oslo"]

    def script(req: dict[str, Any], n: int) -> Reply:
        k = tool_results(req)
        if k < len(cities):
            return tool_reply(("get_weather", {"city": cities[k]}))
        return text_reply("Paris 18C, Rome 24C, Oslo 9C.")

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="get_weather x3, cities"
    ) as rec:
        instrument(rec)
        answer(react(chat(rec), weather_tools(), "weather_agent"), "Weather in Paris, Rome, Oslo?")


def stuck_identical(case_dir: Path) -> None:
    from langchain_core.tools import tool

    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) < 3:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, I cannot reach the order service right now.")

    @tool
    def lookup_order(order_id: str) -> str:
        """Status of an order."""
        return "ERROR: order service unavailable"

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="lookup_order A-17 x3"
    ) as rec:
        instrument(rec)
        answer(react(chat(rec), [lookup_order], "support_agent"), "Where is my order A-17?")


_MARK = re.compile(r"CALL:(\w+) depth=(\d+)")


def reentrant_script(req: dict[str, Any], n: int) -> Reply:
    """Follows the marker in the last user message; answers after a tool result."""
    last = last_message(req)
    if last.get("role") == "tool":
        return text_reply(f"done: {str(last.get('content'))[:40]}")
    m = _MARK.search(str(last.get("content") or ""))
    if not m:
        return text_reply("nothing to do")
    return tool_reply((m[1], {"depth": int(m[2])}))


def _ask(tool: str, depth: int) -> str:
    return f"CALL:{tool} depth={depth} Consult the {tool} tool."


def _reentrant(case_dir: Path, mode: str) -> None:
    """plan_route and check_traffic consult the same agent inside themselves.

    mode ``nested``: the inner run inherits LangChain's run context (the way
    a tool normally calls a runnable); ``lost``: the inner run goes to a worker
    thread carrying only the OTel context of the outer agent span (LangChain's
    run tree is lost, so inner spans hang off the agent); ``thread``: a plain
    thread with no context at all (each inner run starts a new trace)."""
    from langchain_core.tools import tool
    from opentelemetry import context, trace

    graph: list[Any] = []
    root: list[Any] = []

    def ask(tool_name: str, depth: int) -> str:
        if mode == "nested":
            return answer(graph[0], _ask(tool_name, depth))
        out: list[str] = []

        def run() -> None:
            token = context.attach(trace.set_span_in_context(root[0])) if mode == "lost" else None
            try:
                out.append(answer(graph[0], _ask(tool_name, depth)))
            finally:
                if token is not None:
                    context.detach(token)

        t = threading.Thread(target=run)
        t.start()
        t.join(timeout=60)
        return out[0] if out else "inner run failed"

    def capture_root() -> None:
        if not root:
            from openinference.instrumentation.langchain import get_ancestor_spans

            root.append(get_ancestor_spans()[-1])  # the outermost agent span

    @tool
    def plan_route(depth: int) -> str:
        """Plan a route; may consult the assistant."""
        capture_root()
        return "route A-B planned" if depth >= MAX_DEPTH else ask("check_traffic", depth + 1)

    @tool
    def check_traffic(depth: int) -> str:
        """Check traffic; may consult the assistant."""
        return "no traffic" if depth >= MAX_DEPTH else ask("plan_route", depth + 1)

    with recording(
        case_dir,
        reentrant_script,
        packages=PACKAGES,
        env=OFFLINE,
        scenario=f"plan_route <-> check_traffic, {mode}",
    ) as rec:
        instrument(rec)
        graph.append(react(chat(rec), [plan_route, check_traffic], "route_agent"))
        answer(graph[0], _ask("plan_route", 1))


def nested_reentrancy(case_dir: Path) -> None:
    _reentrant(case_dir, "nested")


def lost_propagation(case_dir: Path) -> None:
    _reentrant(case_dir, "lost")


def thread_subagent(case_dir: Path) -> None:
    _reentrant(case_dir, "thread")


def parallel_tools(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) == 0:
            return tool_reply(
                ("get_weather", {"city": "Paris"}),
                ("get_weather", {"city": "Rome"}),
                ("get_time", {"city": "Tokyo"}),
            )
        return text_reply("Paris 18C, Rome 24C, Tokyo 19:00.")

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="3 tool calls, ToolNode"
    ) as rec:
        instrument(rec)
        answer(
            react(chat(rec), weather_tools(), "weather_agent"),
            "Weather in Paris and Rome, time in Tokyo?",
        )


def _tool_names(req: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in req.get("tools") or []}


def supervisor(case_dir: Path) -> None:
    from langchain_core.tools import tool
    from langgraph_supervisor import create_supervisor

    def script(req: dict[str, Any], n: int) -> Reply:
        names, text = _tool_names(req), prompt_text(req)
        if "transfer_to_research_expert" in names:
            if "MATH-DONE" in text:
                return text_reply("France's GDP is about 3 trillion USD; 2 + 3 = 5.")
            if "RESEARCH-DONE" in text:
                return tool_reply(("transfer_to_math_expert", {}))
            return tool_reply(("transfer_to_research_expert", {}))
        if "web_search" in names:
            if "SEARCH-RESULT" in text:
                return text_reply("RESEARCH-DONE: about 3 trillion USD.")
            return tool_reply(("web_search", {"query": "GDP of France"}))
        if "SUM-RESULT" in text:
            return text_reply("MATH-DONE: 5")
        return tool_reply(("add", {"a": 2, "b": 3}))

    @tool
    def web_search(query: str) -> str:
        """Search the web."""
        return "SEARCH-RESULT: France GDP 3.0T USD (2024)"

    @tool
    def add(a: float, b: float) -> str:
        """Add two numbers."""
        return f"SUM-RESULT: {a + b}"

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="supervisor, 2 workers"
    ) as rec:
        instrument(rec)
        llm = chat(rec)
        research = react(llm, [web_search], "research_expert")
        math = react(llm, [add], "math_expert")
        graph = create_supervisor(
            [research, math],
            model=llm,
            prompt="You manage a research expert and a math expert.",
        ).compile(name="supervisor")
        answer(graph, "What is the GDP of France, and what is 2 + 3?")


def handoff(case_dir: Path) -> None:
    from langchain_core.tools import tool
    from langgraph_swarm import create_handoff_tool, create_swarm

    def script(req: dict[str, Any], n: int) -> Reply:
        names = _tool_names(req)
        if "transfer_to_billing" in names:
            return tool_reply(("transfer_to_billing", {}))
        if "INVOICE-PAID" in prompt_text(req):
            return text_reply("Invoice INV-9 was paid on 3 March.")
        return tool_reply(("lookup_invoice", {"invoice_id": "INV-9"}))

    @tool
    def lookup_invoice(invoice_id: str) -> str:
        """Look an invoice up."""
        return "INVOICE-PAID: 03-03"

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="swarm triage -> billing"
    ) as rec:
        instrument(rec)
        llm = chat(rec)
        to_billing = create_handoff_tool(
            agent_name="billing_agent",
            name="transfer_to_billing",
            description="Hand the conversation to billing.",
        )
        triage = react(llm, [to_billing], "triage_agent")
        billing = react(llm, [lookup_invoice], "billing_agent")
        graph = create_swarm([triage, billing], default_active_agent="triage_agent").compile()
        answer(graph, "Was my invoice INV-9 paid?")


def http_retries(case_dir: Path) -> None:
    from opentelemetry import trace

    def script(req: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return Reply(status=429)
        if n == 1:
            return Reply(status=500)
        return text_reply("Hello! How can I help?")

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="429, 500, 200"
    ) as rec:
        instrument(rec, httpx=True)
        # OpenInference's LangChain tracer never makes its spans current, so
        # the HTTP spans hang off whatever the app made current: a request span.
        graph = react(chat(rec, max_retries=2), [], "greeter")
        tracer = trace.get_tracer("corpus-app")
        with tracer.start_as_current_span("POST /chat", kind=trace.SpanKind.SERVER):
            answer(graph, "Say hello.")


def fallback(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if req.get("model") == "gpt-4o":
            return Reply(status=500)
        if tool_results(req) == 0:
            return tool_reply(("get_weather", {"city": "Paris"}))
        return text_reply("18C, sunny.")

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="gpt-4o 500 -> gpt-4o-mini"
    ) as rec:
        instrument(rec)
        tools = weather_tools()[:1]
        primary = chat(rec, "gpt-4o", max_retries=0).bind_tools(tools)
        backup = chat(rec, "gpt-4o-mini", max_retries=0).bind_tools(tools)
        model = primary.with_fallbacks([backup])
        answer(react(model, tools, "weather_agent"), "Weather in Paris?")


def reasoning_stream(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        return text_reply(
            "The answer is 42, after careful thought.", reasoning_tokens=3000, reasoning_s=2.5
        )

    with recording(
        case_dir, script, packages=PACKAGES, env=OFFLINE, scenario="o3-mini streaming"
    ) as rec:
        instrument(rec)
        llm = chat(rec, "o3-mini", streaming=True, stream_usage=True)
        answer(react(llm, [], "thinker"), "What is the meaning of life?")


CASES = {
    "plain-loop": plain_loop,
    "same-tool-different-args": same_tool_different_args,
    "stuck-identical": stuck_identical,
    "nested-reentrancy": nested_reentrancy,
    "lost-propagation": lost_propagation,
    "thread-subagent": thread_subagent,
    "parallel-tools": parallel_tools,
    "supervisor": supervisor,
    "handoff": handoff,
    "http-retries": http_retries,
    "fallback": fallback,
    "reasoning-stream": reasoning_stream,
    "content-off": content_off,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
