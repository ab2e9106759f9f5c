"""Record the pydantic-ai family: Pydantic AI's built-in OpenTelemetry
instrumentation (``Agent.instrument_all(InstrumentationSettings(...))``, GenAI
semantic-convention spans: ``invoke_agent``, ``chat <model>``,
``execute_tool <name>``) with ``OpenAIChatModel`` pointed at the mock.

Run in the venv of requirements-pydantic-ai.txt::

    python record_pydantic_ai.py [case ...]

No Logfire: only the ``logfire-api`` shim pydantic-ai-slim depends on, which
does nothing without ``logfire`` installed; spans go to the harness's tracer
provider only.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results
from pydantic_ai import RunContext  # module level: tool signatures resolve against it

FAMILY = "pydantic-ai"
PACKAGES = [
    "openai",
    "pydantic-ai-slim",
    "pydantic-graph",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-httpx",
    "httpx2",
]
MAX_DEPTH = 4  # research > verify > research > verify, then the innermost run answers


def _setup(rec: Any, *, include_content: bool = True, http: bool = False) -> None:
    if http:
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

        HTTPX2ClientInstrumentor().instrument(tracer_provider=rec.tracer_provider)
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings

    Agent.instrument_all(
        InstrumentationSettings(
            tracer_provider=rec.tracer_provider, include_content=include_content
        )
    )


def _model(rec: Any, name: str = "gpt-4o-mini", max_retries: int = 0) -> Any:
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = AsyncOpenAI(base_url=rec.base_url, api_key="sk-mock", max_retries=max_retries)
    return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))


def _weather_agent(rec: Any, **kw: Any) -> Any:
    from pydantic_ai import Agent

    agent = Agent(
        _model(rec, **kw),
        name="assistant",
        instructions="Answer weather questions with the tools.",
    )

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        return {"Paris": "sunny, 21C", "Rome": "cloudy, 18C", "Oslo": "snow, -2C"}.get(city, "?")

    @agent.tool_plain
    def get_time(city: str) -> str:
        """Local time of a city."""
        return "12:00"

    return agent


def _plain_script(request: dict[str, Any], n: int) -> Reply:
    step = tool_results(request)
    if step == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if step == 1:
        return tool_reply(("get_time", {"city": "Paris"}))
    return text_reply("It is sunny and 21C in Paris, and the local time is 12:00.")


def _run_plain(case_dir: Path, scenario: str, include_content: bool) -> None:
    with recording(case_dir, _plain_script, packages=PACKAGES, scenario=scenario) as rec:
        _setup(rec, include_content=include_content)
        _weather_agent(rec).run_sync("What is the weather and the time in Paris?")


def plain_loop(case_dir: Path) -> None:
    _run_plain(case_dir, "model, get_weather, model, get_time, model answers", True)


def content_off(case_dir: Path) -> None:
    _run_plain(case_dir, "the plain loop with include_content=False", False)


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "Rome", "Oslo"]

    def script(request: dict[str, Any], n: int) -> Reply:
        step = tool_results(request)
        if step < len(cities):
            return tool_reply(("get_weather", {"city": cities[step]}))
        return text_reply("Paris sunny, Rome cloudy, Oslo snowing.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        _weather_agent(rec).run_sync("Weather in Paris, Rome and Oslo?")


def stuck_identical(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if tool_results(request) < 4:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, the order system is not answering right now.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        from pydantic_ai import Agent

        agent = Agent(_model(rec), name="support", instructions="Look orders up.")

        @agent.tool_plain
        def lookup_order(order_id: str) -> str:
            """Look an order up in the order system."""
            return "error: backend timeout after 30s"

        agent.run_sync("Where is my order A-17?")


def _loop_script(request: dict[str, Any], n: int) -> Reply:
    """research/verify reentrancy: each run's first request picks the tool its
    prompt names (``CALL:<tool> depth=<d>``); a run that has a tool result answers."""
    if tool_results(request):
        return text_reply("Checked: the claim holds.")
    marks = re.findall(r"CALL:(\w+) depth=(\d+)", prompt_text(request))
    if not marks:
        return tool_reply(("research", {"topic": "retry storms", "depth": 0}))
    tool, depth = marks[-1]
    if tool == "none":
        return text_reply("Nothing more to check.")
    return tool_reply((tool, {"topic": "retry storms", "depth": int(depth)}))


def _next_prompt(other: str, depth: int) -> str:
    nxt = other if depth + 1 < MAX_DEPTH else "none"
    return f"Double-check the finding. CALL:{nxt} depth={depth + 1}"


def _reentrant(case_dir: Path, mode: str, scenario: str) -> None:
    """mode: 'nested' (context propagates), 'lost' (inner runs under the outer
    invoke_agent span's context, beside the tool span), 'thread' (inner runs in
    a plain thread: new traces)."""
    with recording(case_dir, _loop_script, packages=PACKAGES, scenario=scenario) as rec:
        _setup(rec)
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        from pydantic_ai import Agent

        agent = Agent(
            _model(rec),
            name="analyst",
            instructions="Research and verify claims with the tools.",
        )
        outer: dict[str, Any] = {}

        async def inner_run(prompt: str) -> str:
            if mode == "thread":
                box: dict[str, str] = {}

                def work() -> None:  # a plain thread: no contextvars copied, new trace
                    # Its own event loop needs its own client (an async pool is loop-bound).
                    box["out"] = str(agent.run_sync(prompt, model=_model(rec)).output)

                t = threading.Thread(target=work)
                t.start()
                t.join()  # blocks this loop on purpose: the tool waits for its sub-agent
                return box["out"]
            token = None
            if mode == "lost":
                # The outer agent's span, captured by the first tool call (its parent).
                parent = outer.setdefault("agent", trace.get_current_span().parent)
                token = otel_context.attach(
                    trace.set_span_in_context(trace.NonRecordingSpan(parent))
                )
            try:
                result = await agent.run(prompt)
            finally:
                if token is not None:
                    otel_context.detach(token)
            return str(result.output)

        @agent.tool_plain
        async def research(topic: str, depth: int) -> str:
            """Research a topic; verifies its finding with the agent."""
            return await inner_run(_next_prompt("verify", depth))

        @agent.tool_plain
        async def verify(topic: str, depth: int) -> str:
            """Verify a finding; researches again with the agent."""
            return await inner_run(_next_prompt("research", depth))

        agent.run_sync("Why did the retry storm happen?")


def nested_reentrancy(case_dir: Path) -> None:
    _reentrant(case_dir, "nested", "research > verify > research > verify, context propagated")


def lost_propagation(case_dir: Path) -> None:
    _reentrant(case_dir, "lost", "the same loop, inner runs under the outer agent span")


def thread_subagent(case_dir: Path) -> None:
    _reentrant(case_dir, "thread", "the same loop, each inner run in a plain worker thread")


def parallel_tools(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if tool_results(request) == 0:
            return tool_reply(
                ("get_weather", {"city": "Paris"}),
                ("get_time", {"city": "Paris"}),
                ("get_news", {"city": "Paris"}),
            )
        return text_reply("Sunny, noon, and a marathon today.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        from pydantic_ai import Agent

        agent = Agent(_model(rec), name="assistant", instructions="Use the tools.")

        @agent.tool_plain
        async def get_weather(city: str) -> str:
            """Current weather of a city."""
            await asyncio.sleep(0.05)
            return "sunny"

        @agent.tool_plain
        async def get_time(city: str) -> str:
            """Local time of a city."""
            await asyncio.sleep(0.05)
            return "12:00"

        @agent.tool_plain
        async def get_news(city: str) -> str:
            """Today's news of a city."""
            await asyncio.sleep(0.05)
            return "marathon today"

        agent.run_sync("Weather, time and news for Paris?")


