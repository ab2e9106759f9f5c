"""Record the OpenLLMetry (Traceloop) family: ``traceloop-sdk`` with its
bundled ``opentelemetry-instrumentation-openai`` and its ``@workflow`` /
``@agent`` / ``@tool`` decorators around a hand-written agent loop.

Traceloop.init reuses the harness's global tracer provider (the official OTLP
exporter into the sink) and adds a no-op processor of ours, so its span
hooks (traceloop.workflow.name, association properties) run while nothing
leaves but to 127.0.0.1: no API key, telemetry and metrics off, its own
endpoint pointed at the loopback mock.

    cd tests/corpus/record && .corpus-venvs/openllmetry/bin/python record_openllmetry.py [case ...]
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "openllmetry"
PACKAGES = [
    "traceloop-sdk",
    "opentelemetry-instrumentation-openai",
    "opentelemetry-semantic-conventions-ai",
    "openai",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-instrumentation-threading",
]
ENV = {
    "TRACELOOP_TELEMETRY": "false",
    "TRACELOOP_METRICS_ENABLED": "false",
    "TRACELOOP_LOGGING_ENABLED": "false",
    "TRACELOOP_TRACE_CONTENT": "true",
}
MODEL = "gpt-4o-mini"
MAX_TURNS = 8  # every loop is bounded
REENTRY_DEPTH = 5  # tool runs in the reentrancy loop: A B A B A = two laps

TOOL_SCHEMAS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": doc,
            "parameters": {
                "type": "object",
                "properties": {p: {"type": t} for p, t in params.items()},
                "required": list(params),
            },
        },
    }
    for name, doc, params in [
        ("get_weather", "Current weather in a city", {"city": "string"}),
        ("to_fahrenheit", "Convert Celsius to Fahrenheit", {"celsius": "number"}),
        ("get_local_time", "Local time in a city", {"city": "string"}),
        ("lookup_order", "Look an order up", {"order_id": "string"}),
        ("lookup_policy", "Look a refund policy up", {"topic": "string"}),
        ("check_eligibility", "Check a customer's eligibility", {"customer": "string"}),
    ]
]


def init_traceloop() -> None:
    """Traceloop.init as an app would, but exporting only through the
    harness's provider (already global) and never to traceloop.com."""
    from opentelemetry.sdk.trace import SpanProcessor
    from traceloop.sdk import Traceloop
    from traceloop.sdk.instruments import Instruments

    Traceloop.init(
        app_name="corpus-agent",
        api_endpoint="http://127.0.0.1:9/unused",  # never contacted: a processor is given
        processor=SpanProcessor(),  # no-op: the harness's processor exports
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )


def client(**kw: Any) -> Any:
    import openai

    return openai.OpenAI(**kw)


def agent_loop(
    oai: Any,
    question: str,
    tools: dict[str, Any],
    *,
    model: str = MODEL,
    name: str = "support_agent",
) -> str:
    """The classic loop: ask, run the tools it picks, feed results back."""
    from traceloop.sdk.decorators import agent

    @agent(name=name)
    def run(question: str) -> str:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are a support agent. Use the tools."},
            {"role": "user", "content": question},
        ]
        for _ in range(MAX_TURNS):
            r = oai.chat.completions.create(model=model, messages=messages, tools=TOOL_SCHEMAS)
            msg = r.choices[0].message
            messages.append(msg.model_dump(exclude_none=True))
            if not msg.tool_calls:
                return str(msg.content)
            for call in msg.tool_calls:
                try:
                    out = tools[call.function.name](**json.loads(call.function.arguments))
                except Exception as exc:  # the agent tells the model, as frameworks do
                    out = f"error: {exc}"
                messages.append({"role": "tool", "tool_call_id": call.id, "content": str(out)})
        return "gave up"

    return run(question)


