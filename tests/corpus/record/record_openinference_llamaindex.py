"""Record the OpenInference LlamaIndex family: llama-index-core's workflow
agents (FunctionAgent, AgentWorkflow) with FunctionTools, its OpenAI LLM
pointed at the mock through ``api_base``, instrumented by
``openinference-instrumentation-llama-index``.

    cd tests/corpus/record && .corpus-venvs/openinference-llamaindex/bin/python \
        record_openinference_llamaindex.py [case ...]
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "openinference-llamaindex"
PACKAGES = [
    "llama-index-core",
    "llama-index-llms-openai",
    "llama-index-workflows",
    "llama-index-instrumentation",
    "openinference-instrumentation-llama-index",
    "openinference-instrumentation",
    "openinference-semantic-conventions",
    "openai",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
]
MODEL = "gpt-4o-mini"
MAX_ITERATIONS = 12  # every agent run is bounded
REENTRY_DEPTH = 5  # tool runs in the reentrancy loop: A B A B A = two laps
ENV: dict[str, str] = {}
HIDDEN = {
    "OPENINFERENCE_HIDE_INPUTS": "true",
    "OPENINFERENCE_HIDE_OUTPUTS": "true",
    "OPENINFERENCE_HIDE_INPUT_MESSAGES": "true",
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "true",
}


def instrument(rec: Any) -> Any:
    """Instrument, then make the LLM (after instrumenting, as the docs say)."""
    from llama_index.llms.openai import OpenAI
    from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

    LlamaIndexInstrumentor().instrument(tracer_provider=rec.tracer_provider)
    # Streaming agents only get usage when they ask for it (a common setting).
    return OpenAI(
        model=MODEL,
        api_base=rec.base_url,
        api_key="sk-mock-not-a-secret",
        additional_kwargs={"stream_options": {"include_usage": True}},
    )


def tool(fn: Any, name: str) -> Any:
    from llama_index.core.tools import FunctionTool

    return FunctionTool.from_defaults(fn=fn, name=name, description=name.replace("_", " "))


def run(workflow: Any, question: str) -> str:
    async def go() -> str:
        out = await workflow.run(user_msg=question, max_iterations=MAX_ITERATIONS)
        return str(out)

    return asyncio.run(go())


async def get_weather(city: str) -> str:
    """Current weather in a city."""
    await asyncio.sleep(0.05)
    return json.dumps({"city": city, "celsius": 18, "sky": "cloudy"})


async def to_fahrenheit(celsius: float) -> str:
    """Convert Celsius to Fahrenheit."""
    return str(celsius * 9 / 5 + 32)


async def get_local_time(city: str) -> str:
    """Local time in a city."""
    await asyncio.sleep(0.05)
    return "21:00"


def plain_script(req: dict[str, Any], n: int) -> Reply:
    step = tool_results(req)
    if step == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if step == 1:
        return tool_reply(("to_fahrenheit", {"celsius": 18}))
    return text_reply("It is 18 C (64.4 F) and cloudy in Paris.")


def _plain(case_dir: Path, env: dict[str, str]) -> None:
    with recording(case_dir, plain_script, packages=PACKAGES, env=env) as rec:
        from llama_index.core.agent.workflow import FunctionAgent

        llm = instrument(rec)
        agent = FunctionAgent(
            name="weather_agent",
            description="Answers weather questions",
            tools=[tool(get_weather, "get_weather"), tool(to_fahrenheit, "to_fahrenheit")],
            llm=llm,
            system_prompt="You are a weather agent. Use the tools.",
        )
        run(agent, "What is the weather in Paris, in Fahrenheit?")


def plain_loop(case_dir: Path) -> None:
    _plain(case_dir, ENV)


def content_off(case_dir: Path) -> None:
    _plain(case_dir, {**ENV, **HIDDEN})


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "London", "Tokyo"]

    def script(req: dict[str, Any], n: int) -> Reply:
        step = tool_results(req)
        if step < len(cities):
            return tool_reply(("get_weather", {"city": cities[step]}))
        return text_reply("Paris 18 C, London 14 C, Tokyo 22 C.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        from llama_index.core.agent.workflow import FunctionAgent

        llm = instrument(rec)
        agent = FunctionAgent(
            name="weather_agent",
            description="Answers weather questions",
            tools=[tool(get_weather, "get_weather")],
            llm=llm,
            system_prompt="You are a weather agent. Use the tools.",
        )
        run(agent, "Weather in Paris, London and Tokyo?")


def stuck_identical(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) < 4:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, I cannot reach the order service right now.")

    async def lookup_order(order_id: str) -> str:
        """Look an order up."""
        raise RuntimeError("order service timeout")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        from llama_index.core.agent.workflow import FunctionAgent

        llm = instrument(rec)
        agent = FunctionAgent(
            name="order_agent",
            description="Answers order questions",
            tools=[tool(lookup_order, "lookup_order")],
            llm=llm,
            system_prompt="You are an order agent. Use the tools.",
        )
        run(agent, "Where is my order A-17?")


def reentry_script(req: dict[str, Any], n: int) -> Reply:
    text = prompt_text(req)
    done = tool_results(req) > 0
    if "[inner:lookup_policy]" in text:
        return (
            text_reply("checked")
            if done
            else tool_reply(("check_eligibility", {"customer": "C-9"}))
        )
    if "[inner:check_eligibility]" in text:
        return text_reply("found") if done else tool_reply(("lookup_policy", {"topic": "refund"}))
    if not done:
        return tool_reply(("lookup_policy", {"topic": "refund"}))
    return text_reply("You are eligible for a refund.")


def nested_reentrancy(case_dir: Path) -> None:
    with recording(case_dir, reentry_script, packages=PACKAGES, env=ENV) as rec:
        from llama_index.core.agent.workflow import FunctionAgent

        llm = instrument(rec)
        runs = [0]
        tools: list[Any] = []

        async def sub_agent(me: str, question: str) -> str:
            """Each tool asks a sub-agent, which has both tools."""
            runs[0] += 1
            if runs[0] >= REENTRY_DEPTH:
                return "no further checks needed"
            helper = FunctionAgent(
                name=f"{me}_helper",
                description=f"helps {me}",
                tools=tools,
                llm=llm,
                system_prompt="You are a helper. Use the tools.",
            )
            out = await helper.run(user_msg=f"[inner:{me}] {question}", max_iterations=4)
            return str(out)

        async def lookup_policy(topic: str) -> str:
            """Look a refund policy up."""
            return "policy: " + await sub_agent("lookup_policy", f"Eligible for {topic}?")

        async def check_eligibility(customer: str) -> str:
            """Check a customer's eligibility."""
            return "eligible: " + await sub_agent("check_eligibility", f"Policy for {customer}?")

        tools.extend(
            [tool(lookup_policy, "lookup_policy"), tool(check_eligibility, "check_eligibility")]
        )
        agent = FunctionAgent(
            name="support_agent",
            description="Answers refund questions",
            tools=tools,
            llm=llm,
            system_prompt="You are a support agent. Use the tools.",
        )
        run(agent, "Can I get a refund?")


