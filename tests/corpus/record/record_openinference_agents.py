"""Record the openinference-agents family: the OpenAI Agents SDK (openai-agents)
instrumented by openinference-instrumentation-openai-agents, against the mock.

Run in the venv of requirements-openinference-agents.txt::

    python record_openinference_agents.py [case ...]

The SDK talks Chat Completions to the mock (``set_default_openai_api``); its
own trace export to OpenAI never runs: the instrumentor registers itself as the
SDK's exclusive trace processor (replacing the default exporter), and
``set_tracing_export_api_key`` is never called.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "openinference-agents"
PACKAGES = [
    "openai",
    "openai-agents",
    "openinference-instrumentation-openai-agents",
    "openinference-instrumentation",
    "openinference-semantic-conventions",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-httpx",
    "httpx2",
]
CONTENT_ON = {"OPENINFERENCE_HIDE_INPUTS": "false", "OPENINFERENCE_HIDE_OUTPUTS": "false"}
MAX_DEPTH = 4  # research > verify > research > verify, then the innermost run answers


def _setup(rec: Any, *, max_retries: int = 0, http: bool = False) -> None:
    """Instrument, then point the SDK at the mock over Chat Completions."""
    if http:
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

        HTTPX2ClientInstrumentor().instrument(tracer_provider=rec.tracer_provider)
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    OpenAIAgentsInstrumentor().instrument(tracer_provider=rec.tracer_provider)
    from agents import set_default_openai_api, set_default_openai_client
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=rec.base_url, api_key="sk-mock", max_retries=max_retries)
    set_default_openai_client(client, use_for_tracing=False)
    set_default_openai_api("chat_completions")


def _weather_tools() -> list[Any]:
    from agents import function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        return {"Paris": "sunny, 21C", "Rome": "cloudy, 18C", "Oslo": "snow, -2C"}.get(city, "?")

    @function_tool
    def get_time(city: str) -> str:
        """Local time of a city."""
        return "12:00"

    return [get_weather, get_time]


def _plain_script(request: dict[str, Any], n: int) -> Reply:
    step = tool_results(request)
    if step == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if step == 1:
        return tool_reply(("get_time", {"city": "Paris"}))
    return text_reply("It is sunny and 21C in Paris, and the local time is 12:00.")


def _run_plain(case_dir: Path, scenario: str, env: dict[str, str]) -> None:
    with recording(case_dir, _plain_script, packages=PACKAGES, scenario=scenario, env=env) as rec:
        _setup(rec)
        from agents import Agent, Runner

        agent = Agent(
            name="assistant",
            instructions="Answer weather questions with the tools.",
            model="gpt-4o-mini",
            tools=_weather_tools(),
        )
        Runner.run_sync(agent, "What is the weather and the time in Paris?", max_turns=6)


def plain_loop(case_dir: Path) -> None:
    _run_plain(case_dir, "model, get_weather, model, get_time, model answers", CONTENT_ON)


def content_off(case_dir: Path) -> None:
    _run_plain(
        case_dir,
        "the plain loop with OpenInference input/output hiding on",
        {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"},
    )


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "Rome", "Oslo"]

    def script(request: dict[str, Any], n: int) -> Reply:
        step = tool_results(request)
        if step < len(cities):
            return tool_reply(("get_weather", {"city": cities[step]}))
        return text_reply("Paris sunny, Rome cloudy, Oslo snowing.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, Runner

        agent = Agent(
            name="assistant",
            instructions="Answer weather questions with the tools.",
            model="gpt-4o-mini",
            tools=_weather_tools(),
        )
        Runner.run_sync(agent, "Weather in Paris, Rome and Oslo?", max_turns=8)


def stuck_identical(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if tool_results(request) < 4:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, the order system is not answering right now.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, Runner, function_tool

        @function_tool
        def lookup_order(order_id: str) -> str:
            """Look an order up in the order system."""
            return "error: backend timeout after 30s"

        agent = Agent(
            name="support",
            instructions="Look orders up.",
            model="gpt-4o-mini",
            tools=[lookup_order],
        )
        Runner.run_sync(agent, "Where is my order A-17?", max_turns=8)


def _loop_script(request: dict[str, Any], n: int) -> Reply:
    """research/verify reentrancy: each run's first request picks the tool its
    prompt names (``CALL:<tool> depth=<d>``); a run that has a tool result answers."""
    if tool_results(request):
        return text_reply("Checked: the claim holds.")
    text = prompt_text(request)
    marks = re.findall(r"CALL:(\w+) depth=(\d+)", text)
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
    agent's turn span, beside the tool span), 'thread' (inner runs in a plain
    thread: new traces)."""
    with recording(
        case_dir, _loop_script, packages=PACKAGES, scenario=scenario, env=CONTENT_ON
    ) as rec:
        _setup(rec)
        from agents import Agent, OpenAIChatCompletionsModel, RunHooks, Runner, function_tool
        from agents.tracing import get_current_span
        from agents.tracing.scope import Scope
        from openai import AsyncOpenAI

        outer: dict[str, Any] = {}

        class CaptureOuterTurn(RunHooks[Any]):
            """The outer agent's first turn span (the current SDK span when the
            agent starts): the lost-propagation runs are parented on it, so they
            land beside the tool span that really runs them."""

            async def on_agent_start(self, context: Any, agent: Any) -> None:
                span = get_current_span()
                if "span" not in outer and span is not None:
                    outer["span"] = span

        async def inner_run(prompt: str) -> str:
            if mode == "thread":
                box: dict[str, str] = {}

                def work() -> None:  # a plain thread: no contextvars copied, new trace
                    # Its own event loop needs its own client (an async pool is loop-bound).
                    model = OpenAIChatCompletionsModel(
                        "gpt-4o-mini", AsyncOpenAI(base_url=rec.base_url, api_key="sk-mock")
                    )
                    result = Runner.run_sync(agent.clone(model=model), prompt, max_turns=4)
                    box["out"] = str(result.final_output)

                t = threading.Thread(target=work)
                t.start()
                t.join()  # blocks this loop on purpose: the tool waits for its sub-agent
                return box["out"]
            token = Scope.set_current_span(outer["span"]) if mode == "lost" else None
            try:
                result = await Runner.run(agent, prompt, max_turns=4)
            finally:
                if token is not None:
                    Scope.reset_current_span(token)
            return str(result.final_output)

        @function_tool
        async def research(topic: str, depth: int) -> str:
            """Research a topic; verifies its finding with the agent."""
            return await inner_run(_next_prompt("verify", depth))

        @function_tool
        async def verify(topic: str, depth: int) -> str:
            """Verify a finding; researches again with the agent."""
            return await inner_run(_next_prompt("research", depth))

        agent = Agent(
            name="analyst",
            instructions="Research and verify claims with the tools.",
            model="gpt-4o-mini",
            tools=[research, verify],
        )
        Runner.run_sync(
            agent, "Why did the retry storm happen?", max_turns=4, hooks=CaptureOuterTurn()
        )


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

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, ModelSettings, Runner, function_tool

        @function_tool
        async def get_weather(city: str) -> str:
            """Current weather of a city."""
            await asyncio.sleep(0.05)
            return "sunny"

        @function_tool
        async def get_time(city: str) -> str:
            """Local time of a city."""
            await asyncio.sleep(0.05)
            return "12:00"

        @function_tool
        async def get_news(city: str) -> str:
            """Today's news of a city."""
            await asyncio.sleep(0.05)
            return "marathon today"

        agent = Agent(
            name="assistant",
            instructions="Use the tools.",
            model="gpt-4o-mini",
            tools=[get_weather, get_time, get_news],
            model_settings=ModelSettings(parallel_tool_calls=True),
        )
        Runner.run_sync(agent, "Weather, time and news for Paris?", max_turns=4)