def weather_tools() -> dict[str, Any]:
    from traceloop.sdk.decorators import tool

    @tool(name="get_weather")
    def get_weather(city: str) -> str:
        return json.dumps({"city": city, "celsius": 18, "sky": "cloudy"})

    @tool(name="to_fahrenheit")
    def to_fahrenheit(celsius: float) -> str:
        return str(celsius * 9 / 5 + 32)

    return {"get_weather": get_weather, "to_fahrenheit": to_fahrenheit}


def plain_script(req: dict[str, Any], n: int) -> Reply:
    step = tool_results(req)
    if step == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if step == 1:
        return tool_reply(("to_fahrenheit", {"celsius": 18}))
    return text_reply("It is 18 C (64.4 F) and cloudy in Paris.")


def _plain(case_dir: Path, env: dict[str, str]) -> None:
    with recording(case_dir, plain_script, packages=PACKAGES, env=env):
        from traceloop.sdk.decorators import workflow

        init_traceloop()
        oai = client()

        @workflow(name="weather_request")
        def handle() -> str:
            return agent_loop(oai, "What is the weather in Paris, in Fahrenheit?", weather_tools())

        handle()


def plain_loop(case_dir: Path) -> None:
    _plain(case_dir, ENV)


def content_off(case_dir: Path) -> None:
    _plain(case_dir, {**ENV, "TRACELOOP_TRACE_CONTENT": "false"})


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "London", "Tokyo"]

    def script(req: dict[str, Any], n: int) -> Reply:
        step = tool_results(req)
        if step < len(cities):
            return tool_reply(("get_weather", {"city": cities[step]}))
        return text_reply("Paris 18 C, London 14 C, Tokyo 22 C.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        from traceloop.sdk.decorators import workflow

        init_traceloop()
        oai = client()

        @workflow(name="weather_request")
        def handle() -> str:
            return agent_loop(oai, "Weather in Paris, London and Tokyo?", weather_tools())

        handle()


def stuck_identical(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) < 4:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, I cannot reach the order service right now.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        from traceloop.sdk.decorators import tool, workflow

        init_traceloop()
        oai = client()

        @tool(name="lookup_order")
        def lookup_order(order_id: str) -> str:
            raise RuntimeError("order service timeout")

        @workflow(name="order_request")
        def handle() -> str:
            return agent_loop(oai, "Where is my order A-17?", {"lookup_order": lookup_order})

        handle()


# The reentrancy loop: each tool's implementation asks the model (marker in
# the prompt says which tool asks), which picks the other tool.
def reentry_script(req: dict[str, Any], n: int) -> Reply:
    text = prompt_text(req)
    if "[inner:lookup_policy]" in text:
        return tool_reply(("check_eligibility", {"customer": "C-9"}))
    if "[inner:check_eligibility]" in text:
        return tool_reply(("lookup_policy", {"topic": "refund"}))
    if tool_results(req) == 0:
        return tool_reply(("lookup_policy", {"topic": "refund"}))
    return text_reply("You are eligible for a refund.")


def reentry_tools(oai: Any, lose_context: list[Any] | None = None) -> dict[str, Any]:
    """lookup_policy and check_eligibility, each asking the model from inside.
    ``lose_context``: run the inner calls under this captured context (the
    agent's) instead of the tool's own: propagation lost."""
    from opentelemetry import context as otel_context
    from traceloop.sdk.decorators import tool

    runs = [0]
    tools: dict[str, Any] = {}

    def ask_inner(me: str, question: str) -> str:
        runs[0] += 1
        if runs[0] >= REENTRY_DEPTH:
            return "no further checks needed"
        token = otel_context.attach(lose_context[0]) if lose_context else None
        try:
            r = oai.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": f"[inner:{me}] {question}"}],
                tools=TOOL_SCHEMAS,
            )
            outs = []
            for call in r.choices[0].message.tool_calls or []:
                outs.append(str(tools[call.function.name](**json.loads(call.function.arguments))))
            return "; ".join(outs) or str(r.choices[0].message.content)
        finally:
            if token is not None:
                otel_context.detach(token)

    @tool(name="lookup_policy")
    def lookup_policy(topic: str) -> str:
        return "policy: " + ask_inner("lookup_policy", f"Is the customer eligible for {topic}?")

    @tool(name="check_eligibility")
    def check_eligibility(customer: str) -> str:
        return "eligible: " + ask_inner("check_eligibility", f"Which policy applies to {customer}?")

    tools.update(lookup_policy=lookup_policy, check_eligibility=check_eligibility)
    return tools


