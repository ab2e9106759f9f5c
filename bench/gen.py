"""Synthetic agent traces as OTLP/JSON bytes, shaped like real ones.

An agent runs a tool loop (model, tool, model, tool, ...) with realistic
gen_ai attributes; every 50th step a tool calls back into the model and a
second tool (a reentrancy cycle), and some tool calls repeat identically, so
the analysis does all its work rather than a best case.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def generate(n_spans: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    trace_id = f"{rng.getrandbits(128):032x}"
    spans: list[dict[str, Any]] = []
    t = 1_700_000_000_000_000_000
    counter = 0

    def add(
        name: str, parent: str | None, start: int, end: int, attrs: list[dict[str, Any]]
    ) -> str:
        nonlocal counter
        counter += 1
        sid = f"{counter:016x}"
        span = {
            "traceId": trace_id,
            "spanId": sid,
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": attrs,
        }
        if parent:
            span["parentSpanId"] = parent
        spans.append(span)
        return sid

    root = add(
        "invoke_agent planner",
        None,
        t,
        t + n_spans * 2_000_000,
        [
            _kv("gen_ai.operation.name", "invoke_agent"),
            _kv("gen_ai.agent.name", "planner"),
        ],
    )
    step = 0
    now = t + 1000
    while counter < n_spans - 6:
        step += 1
        model_attrs = [
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", "openai"),
            _kv("gen_ai.request.model", "gpt-4o"),
            _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
            _kv("gen_ai.usage.input_tokens", rng.randint(200, 4000)),
            _kv("gen_ai.usage.output_tokens", rng.randint(10, 400)),
            _kv("gen_ai.request.temperature", 0.2),
            _kv("gen_ai.response.finish_reasons", "tool_calls"),
        ]
        m = add("chat gpt-4o", root, now, now + 900_000, model_attrs)
        tool = rng.choice(("search", "lookup", "fetch_doc", "run_sql"))
        args = '{"q": "status of order 42"}' if step % 7 == 0 else f'{{"q": "{rng.random():.6f}"}}'
        tool_attrs = [
            _kv("gen_ai.operation.name", "execute_tool"),
            _kv("gen_ai.tool.name", tool),
            _kv("gen_ai.tool.call.id", f"call_{step}"),
            _kv("gen_ai.tool.call.arguments", args),
            _kv("gen_ai.tool.call.result", '{"rows": 3}'),
        ]
        tl = add(f"execute_tool {tool}", root, now + 950_000, now + 1_900_000, tool_attrs)
        if step % 50 == 0:  # reentrancy: the tool asks the model, which calls another tool
            inner = add("chat gpt-4o", tl, now + 960_000, now + 1_800_000, model_attrs)
            add("execute_tool search", inner, now + 970_000, now + 1_700_000, tool_attrs)
        del m
        now += 2_000_000
    return msgspec.json.encode(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [_kv("service.name", "agent-svc"), _kv("host.name", "h1")]
                    },
                    "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
                }
            ]
        }
    )
