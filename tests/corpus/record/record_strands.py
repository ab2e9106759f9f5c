"""Record the Strands Agents family: ``strands-agents`` with its OpenAI model
provider (``client_args={"base_url": mock}``); its spans are its own native
GenAI telemetry (strands.telemetry), exported through the harness's global
tracer provider. Default semantic conventions (no OTEL_SEMCONV_STABILITY_OPT_IN):
what a user gets out of the box.

    cd tests/corpus/record && .corpus-venvs/strands/bin/python record_strands.py [case ...]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "strands"
PACKAGES = [
    "strands-agents",
    "openai",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-threading",
]
MODEL = "gpt-4o-mini"
REENTRY_DEPTH = 5  # tool runs in the reentrancy loop: A B A B A = two laps
ENV: dict[str, str] = {}


def model(rec: Any) -> Any:
    from strands.models.openai import OpenAIModel

    return OpenAIModel(
        client_args={"base_url": rec.base_url, "api_key": "sk-mock-not-a-secret"},
        model_id=MODEL,
    )


def agent(rec: Any, name: str, tools: list[Any], prompt: str) -> Any:
    from strands import Agent

    return Agent(
        name=name,
        model=model(rec),
        tools=tools,
        system_prompt=prompt,
        callback_handler=None,  # no printing
    )


def weather_tools() -> list[Any]:
    from strands import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city.

        Args:
            city: the city
        """
        time.sleep(0.05)
        return json.dumps({"city": city, "celsius": 18, "sky": "cloudy"})

    @tool
    def to_fahrenheit(celsius: float) -> str:
        """Convert Celsius to Fahrenheit.

        Args:
            celsius: degrees Celsius
        """
        return str(celsius * 9 / 5 + 32)

    @tool
    def get_local_time(city: str) -> str:
        """Local time in a city.

        Args:
            city: the city
        """
        time.sleep(0.05)
        return "21:00"

    return [get_weather, to_fahrenheit, get_local_time]


def plain_loop(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        step = tool_results(req)
        if step == 0:
            return tool_reply(("get_weather", {"city": "Paris"}))
        if step == 1:
            return tool_reply(("to_fahrenheit", {"celsius": 18}))
        return text_reply("It is 18 C (64.4 F) and cloudy in Paris.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        a = agent(rec, "weather_agent", weather_tools()[:2], "You are a weather agent.")
        a("What is the weather in Paris, in Fahrenheit?")


def same_tool_different_args(case_dir: Path) -> None:
    cities = ["Paris", "London", "Tokyo"]

    def script(req: dict[str, Any], n: int) -> Reply:
        step = tool_results(req)
        if step < len(cities):
            return tool_reply(("get_weather", {"city": cities[step]}))
        return text_reply("Paris 18 C, London 14 C, Tokyo 22 C.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        a = agent(rec, "weather_agent", weather_tools()[:1], "You are a weather agent.")
        a("Weather in Paris, London and Tokyo?")


def stuck_identical(case_dir: Path) -> None:
    def script(req: dict[str, Any], n: int) -> Reply:
        if tool_results(req) < 4:
            return tool_reply(("lookup_order", {"order_id": "A-17"}))
        return text_reply("Sorry, I cannot reach the order service right now.")

    with recording(case_dir, script, packages=PACKAGES, env=ENV) as rec:
        from strands import tool

        @tool
        def lookup_order(order_id: str) -> str:
            """Look an order up.

            Args:
                order_id: the order
            """
            raise RuntimeError("order service timeout")

        a = agent(rec, "order_agent", [lookup_order], "You are an order agent.")
        a("Where is my order A-17?")


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
        from strands import tool

        runs = [0]
        tools: list[Any] = []

        def sub_agent(me: str, question: str) -> str:
            runs[0] += 1
            if runs[0] >= REENTRY_DEPTH:
                return "no further checks needed"
            helper = agent(rec, f"{me}_helper", tools, "You are a helper. Use the tools.")
            return str(helper(f"[inner:{me}] {question}"))

        @tool
        def lookup_policy(topic: str) -> str:
            """Look a refund policy up.

            Args:
                topic: what the policy is about
            """
            return "policy: " + sub_agent("lookup_policy", f"Eligible for {topic}?")

        @tool
        def check_eligibility(customer: str) -> str:
            """Check a customer's eligibility.

            Args:
                customer: the customer id
            """
            return "eligible: " + sub_agent("check_eligibility", f"Policy for {customer}?")

        tools.extend([lookup_policy, check_eligibility])
        a = agent(rec, "support_agent", tools, "You are a support agent. Use the tools.")
        a("Can I get a refund?")


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
        tools = weather_tools()
        a = agent(rec, "weather_agent", [tools[0], tools[2]], "You are a weather agent.")
        a("Weather in Paris and London, and the time in Tokyo?")


CASES = {
    "plain-loop": plain_loop,
    "same-tool-different-args": same_tool_different_args,
    "stuck-identical": stuck_identical,
    "nested-reentrancy": nested_reentrancy,
    "parallel-tools": parallel_tools,
}

if __name__ == "__main__":
    main(FAMILY, CASES)