def nested_reentrancy(case_dir: Path) -> None:
    with recording(case_dir, reentry_script, packages=PACKAGES, env=ENV):
        from traceloop.sdk.decorators import workflow

        init_traceloop()
        oai = client()

        @workflow(name="refund_request")
        def handle() -> str:
            return agent_loop(oai, "Can I get a refund?", reentry_tools(oai))

        handle()


def lost_propagation(case_dir: Path) -> None:
    with recording(case_dir, reentry_script, packages=PACKAGES, env=ENV):
        from opentelemetry import context as otel_context
        from traceloop.sdk.decorators import agent, workflow

        init_traceloop()
        oai = client()
        captured: list[Any] = []
        tools = reentry_tools(oai, lose_context=captured)

        @agent(name="support_agent")
        def run(question: str) -> str:
            # The app keeps the agent's context for "its" tools to use later:
            # every inner call is then recorded as the agent's direct child.
            captured.append(otel_context.get_current())
            messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
            for _ in range(MAX_TURNS):
                r = oai.chat.completions.create(model=MODEL, messages=messages, tools=TOOL_SCHEMAS)
                msg = r.choices[0].message
                messages.append(msg.model_dump(exclude_none=True))
                if not msg.tool_calls:
                    return str(msg.content)
                for call in msg.tool_calls:
                    out = tools[call.function.name](**json.loads(call.function.arguments))
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": out})
            return "gave up"

        @workflow(name="refund_request")
        def handle() -> str:
            return run("Can I get a refund?")

        handle()


