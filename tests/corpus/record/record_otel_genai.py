"""Record the ``otel-genai`` family: the official OTel GenAI instrumentation.

opentelemetry-instrumentation-openai-v2 (2.4b0) records the chat calls; the
agent loop itself is wrapped in opentelemetry-util-genai's own agent and tool
invocations (``TelemetryHandler.invoke_local_agent`` -> ``invoke_agent {name}``,
``TelemetryHandler.tool`` -> ``execute_tool {name}``, ``workflow`` ->
``invoke_workflow {name}``), which is what an app that follows the GenAI
conventions does with 1.1b0: no hand-made span. opentelemetry-instrumentation-httpx
records every HTTP attempt (openai 3.x speaks httpx2, hence
``HTTPX2ClientInstrumentor``).

Content capture is ``SPAN_ONLY`` with ``gen_ai_latest_experimental`` (the
mode 2.4b0 documents for content on spans), except ``content-off``
(``NO_CONTENT``). HTTP spans use the stable HTTP names (``http`` opt-in:
``http.response.status_code``); the events family keeps the old ones.

The app below is shared with ``record_otel_genai_events.py``: only the way
agent and tool spans are made (``Marks``) and the instrumentation differ.

Run: ``/work/.corpus-venvs/otel-genai/bin/python record_otel_genai.py [case ...]``
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import main, recording
from mock_openai import Reply, prompt_text, text_reply, tool_reply, tool_results

FAMILY = "otel-genai"
PACKAGES = [
    "openai",
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-util-genai",
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "httpx2",
]
CONTENT_ON = {
    "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental,http",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
}
CONTENT_OFF = {**CONTENT_ON, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}
MODEL = "gpt-4o-mini"
MAX_TURNS = 8  # every loop is bounded
MAX_DEPTH = 5  # reentrancy laps: research, verify, research, verify, research

Tool = Callable[..., str]


# -- how agent and tool spans are made ------------------------------------


class UtilGenAIMarks:
    """Agent, tool and workflow spans from opentelemetry-util-genai's handler."""

    def __init__(self) -> None:
        from opentelemetry.util.genai.handler import get_telemetry_handler

        self.handler = get_telemetry_handler()

    @contextmanager
    def agent(self, name: str, model: str) -> Iterator[Any]:
        with self.handler.invoke_local_agent(agent_name=name, request_model=model) as inv:
            yield inv.span

    @contextmanager
    def tool(self, name: str, call_id: str, args: dict[str, Any]) -> Iterator[dict[str, Any]]:
        box: dict[str, Any] = {}
        with self.handler.tool(name, tool_call_id=call_id, tool_type="function") as inv:
            if inv.should_capture_content_on_span:
                inv.arguments = args
            yield box
            if inv.should_capture_content_on_span:
                inv.tool_result = box.get("result")

    @contextmanager
    def workflow(self, name: str) -> Iterator[Any]:
        with self.handler.workflow(name) as inv:
            yield inv.span


# -- the app: a hand-written agent loop on the openai client ---------------


def spec(name: str, **params: str) -> dict[str, Any]:
    props = {p: {"type": t} for p, t in params.items()}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {"type": "object", "properties": props, "required": list(params)},
        },
    }


SPECS = {
    "get_weather": spec("get_weather", city="string"),
    "get_time": spec("get_time", city="string"),
    "get_news": spec("get_news", city="string"),
    "lookup_order": spec("lookup_order", order_id="string"),
    "research": spec("research", question="string", depth="integer"),
    "verify": spec("verify", claim="string", depth="integer"),
    "transfer_to_billing": spec("transfer_to_billing", reason="string"),
    "lookup_invoice": spec("lookup_invoice", invoice_id="string"),
    "ask_researcher": spec("ask_researcher", question="string"),
    "ask_writer": spec("ask_writer", notes="string"),
    "search_web": spec("search_web", query="string"),
    "format_text": spec("format_text", text="string"),
}