def parallel_tools(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) == 0:
            return tool_reply(
                ("get_weather", {"city": "Paris"}),
                ("get_weather", {"city": "London"}),
                ("get_local_time", {"city": "Tokyo"}),
            )
        return text_reply("Paris 18 C, London 14 C; it is 21:00 in Tokyo.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        from llama_index.core.agent.workflow import FunctionAgent

        llm = instrument(rec)
        agent = FunctionAgent(
            name="weather_agent",
            description="Answers weather questions",
            tools=[tool(get_weather, "get_weather"), tool(get_local_time, "get_local_time")],
            llm=llm,
            system_prompt="You are a weather agent. Use the tools.",
            allow_parallel_tool_calls=True,
        )
        run(agent, "Weather in Paris and London, and the time in Tokyo?")


def handoff(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        system = str((req.get("messages") or [{}])[0].get("content") or "")
        text = prompt_text(req)
        if "You are billing" in system:
            if "status=PAID" in text:
                return text_reply("Your invoice INV-3 is paid.")
            return tool_reply(("lookup_invoice", {"invoice_id": "INV-3"}))
        return tool_reply(("handoff", {"to_agent": "billing", "reason": "an invoice question"}))

    async def lookup_invoice(invoice_id: str) -> str:
        """Look an invoice up."""
        return f"invoice {invoice_id}: status=PAID"

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent

        llm = instrument(rec)
        triage = FunctionAgent(
            name="triage",
            description="Routes the customer to the right agent",
            tools=[],
            llm=llm,
            system_prompt="You are triage. Hand off to the right agent.",
            can_handoff_to=["billing"],
        )
        billing = FunctionAgent(
            name="billing",
            description="Answers invoice questions",
            tools=[tool(lookup_invoice, "lookup_invoice")],
            llm=llm,
            system_prompt="You are billing. Use the tools.",
        )
        flow = AgentWorkflow(agents=[triage, billing], root_agent="triage")
        run(flow, "Is my invoice INV-3 paid?")


CASES = {
    "plain-loop": plain_loop,
    "same-tool-different-args": same_tool_different_args,
    "stuck-identical": stuck_identical,
    "nested-reentrancy": nested_reentrancy,
    "parallel-tools": parallel_tools,
    "handoff": handoff,
    "content-off": content_off,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