def parallel_tools(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) == 0:
            return tool_reply(
                ("get_weather", {"city": "Paris"}),
                ("get_weather", {"city": "London"}),
                ("get_local_time", {"city": "Tokyo"}),
            )
        return text_reply("Paris 18 C, London 14 C; it is 21:00 in Tokyo.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        import openai
        from traceloop.sdk.decorators import agent, tool, workflow

        init_traceloop()
        oai = openai.AsyncOpenAI()

        @tool(name="get_weather")
        async def get_weather(city: str) -> str:
            await asyncio.sleep(0.08)
            return json.dumps({"city": city, "celsius": 18})

        @tool(name="get_local_time")
        async def get_local_time(city: str) -> str:
            await asyncio.sleep(0.08)
            return "21:00"

        tools = {"get_weather": get_weather, "get_local_time": get_local_time}

        @agent(name="support_agent")
        async def run(question: str) -> str:
            messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
            for _ in range(MAX_TURNS):
                r = await oai.chat.completions.create(
                    model=MODEL, messages=messages, tools=TOOL_SCHEMAS
                )
                msg = r.choices[0].message
                messages.append(msg.model_dump(exclude_none=True))
                if not msg.tool_calls:
                    return str(msg.content)
                calls = msg.tool_calls
                outs = await asyncio.gather(
                    *(tools[c.function.name](**json.loads(c.function.arguments)) for c in calls)
                )
                for c, out in zip(calls, outs, strict=True):
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": out})
            return "gave up"

        @workflow(name="weather_request")
        async def handle() -> str:
            return await run("Weather in Paris and London, and the time in Tokyo?")

        asyncio.run(handle())


def http_retries(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return Reply(status=429)
        if n == 1:
            return Reply(status=500)
        return plain_script(req, n)

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from traceloop.sdk.decorators import workflow

        init_traceloop()
        HTTPXClientInstrumentor().instrument()
        oai = client(max_retries=2)

        @workflow(name="weather_request")
        def handle() -> str:
            return agent_loop(oai, "What is the weather in Paris, in Fahrenheit?", weather_tools())

        handle()


def fallback(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if req.get("model") == "gpt-4o":
            return Reply(status=500)
        return text_reply("Refunds are possible within 30 days.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        import openai
        from traceloop.sdk.decorators import agent, workflow

        init_traceloop()
        oai = client(max_retries=0)

        @agent(name="support_agent")
        def run(question: str) -> str:
            messages = [{"role": "user", "content": question}]
            try:
                r = oai.chat.completions.create(model="gpt-4o", messages=messages)
            except openai.InternalServerError:  # the app's own fallback
                r = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
            return str(r.choices[0].message.content)

        @workflow(name="refund_request")
        def handle() -> str:
            return run("What is the refund policy?")

        handle()


def reasoning_stream(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        return text_reply(
            "The answer is 42, after careful thought.", reasoning_tokens=3000, reasoning_s=2.5
        )

    with recording(case_dir, script, packages=PACKAGES, env=ENV):
        from traceloop.sdk.decorators import workflow

        init_traceloop()
        oai = client()

        @workflow(name="think_request")
        def handle() -> str:
            stream = oai.chat.completions.create(
                model="o3-mini",
                messages=[{"role": "user", "content": "What is the answer?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

        handle()


def thread_subagent(case_dir: Path) -> None:
    """Sub-agents run on a worker pool started at boot: a request's context
    never reaches them (even with threading instrumented, which copies the
    context at Thread.start), so each sub-agent run is a new trace."""
    jobs: queue.Queue[Any] = queue.Queue()

    def worker() -> None:
        while True:
            fn, box, done = jobs.get()
            try:
                box.append(fn())
            except Exception as exc:
                box.append(f"error: {exc}")
            done.set()

    def on_worker(fn: Any) -> Any:
        box: list[Any] = []
        done = threading.Event()
        jobs.put((fn, box, done))
        done.wait(30)
        return box[0] if box else "timeout"

    with recording(case_dir, reentry_script, packages=PACKAGES, env=ENV):
        from traceloop.sdk.decorators import tool, workflow

        init_traceloop()
        for _ in range(REENTRY_DEPTH + 1):
            threading.Thread(target=worker, daemon=True).start()
        oai = client()
        runs = [0]
        tools: dict[str, Any] = {}

        def sub_agent(me: str, question: str) -> str:
            @workflow(name=f"{me}_subagent")
            def run() -> str:
                r = oai.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": f"[inner:{me}] {question}"}],
                    tools=TOOL_SCHEMAS,
                )
                outs = [
                    str(tools[c.function.name](**json.loads(c.function.arguments)))
                    for c in r.choices[0].message.tool_calls or []
                ]
                return "; ".join(outs) or str(r.choices[0].message.content)

            return run()

        def delegate(me: str, question: str) -> str:
            runs[0] += 1
            if runs[0] >= REENTRY_DEPTH:
                return "no further checks needed"
            return str(on_worker(lambda: sub_agent(me, question)))

        @tool(name="lookup_policy")
        def lookup_policy(topic: str) -> str:
            return "policy: " + delegate("lookup_policy", f"Eligible for {topic}?")

        @tool(name="check_eligibility")
        def check_eligibility(customer: str) -> str:
            return "eligible: " + delegate("check_eligibility", f"Policy for {customer}?")

        tools.update(lookup_policy=lookup_policy, check_eligibility=check_eligibility)

        @workflow(name="refund_request")
        def handle() -> str:
            return agent_loop(oai, "Can I get a refund?", tools)

        handle()


CASES = {
    "plain-loop": plain_loop,
    "same-tool-different-args": same_tool_different_args,
    "stuck-identical": stuck_identical,
    "nested-reentrancy": nested_reentrancy,
    "lost-propagation": lost_propagation,
    "thread-subagent": thread_subagent,
    "parallel-tools": parallel_tools,
    "http-retries": http_retries,
    "fallback": fallback,
    "reasoning-stream": reasoning_stream,
    "content-off": content_off,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