class App:
    def __init__(self, marks: Any, *, max_retries: int = 0) -> None:
        import openai

        self.openai = openai
        self.client = openai.OpenAI(max_retries=max_retries)
        self.marks = marks
        self.agent_span: Any = None  # the outermost agent's span (lost-propagation)

    def chat(self, model: str, messages: list[Any], tools: dict[str, Tool], stream: bool) -> Any:
        kw: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            kw["tools"] = [SPECS[t] for t in tools]
        if not stream:
            return (
                self.client.chat.completions.create(**kw)
                .choices[0]
                .message.model_dump(exclude_none=True)
            )
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        for chunk in self.client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **kw
        ):
            for choice in chunk.choices:
                content.append(choice.delta.content or "")
                for tc in choice.delta.tool_calls or []:
                    call = calls.setdefault(
                        tc.index,
                        {
                            "id": tc.id,
                            "type": "function",
                            "function": {"name": "", "arguments": ""},
                        },
                    )
                    call["function"]["name"] += tc.function.name or ""
                    call["function"]["arguments"] += tc.function.arguments or ""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        return message

    def run_tool(self, tools: dict[str, Tool], call: dict[str, Any]) -> dict[str, Any]:
        name = call["function"]["name"]
        args = json.loads(call["function"]["arguments"] or "{}")
        with self.marks.tool(name, call["id"], args) as box:
            box["result"] = tools[name](**args)
        return {"role": "tool", "tool_call_id": call["id"], "content": box["result"]}

    async def run_tool_async(self, tools: dict[str, Tool], call: dict[str, Any]) -> dict[str, Any]:
        name = call["function"]["name"]
        args = json.loads(call["function"]["arguments"] or "{}")
        with self.marks.tool(name, call["id"], args) as box:
            await asyncio.sleep(0.05)  # the tools overlap in time
            box["result"] = tools[name](**args)
        return {"role": "tool", "tool_call_id": call["id"], "content": box["result"]}

    def loop(
        self,
        prompt: str,
        tools: dict[str, Tool],
        *,
        system: str = "",
        models: tuple[str, ...] = (MODEL,),
        stream: bool = False,
        parallel: bool = False,
        stop_after: frozenset[str] = frozenset(),
    ) -> str:
        """The ReAct loop: model, tools, model... at most MAX_TURNS model turns.
        ``models``: the first that answers wins and is kept (a fallback)."""
        messages: list[Any] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        current = 0
        for _ in range(MAX_TURNS):
            while True:
                try:
                    message = self.chat(models[current], messages, tools, stream)
                    break
                except self.openai.InternalServerError:
                    if current + 1 >= len(models):
                        raise
                    current += 1  # fall back to the next model, for good
            messages.append(message)
            calls = message.get("tool_calls") or []
            if not calls:
                return str(message.get("content") or "")
            if parallel:

                async def gather(calls: list[Any] = calls) -> list[Any]:
                    return list(
                        await asyncio.gather(*(self.run_tool_async(tools, c) for c in calls))
                    )

                messages.extend(asyncio.run(gather()))
            else:
                messages.extend(self.run_tool(tools, c) for c in calls)
            if stop_after & {c["function"]["name"] for c in calls}:
                return "handed off"
        return "gave up after max turns"

    def agent(self, name: str, prompt: str, tools: dict[str, Tool], **kw: Any) -> str:
        models = kw.get("models", (MODEL,))
        with self.marks.agent(name, models[0]) as span:
            if self.agent_span is None:
                self.agent_span = span
            return self.loop(prompt, tools, system=f"[agent={name}]", **kw)


# -- the mock's scripts ------------------------------------------------------


def plain_script(request: dict[str, Any], n: int) -> Reply:
    step = tool_results(request)
    if step == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    if step == 1:
        return tool_reply(("get_time", {"city": "Paris"}))
    return text_reply("It is sunny in Paris and 14:00 there.")


def weather(city: str) -> str:
    return f"sunny, 21 C in {city}"


def local_time(city: str) -> str:
    return f"14:00 in {city}"


def news(city: str) -> str:
    return f"no news from {city}"


PLAIN_TOOLS: dict[str, Tool] = {"get_weather": weather, "get_time": local_time}


def _marker(text: str, key: str) -> str | None:
    """``[key=value]`` markers the app writes into its prompts (last one wins)."""
    found = None
    start = 0
    while (i := text.find(f"[{key}=", start)) >= 0:
        j = text.find("]", i)
        if j < 0:
            break
        found = text[i + len(key) + 2 : j]
        start = j
    return found


def reentrancy_script(request: dict[str, Any], n: int) -> Reply:
    """research and verify ask the model inside; it picks the other tool until
    MAX_DEPTH, then answers."""
    text = prompt_text(request)
    if tool_results(request):
        return text_reply("The claim holds.")
    source = _marker(text, "from")
    depth = int(_marker(text, "depth") or 0)
    if source is None:  # the outer agent's first turn
        return tool_reply(
            ("research", {"question": "does the refund policy allow it?", "depth": 1})
        )
    if depth >= MAX_DEPTH:
        return text_reply(f"Settled at depth {depth}.")
    other = "verify" if source == "research" else "research"
    key = "claim" if other == "verify" else "question"
    return tool_reply((other, {key: f"step {depth + 1}", "depth": depth + 1}))