def handoff(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        system = str((request.get("messages") or [{}])[0].get("content"))
        if "Triage" in system:
            return tool_reply(("transfer_to_billing", {}))
        if not any(
            m.get("role") == "tool" and "INV-" in str(m.get("content"))
            for m in request.get("messages", [])
        ):
            return tool_reply(("lookup_invoice", {"customer": "acme"}))
        return text_reply("Invoice INV-204 for acme is paid.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, Runner, function_tool

        @function_tool
        def lookup_invoice(customer: str) -> str:
            """Latest invoice of a customer."""
            return "INV-204: paid"

        billing = Agent(
            name="billing",
            instructions="Billing agent: answer invoice questions.",
            model="gpt-4o-mini",
            tools=[lookup_invoice],
        )
        triage = Agent(
            name="triage",
            instructions="Triage agent: hand billing questions to billing.",
            model="gpt-4o-mini",
            handoffs=[billing],
        )
        Runner.run_sync(triage, "Is acme's last invoice paid?", max_turns=6)


def agents_as_tools(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        system = str((request.get("messages") or [{}])[0].get("content"))
        if "Researcher" in system:
            return text_reply("Retry storms come from clients retrying in lockstep.")
        if "Writer" in system:
            return text_reply("Clients retried in lockstep; add jitter.")
        step = tool_results(request)
        if step == 0:
            return tool_reply(("ask_researcher", {"input": "why retry storms?"}))
        if step == 1:
            return tool_reply(("ask_writer", {"input": "summarise the research"}))
        return text_reply("Add jitter to client retries.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, Runner

        researcher = Agent(name="researcher", instructions="Researcher.", model="gpt-4o-mini")
        writer = Agent(name="writer", instructions="Writer.", model="gpt-4o-mini")
        supervisor = Agent(
            name="supervisor",
            instructions="Supervisor: use the researcher, then the writer.",
            model="gpt-4o-mini",
            tools=[
                researcher.as_tool(tool_name="ask_researcher", tool_description="Research."),
                writer.as_tool(tool_name="ask_writer", tool_description="Write it up."),
            ],
        )
        Runner.run_sync(supervisor, "Explain last night's retry storm.", max_turns=6)


def http_retries(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return Reply(status=429)
        if n == 1:
            return Reply(status=500)
        if tool_results(request) == 0:
            return tool_reply(("get_weather", {"city": "Paris"}))
        return text_reply("Sunny in Paris.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec, max_retries=2, http=True)
        from agents import Agent, Runner

        agent = Agent(
            name="assistant",
            instructions="Answer weather questions with the tools.",
            model="gpt-4o-mini",
            tools=_weather_tools(),
        )
        Runner.run_sync(agent, "Weather in Paris?", max_turns=4)


def fallback(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        if request.get("model") == "gpt-4o":
            return Reply(status=500)
        return text_reply("Your order A-17 ships tomorrow.")

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec, max_retries=0)
        from agents import Agent, Runner, trace

        agent = Agent(name="support", instructions="Answer order questions.", model="gpt-4o")
        with trace("support request"):
            try:
                Runner.run_sync(agent, "When does order A-17 ship?", max_turns=2)
            except Exception:  # the app's own fallback: the same agent on a cheaper model
                Runner.run_sync(
                    agent.clone(model="gpt-4o-mini"), "When does order A-17 ship?", max_turns=2
                )


def reasoning_stream(case_dir: Path) -> None:
    def script(request: dict[str, Any], n: int) -> Reply:
        return text_reply(
            "The retry storm came from clients retrying in lockstep after the 14:02 deploy.",
            reasoning_tokens=3000,
            reasoning_s=2.5,
        )

    with recording(case_dir, script, packages=PACKAGES, env=CONTENT_ON) as rec:
        _setup(rec)
        from agents import Agent, ModelSettings, Runner

        # The SDK asks for stream usage only from api.openai.com by default; the
        # real API is what the mock stands for, so ask as it would be asked there.
        agent = Agent(
            name="analyst",
            instructions="Explain incidents.",
            model="o3-mini",
            model_settings=ModelSettings(include_usage=True),
        )

        async def run() -> None:
            result = Runner.run_streamed(agent, "Why did the retry storm happen?", max_turns=2)
            async for _event in result.stream_events():
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
    "handoff": handoff,
    "agents-as-tools": agents_as_tools,
    "http-retries": http_retries,
    "fallback": fallback,
    "reasoning-stream": reasoning_stream,
    "content-off": content_off,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
