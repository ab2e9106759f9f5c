"""Hand-built traces for tests: spans with readable names, ids made for you.

``TraceBuilder().agent(...)`` etc. return span ids, so a test can nest calls
the way a real agent framework would and assert on the exact evidence.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec

from oncall_tui.core.assemble import assemble
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.otlp_write import traces_data

MS = 1_000_000


class TraceBuilder:
    def __init__(self, trace_id: str = "ab" * 16, service: str = "agent-svc", host: str = "h1"):
        self.trace_id = trace_id
        self.service = service
        self.host = host
        self.spans: list[Span] = []
        self._ids = itertools.count(1)

    def span(
        self,
        name: str,
        parent: str | None = None,
        start: int = 0,
        end: int = 10,
        *,
        attrs: dict[str, Any] | None = None,
        status: str = "unset",
        service: str | None = None,
        host: str | None = None,
        span_id: str | None = None,
        parent_id: str | None = None,
    ) -> str:
        sid = span_id or f"{next(self._ids):016x}"
        attributes = dict(attrs or {})
        self.spans.append(
            Span(
                trace_id=self.trace_id,
                span_id=sid,
                parent_id=parent_id if parent_id is not None else parent,
                name=name,
                start_ns=start * MS,
                end_ns=end * MS,
                status=status,  # type: ignore[arg-type]
                service=service or self.service,
                host=host or self.host,
                attributes=attributes,
                gen_ai=genai_view(attributes),
            )
        )
        return sid

    def agent(
        self, name: str, parent: str | None = None, start: int = 0, end: int = 100, **kw: Any
    ) -> str:
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
        attrs.update(kw.pop("attrs", {}))
        return self.span(f"invoke_agent {name}", parent, start, end, attrs=attrs, **kw)

    def model(
        self,
        parent: str | None,
        start: int,
        end: int,
        *,
        model: str = "gpt-x",
        provider: str = "openai",
        complete: bool = True,
        **kw: Any,
    ) -> str:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20,
        }
        if complete:
            attrs.update(
                {
                    "gen_ai.response.model": f"{model}-2025-01-01",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.system_instructions": "be helpful",
                }
            )
        attrs.update(kw.pop("attrs", {}))
        return self.span(f"chat {model}", parent, start, end, attrs=attrs, **kw)

    def tool(
        self,
        name: str,
        parent: str | None,
        start: int,
        end: int,
        *,
        args: str = '{"q": 1}',
        result: str = '{"ok": true}',
        **kw: Any,
    ) -> str:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.arguments": args,
            "gen_ai.tool.call.result": result,
        }
        attrs.update(kw.pop("attrs", {}))
        return self.span(f"execute_tool {name}", parent, start, end, attrs=attrs, **kw)

    def trace(self) -> Trace:
        return assemble(self.spans, source="test")[0]

    def otlp(self) -> bytes:
        return msgspec.json.encode(traces_data(self.spans))


def gateway_request(
    n: int, attempts: list[tuple[str, str, str]], ms: int = 100, start_ns: int = 0
) -> Trace:
    """One request through a LiteLLM-like gateway: a proxy span, then one
    ``litellm_request`` span per attempt (model group, model, status)."""
    tid = f"{n:032x}"
    spans = [
        Span(
            tid,
            f"{n:08x}00000000",
            None,
            "Received Proxy Server Request",
            start_ns,
            start_ns + ms * MS,
        )
    ]
    for i, (group, model, status) in enumerate(attempts, start=1):
        attrs = {"litellm.model_group": group, "gen_ai.response.model": model}
        spans.append(
            Span(
                tid,
                f"{n:08x}{i:08x}",
                spans[0].span_id,
                "litellm_request",
                start_ns + i * MS,
                start_ns + (i + 1) * MS,
                status=status,  # type: ignore[arg-type]
                attributes=attrs,
                gen_ai=genai_view(attrs),
            )
        )
    [trace] = assemble(spans, source="test")
    return trace


def looping_agent(n: int, route: str, tool: str = "search_kb") -> Trace:
    """Trace ``n`` of ``route`` whose tool call nests a model call that calls
    the same tool again (a reentrancy cycle)."""
    b = TraceBuilder(trace_id=f"{n:032x}")
    agent = b.agent("planner", end=1000, attrs={"gen_ai.route": route})
    m1 = b.model(agent, 0, 900)
    t1 = b.tool(tool, m1, 10, 890)
    m2 = b.model(t1, 20, 880)
    b.tool(tool, m2, 30, 870)
    return b.trace()