class Reentrant:
    """research and verify, each asking the model inside its implementation.

    ``how``: "nested" (context propagates), "lost" (the inner calls run under
    the agent span's context captured earlier: siblings under the agent),
    "thread" (the inner work is a sub-agent in a plain thread: a new trace)."""

    def __init__(self, app: App, how: str) -> None:
        self.app = app
        self.how = how
        self.tools: dict[str, Tool] = {"research": self.research, "verify": self.verify}

    def research(self, question: str, depth: int) -> str:
        return self.inner("research", f"Research: {question}", depth)

    def verify(self, claim: str, depth: int) -> str:
        return self.inner("verify", f"Verify: {claim}", depth)

    def inner(self, source: str, ask: str, depth: int) -> str:
        prompt = f"{ask} [from={source}] [depth={depth}]"
        if self.how == "thread":
            out: list[str] = []
            worker = threading.Thread(
                target=lambda: out.append(self.app.agent("researcher", prompt, self.tools))
            )
            worker.start()  # a plain thread: no context copied, a new trace
            worker.join()
            return out[0]
        if self.how == "lost":
            from opentelemetry import context, trace

            token = context.attach(trace.set_span_in_context(self.app.agent_span))
            try:
                return self.app.loop(prompt, self.tools)
            finally:
                context.detach(token)
        return self.app.loop(prompt, self.tools)


def stuck_script(request: dict[str, Any], n: int) -> Reply:
    if tool_results(request) < 3:
        return tool_reply(("lookup_order", {"order_id": "A-1001"}))
    return text_reply("Sorry, I cannot look up order A-1001 right now.")


def cities_script(request: dict[str, Any], n: int) -> Reply:
    step = tool_results(request)
    cities = ["Paris", "London", "Tokyo"]
    if step < 3:
        return tool_reply(("get_weather", {"city": cities[step]}))
    return text_reply("Sunny in all three.")


def parallel_script(request: dict[str, Any], n: int) -> Reply:
    if tool_results(request) == 0:
        return tool_reply(
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"city": "Paris"}),
            ("get_news", {"city": "Paris"}),
        )
    return text_reply("Sunny, 14:00, nothing new.")


def handoff_script(request: dict[str, Any], n: int) -> Reply:
    agent = _marker(prompt_text(request), "agent")
    if agent == "triage":
        return tool_reply(("transfer_to_billing", {"reason": "double charge"}))
    if tool_results(request) == 0:
        return tool_reply(("lookup_invoice", {"invoice_id": "INV-7"}))
    return text_reply("Invoice INV-7 was charged twice; a refund is on its way.")


def supervisor_script(request: dict[str, Any], n: int) -> Reply:
    agent = _marker(prompt_text(request), "agent")
    step = tool_results(request)
    if agent == "supervisor":
        if step == 0:
            return tool_reply(("ask_researcher", {"question": "what changed in v2?"}))
        if step == 1:
            return tool_reply(("ask_writer", {"notes": "v2 adds retries"}))
        return text_reply("Release note written.")
    if agent == "researcher":
        if step == 0:
            return tool_reply(("search_web", {"query": "v2 changelog"}))
        return text_reply("v2 adds retries.")
    if step == 0:
        return tool_reply(("format_text", {"text": "v2 adds retries"}))
    return text_reply("## v2\n- retries")


def retries_script(request: dict[str, Any], n: int) -> Reply:
    if n == 0:
        return Reply(status=429)
    if n == 1:
        return Reply(status=500)
    return plain_script(request, n)


def fallback_script(request: dict[str, Any], n: int) -> Reply:
    if request.get("model") == "gpt-4o":
        return Reply(status=500)
    if tool_results(request) == 0:
        return tool_reply(("get_weather", {"city": "Paris"}))
    return text_reply("It is sunny in Paris.")


def reasoning_script(request: dict[str, Any], n: int) -> Reply:
    return text_reply(
        "Ship it on Tuesday: the risk is low.", reasoning_tokens=3000, reasoning_s=2.5
    )


# -- the cases -----------------------------------------------------------------