def supervisor(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        text = prompt_text(request)
        if "Researcher." in text:
            return text_reply("Retry storms come from clients retrying in lockstep.")
        if "Writer." in text:
            return text_reply("Clients retried in lockstep; add jitter.")
        step = tool_results(request)
        if step == 0:
            return tool_reply(("research", {"question": "why retry storms?"}))
        if step == 1:
            return tool_reply(("write", {"notes": "clients retry in lockstep"}))
        return text_reply("Add jitter to client retries.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        from pydantic_ai import Agent

        researcher = Agent(_model(rec), name="researcher", instructions="Researcher.")
        writer = Agent(_model(rec), name="writer", instructions="Writer.")
        boss = Agent(
            _model(rec),
            name="supervisor",
            instructions="Supervisor: use research, then write.",
        )

        @boss.tool
        async def research(ctx: RunContext[None], question: str) -> str:
            """Ask the researcher agent."""
            return (await researcher.run(question, usage=ctx.usage)).output

        @boss.tool
        async def write(ctx: RunContext[None], notes: str) -> str:
            """Ask the writer agent."""
            return (await writer.run(notes, usage=ctx.usage)).output

        boss.run_sync("Explain last night's retry storm.")


def http_retries(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return Reply(status=429)
        if n == 1:
            return Reply(status=500)
        if tool_results(request) == 0:
            return tool_reply(("get_weather", {"city": "Paris"}))
        return text_reply("Sunny in Paris.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec, http=True)
        _weather_agent(rec, max_retries=2).run_sync("Weather in Paris?")


def fallback(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if request.get("model") == "gpt-4o":
            return Reply(status=500)
        return text_reply("Your order A-17 ships tomorrow.")

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        from pydantic_ai import Agent
        from pydantic_ai.models.fallback import FallbackModel

        model = FallbackModel(_model(rec, "gpt-4o"), _model(rec, "gpt-4o-mini"))
        Agent(model, name="support", instructions="Answer order questions.").run_sync(
            "When does order A-17 ship?"
        )


def reasoning_stream(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        return text_reply(
            "The retry storm came from clients retrying in lockstep after the 14:02 deploy.",
            reasoning_tokens=3000,
            reasoning_s=2.5,
        )

    with recording(case_dir, script, packages=PACKAGES) as rec:
        _setup(rec)
        from pydantic_ai import Agent

        agent = Agent(_model(rec, "o3-mini"), name="analyst", instructions="Explain incidents.")

        async def run() -> None:
            async with agent.run_stream("Why did the retry storm happen?") as result:
                async for _text in result.stream_text(delta=True):
                    pass

        asyncio.run(run())


CASES = {
    "plain-loop": plain_loop,
    "same-tool-different-args": same_tool_different_args,
    "stuck-identical": stuck_identical,
    "nested-reentrancy": nested_reentrancy,
    "lost-propagation": lost_propagation,
    "thread-subagent": thread_subagent,
    "parallel-tools": parallel_tools,
    "supervisor": supervisor,
    "http-retries": http_retries,
    "fallback": fallback,
    "reasoning-stream": reasoning_stream,
    "content-off": content_off,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
