"""Record the ``openinference-openai`` corpus family.

The plain OpenAI Python client instrumented with
openinference-instrumentation-openai (LLM spans), and an agent loop written by
the app, which makes its own AGENT and TOOL spans the way OpenInference tells
an app to: ``OITracer.start_as_current_span(..., openinference_span_kind=...)``
with ``set_input``/``set_output``/``set_tool`` (so the tool's JSON schema lands
in ``tool.parameters`` and the call's arguments in ``input.value``).

Run in the family's venv: ``python record_openinference_openai.py [case ...]``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, last_message, text_reply, tool_reply, tool_results

FAMILY = "openinference-openai"
PACKAGES = [
    "openai",
    "openinference-instrumentation-openai",
    "openinference-instrumentation",
    "openinference-semantic-conventions",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-httpx",
    "httpx2",
]
CONTENT_OFF = {
    "OPENINFERENCE_HIDE_INPUTS": "true",
    "OPENINFERENCE_HIDE_OUTPUTS": "true",
    "OPENINFERENCE_HIDE_INPUT_MESSAGES": "true",
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "true",
}
MODEL = "gpt-4o-mini"
MAX_TURNS = 6  # every loop is bounded
MAX_DEPTH = 5  # nested tool calls in the reentrancy cases


def _schema(name: str, description: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": v} for k, v in props.items()},
                "required": list(props),
            },
        },
    }


SCHEMAS = {
    s["function"]["name"]: s
    for s in (
        _schema("get_weather", "Current weather in a city.", city="string"),
        _schema("get_time", "Local time in a city.", city="string"),
        _schema("lookup_order", "Status of an order.", order_id="string"),
        _schema("plan_route", "Plan a route; may consult the assistant.", depth="integer"),
        _schema("check_traffic", "Check traffic; may consult the assistant.", depth="integer"),
        _schema("web_search", "Search the web.", query="string"),
        _schema("add", "Add two numbers.", a="number", b="number"),
        _schema("ask_researcher", "Ask the research agent.", question="string"),
        _schema("ask_mathematician", "Ask the math agent.", question="string"),
        _schema("transfer_to_billing", "Hand the conversation to billing."),
        _schema("lookup_invoice", "Look an invoice up.", invoice_id="string"),
    )
}

Tools = dict[str, Callable[..., str]]


class App:
    """What a real app holds: one client, one OpenInference tracer."""

    def __init__(self, rec: Any, *, httpx: bool = False, max_retries: int = 2) -> None:
        import openai
        from openinference.instrumentation import OITracer, TraceConfig
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry import trace

        OpenAIInstrumentor().instrument(tracer_provider=rec.tracer_provider)
        if httpx:
            # openai 3.x sends through httpx2, not httpx
            from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

            HTTPX2ClientInstrumentor().instrument(tracer_provider=rec.tracer_provider)
        self.client = openai.OpenAI(base_url=rec.base_url, max_retries=max_retries)
        self.tracer = OITracer(trace.get_tracer("corpus-app"), config=TraceConfig())

    def tool(self, name: str, args: dict[str, Any], fn: Callable[..., str]) -> str:
        with self.tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
            fdef = SCHEMAS[name]["function"]
            span.set_tool(name=name, description=fdef["description"], parameters=fdef["parameters"])
            span.set_input(json.dumps(args), mime_type="application/json")
            out = fn(**args)
            span.set_output(out)
            return out

    def create(self, messages: list[dict[str, Any]], tools: Tools, model: str = MODEL) -> Any:
        kw: dict[str, Any] = {"tools": [SCHEMAS[t] for t in tools]} if tools else {}
        return self.client.chat.completions.create(model=model, messages=messages, **kw)

    def loop(
        self,
        messages: list[dict[str, Any]],
        tools: Tools,
        *,
        create: Callable[..., Any] | None = None,
        stop_on: set[str] = set(),  # noqa: B006 - read only
    ) -> str:
        """The hand-written agent loop: model, run its tool calls, repeat."""
        create = create or self.create
        for _ in range(MAX_TURNS):
            msg = create(messages, tools).choices[0].message
            messages.append(msg.model_dump(exclude_none=True))
            if not msg.tool_calls:
                return str(msg.content)
            for call in msg.tool_calls:
                name = call.function.name
                out = self.tool(name, json.loads(call.function.arguments or "{}"), tools[name])
                messages.append({"role": "tool", "tool_call_id": call.id, "content": out})
                if name in stop_on:
                    return out
        return "gave up after max turns"

    def agent(self, name: str, user: str, tools: Tools, **kw: Any) -> str:
        from openinference.semconv.trace import SpanAttributes

        with self.tracer.start_as_current_span(name, openinference_span_kind="agent") as span:
            span.set_attribute(SpanAttributes.AGENT_NAME, name)
            span.set_input(user)
            out = self.loop([{"role": "user", "content": user}], tools, **kw)
            span.set_output(out)
            return out


def weather_tools() -> Tools:
    return {
        "get_weather": lambda city: f"{city}: 18C, sunny",
        "get_time": lambda city: f"{city}: 10:00",
    }


def plain_script(req: dict[str, Any], n: int) -> Reply:
    k = tool_results(req)
    if k == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if k == 1:
        return tool_reply(("get_time", {"city": "Paris"}))
    return text_reply("In Paris it is 18C and sunny, and 10:00.")


def _plain(case_dir: Path, env: dict[str, str] | None = None, scenario: str = "") -> None:
    with recording(case_dir, plain_script, packages=PACKAGES, env=env, scenario=scenario) as rec:
        App(rec).agent("weather_agent", "Weather and time in Paris?", weather_tools())


def plain_loop(case_dir: Path) -> None:
    _plain(case_dir, scenario="plain loop: get_weather, get_time, answer")


def content_off(case_dir: Path) -> None:
    _plain(case_dir, env=CONTENT_OFF, scenario="plain loop, content capture off")


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "Rome", "Oslo"]

    def script(req: dict[str, Any], n: int) -> Reply:
        k = tool_results(req)
        if k < len(cities):
            return tool_reply(("get_weather", {"city": cities[k]}))
        return text_reply("Paris 18C, Rome 24C, Oslo 9C.")

    with recording(case_dir, script, packages=PACKAGES, scenario="get_weather x3, cities") as rec:
        App(rec).agent("weather_agent", "Weather in Paris, Rome and Oslo?", weather_tools())


def stuck_identical(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) < 3:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, I cannot reach the order service right now.")

    with recording(case_dir, script, packages=PACKAGES, scenario="lookup_order A-17 x3") as rec:
        App(rec).agent(
            "support_agent",
            "Where is my order A-17?",
            {"lookup_order": lambda order_id: "ERROR: order service unavailable"},
        )


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


def nested_reentrancy(case_dir: Path) -> None:
    with recording(
        case_dir, reentrant_script, packages=PACKAGES, scenario="plan_route <-> check_traffic"
    ) as rec:
        app = App(rec)

        def inner(tool: str, depth: int) -> str:
            # The tool consults the assistant: the same loop, nested in the tool.
            return app.loop([{"role": "user", "content": _ask(tool, depth)}], tools)

        def plan_route(depth: int) -> str:
            return "route A-B planned" if depth >= MAX_DEPTH else inner("check_traffic", depth + 1)

        def check_traffic(depth: int) -> str:
            return "no traffic" if depth >= MAX_DEPTH else inner("plan_route", depth + 1)

        tools = {"plan_route": plan_route, "check_traffic": check_traffic}
        app.agent("route_agent", _ask("plan_route", 1), tools)


def lost_propagation(case_dir: Path) -> None:
    from opentelemetry import context, trace

    with recording(
        case_dir, reentrant_script, packages=PACKAGES, scenario="reentrancy, context lost"
    ) as rec:
        app = App(rec)
        agent_ctx: list[Any] = []

        def inner(tool: str, depth: int) -> str:
            # The bug: the inner call runs under the agent span captured at the
            # start, not under the tool that is running it.
            token = context.attach(agent_ctx[0])
            try:
                return app.loop([{"role": "user", "content": _ask(tool, depth)}], tools)
            finally:
                context.detach(token)

        def plan_route(depth: int) -> str:
            return "route A-B planned" if depth >= MAX_DEPTH else inner("check_traffic", depth + 1)

        def check_traffic(depth: int) -> str:
            return "no traffic" if depth >= MAX_DEPTH else inner("plan_route", depth + 1)

        tools = {"plan_route": plan_route, "check_traffic": check_traffic}

        def first_create(messages: list[dict[str, Any]], tools_: Tools) -> Any:
            if not agent_ctx:
                agent_ctx.append(trace.set_span_in_context(trace.get_current_span()))
            return app.create(messages, tools_)

        app.agent("route_agent", _ask("plan_route", 1), tools, create=first_create)


def thread_subagent(case_dir: Path) -> None:
    with recording(
        case_dir, reentrant_script, packages=PACKAGES, scenario="sub-agents in threads"
    ) as rec:
        app = App(rec)

        def in_thread(tool: str, depth: int) -> str:
            # A plain thread: no context copied, so the sub-agent starts a new trace.
            out: list[str] = []
            t = threading.Thread(
                target=lambda: out.append(app.agent("sub_agent", _ask(tool, depth), tools))
            )
            t.start()
            t.join(timeout=60)
            return out[0] if out else "sub-agent timed out"

        def plan_route(depth: int) -> str:
            if depth >= MAX_DEPTH:
                return "route A-B planned"
            return in_thread("check_traffic", depth + 1)

        def check_traffic(depth: int) -> str:
            return "no traffic" if depth >= MAX_DEPTH else in_thread("plan_route", depth + 1)

        tools = {"plan_route": plan_route, "check_traffic": check_traffic}
        app.agent("route_agent", _ask("plan_route", 1), tools)


def parallel_tools(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) == 0:
            return tool_reply(
                ("get_weather", {"city": "Paris"}),
                ("get_weather", {"city": "Rome"}),
                ("get_time", {"city": "Tokyo"}),
            )
        return text_reply("Paris 18C, Rome 24C, Tokyo 19:00.")

    async def run(rec: Any) -> None:
        import openai
        from openinference.instrumentation import OITracer, TraceConfig
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from openinference.semconv.trace import SpanAttributes
        from opentelemetry import trace

        OpenAIInstrumentor().instrument(tracer_provider=rec.tracer_provider)
        client = openai.AsyncOpenAI(base_url=rec.base_url)
        tracer = OITracer(trace.get_tracer("corpus-app"), config=TraceConfig())

        async def tool(name: str, args: dict[str, Any]) -> str:
            with tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
                fdef = SCHEMAS[name]["function"]
                span.set_tool(
                    name=name, description=fdef["description"], parameters=fdef["parameters"]
                )
                span.set_input(json.dumps(args), mime_type="application/json")
                await asyncio.sleep(0.1)  # overlapping in time
                out = weather_tools()[name](**args)
                span.set_output(out)
                return out

        with tracer.start_as_current_span("weather_agent", openinference_span_kind="agent") as a:
            a.set_attribute(SpanAttributes.AGENT_NAME, "weather_agent")
            a.set_input("Weather in Paris and Rome, time in Tokyo?")
            messages: list[dict[str, Any]] = [
                {"role": "user", "content": "Weather in Paris and Rome, time in Tokyo?"}
            ]
            tools = [SCHEMAS["get_weather"], SCHEMAS["get_time"]]
            for _ in range(MAX_TURNS):
                r = await client.chat.completions.create(
                    model=MODEL, messages=messages, tools=tools
                )
                msg = r.choices[0].message
                messages.append(msg.model_dump(exclude_none=True))
                if not msg.tool_calls:
                    a.set_output(str(msg.content))
                    break
                outs = await asyncio.gather(
                    *(
                        tool(c.function.name, json.loads(c.function.arguments))
                        for c in msg.tool_calls
                    )
                )
                for c, out in zip(msg.tool_calls, outs, strict=True):
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": out})

    with recording(case_dir, script, packages=PACKAGES, scenario="3 tool calls, gather") as rec:
        asyncio.run(run(rec))


def _tool_names(req: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in req.get("tools") or []}


def supervisor(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        names, k = _tool_names(req), tool_results(req)
        if "ask_researcher" in names:
            if k == 0:
                return tool_reply(("ask_researcher", {"question": "GDP of France?"}))
            if k == 1:
                return tool_reply(("ask_mathematician", {"question": "2 + 3?"}))
            return text_reply("France's GDP is about 3 trillion USD; 2 + 3 = 5.")
        if "web_search" in names:
            if k == 0:
                return tool_reply(("web_search", {"query": "GDP of France"}))
            return text_reply("About 3 trillion USD.")
        if k == 0:
            return tool_reply(("add", {"a": 2, "b": 3}))
        return text_reply("5")

    with recording(case_dir, script, packages=PACKAGES, scenario="supervisor, 2 workers") as rec:
        app = App(rec)
        workers: dict[str, Tools] = {
            "researcher": {"web_search": lambda query: "France GDP: 3.0T USD (2024)"},
            "mathematician": {"add": lambda a, b: str(a + b)},
        }
        app.agent(
            "supervisor",
            "What is the GDP of France, and what is 2 + 3?",
            {
                "ask_researcher": lambda question: app.agent(
                    "researcher", question, workers["researcher"]
                ),
                "ask_mathematician": lambda question: app.agent(
                    "mathematician", question, workers["mathematician"]
                ),
            },
        )


def handoff(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        names, k = _tool_names(req), tool_results(req)
        if "transfer_to_billing" in names:
            return tool_reply(("transfer_to_billing", {}))
        if k == 0:
            return tool_reply(("lookup_invoice", {"invoice_id": "INV-9"}))
        return text_reply("Invoice INV-9 was paid on 3 March.")

    with recording(case_dir, script, packages=PACKAGES, scenario="triage -> billing") as rec:
        app = App(rec)
        question = "Was my invoice INV-9 paid?"
        with app.tracer.start_as_current_span(
            "handle_request", openinference_span_kind="chain"
        ) as s:
            s.set_input(question)
            app.agent(
                "triage_agent",
                question,
                {"transfer_to_billing": lambda: "transferred to billing_agent"},
                stop_on={"transfer_to_billing"},
            )
            out = app.agent(
                "billing_agent", question, {"lookup_invoice": lambda invoice_id: "paid 03-03"}
            )
            s.set_output(out)


def http_retries(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return Reply(status=429)
        if n == 1:
            return Reply(status=500)
        return text_reply("Hello! How can I help?")

    with recording(case_dir, script, packages=PACKAGES, scenario="429, 500, 200") as rec:
        App(rec, httpx=True, max_retries=2).agent("greeter", "Say hello.", {})


def fallback(case_dir: Path) -> None:
    import openai

    def script(req: dict[str, Any], n: int) -> Reply:
        if req.get("model") == "gpt-4o":
            return Reply(status=500)
        return plain_script(req, n) if tool_results(req) == 0 else text_reply("18C, sunny.")

    with recording(
        case_dir, script, packages=PACKAGES, scenario="gpt-4o 500 -> gpt-4o-mini"
    ) as rec:
        app = App(rec, max_retries=0)

        def create(messages: list[dict[str, Any]], tools: Tools) -> Any:
            try:
                return app.create(messages, tools, model="gpt-4o")
            except openai.APIStatusError:
                return app.create(messages, tools, model="gpt-4o-mini")

        app.agent("weather_agent", "Weather in Paris?", weather_tools(), create=create)


def reasoning_stream(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        return text_reply(
            "The answer is 42, after careful thought.", reasoning_tokens=3000, reasoning_s=2.5
        )

    with recording(case_dir, script, packages=PACKAGES, scenario="o3-mini stream") as rec:
        app = App(rec)

        def create(messages: list[dict[str, Any]], tools: Tools) -> Any:
            stream = app.client.chat.completions.create(
                model="o3-mini",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            text = "".join(
                c.choices[0].delta.content or "" for c in stream if c.choices and c.choices[0].delta
            )
            # The loop reads a non-streamed shape: rebuild it from the stream.
            from types import SimpleNamespace

            msg = SimpleNamespace(
                content=text,
                tool_calls=None,
                model_dump=lambda **_: {"role": "assistant", "content": text},
            )
            return SimpleNamespace(choices=[SimpleNamespace(message=msg)])

        app.agent("thinker", "What is the meaning of life?", {}, create=create)


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