def make_cases(
    family: str,
    packages: list[str],
    setup: Callable[[], Any],
    content_on: dict[str, str],
    content_off: dict[str, str],
    note: str,
    after: Callable[[Path], None] | None = None,
) -> dict[str, Callable[[Path], None]]:
    """Every case of a family; ``setup()`` instruments and returns the Marks;
    ``after(case_dir)`` runs once the case is written."""

    def case(
        script: Callable[[dict[str, Any], int], Reply],
        scenario: str,
        body: Callable[[App], Any],
        *,
        env: dict[str, str] | None = None,
        max_retries: int = 0,
    ) -> Callable[[Path], None]:
        def record(case_dir: Path) -> None:
            with recording(
                case_dir,
                script,
                packages=packages,
                scenario=f"{scenario} ({note})",
                env=env or content_on,
            ):
                app = App(setup(), max_retries=max_retries)
                body(app)
            if after is not None:
                after(case_dir)

        return record

    def plain(app: App) -> Any:
        return app.agent("assistant", "Weather and time in Paris?", PLAIN_TOOLS)

    def reentrant(how: str) -> Callable[[App], Any]:
        def body(app: App) -> Any:
            tools = Reentrant(app, how).tools
            return app.agent("assistant", "May I refund order A-1001?", tools)

        return body

    def handoff(app: App) -> Any:
        with app.marks.workflow("support"):
            app.agent(
                "triage",
                "I was charged twice.",
                {"transfer_to_billing": lambda reason: "transferred to billing"},
                stop_after=frozenset({"transfer_to_billing"}),
            )
            app.agent(
                "billing",
                "I was charged twice.",
                {"lookup_invoice": lambda invoice_id: f"{invoice_id}: 2 charges of 30 EUR"},
            )

    def supervisor(app: App) -> Any:
        def ask_researcher(question: str) -> str:
            tools = {"search_web": lambda query: f"3 results for {query}"}
            return app.agent("researcher", question, tools)

        def ask_writer(notes: str) -> str:
            tools = {"format_text": lambda text: f"## {text}"}
            return app.agent("writer", f"Write up: {notes}", tools)

        tools = {"ask_researcher": ask_researcher, "ask_writer": ask_writer}
        return app.agent("supervisor", "Write the v2 release note.", tools)

    return {
        "plain-loop": case(plain_script, "plain loop: get_weather, get_time, answer", plain),
        "same-tool-different-args": case(
            cities_script,
            "get_weather for Paris, London, Tokyo, then answer",
            lambda app: app.agent(
                "assistant", "Weather in three cities?", {"get_weather": weather}
            ),
        ),
        "stuck-identical": case(
            stuck_script,
            "lookup_order(A-1001) three times, the same error each time, then give up",
            lambda app: app.agent(
                "assistant",
                "Where is order A-1001?",
                {"lookup_order": lambda order_id: "error: order service unavailable"},
            ),
        ),
        "nested-reentrancy": case(
            reentrancy_script,
            "research and verify ask the model inside; research, verify, research, verify, "
            "research; context propagated",
            reentrant("nested"),
        ),
        "lost-propagation": case(
            reentrancy_script,
            "the same reentrancy; each tool's inner model call runs under the agent span's "
            "context captured earlier (context.attach(set_span_in_context(agent_span)))",
            reentrant("lost"),
        ),
        "thread-subagent": case(
            reentrancy_script,
            "research and verify each run a sub-agent in a plain threading.Thread "
            "(no context copy: a new trace per sub-agent)",
            reentrant("thread"),
        ),
        "parallel-tools": case(
            parallel_script,
            "three tool calls in one answer, run concurrently with asyncio.gather",
            lambda app: app.agent(
                "assistant",
                "Paris: weather, time, news?",
                {"get_weather": weather, "get_time": local_time, "get_news": news},
                parallel=True,
            ),
        ),
        "handoff": case(
            handoff_script,
            "invoke_workflow support: triage hands off to billing (transfer_to_billing), "
            "billing looks up the invoice",
            handoff,
        ),
        "supervisor": case(
            supervisor_script,
            "supervisor calls ask_researcher then ask_writer; each runs a worker agent nested "
            "under the tool span",
            supervisor,
        ),
        "http-retries": case(
            retries_script,
            "plain loop; the first chat call is answered 429, 500, 200 (openai max_retries=2)",
            plain,
            max_retries=2,
        ),
        "fallback": case(
            fallback_script,
            "gpt-4o answers 500 (max_retries=0); the app falls back to gpt-4o-mini",
            lambda app: app.agent(
                "assistant",
                "Weather in Paris?",
                {"get_weather": weather},
                models=("gpt-4o", "gpt-4o-mini"),
            ),
        ),
        "reasoning-stream": case(
            reasoning_script,
            "one streamed o3-mini answer: 3000 reasoning tokens, "
            "2.5 s silent after the first chunk",
            lambda app: app.agent(
                "planner", "When should we ship?", {}, models=("o3-mini",), stream=True
            ),
        ),
        "content-off": case(
            plain_script,
            "plain loop with content capture off",
            plain,
            env=content_off,
        ),
    }


def setup() -> UtilGenAIMarks:
    from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()
    HTTPX2ClientInstrumentor().instrument()
    return UtilGenAIMarks()


if __name__ == "__main__":
    main(
        FAMILY,
        make_cases(
            FAMILY,
            PACKAGES,
            setup,
            CONTENT_ON,
            CONTENT_OFF,
            "agent/tool/workflow spans from opentelemetry-util-genai's TelemetryHandler",
        ),
    )
