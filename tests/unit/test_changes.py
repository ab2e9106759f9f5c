"""Change events (core/changes.py): what changed on a route, and when, read
from traces, the audit log and a gateway's route history."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall_tui.cli.trace_cmd import load_traces
from oncall_tui.core.changes import (
    changes_from_audit,
    changes_from_routes,
    changes_from_traces,
    tool_definitions,
)
from oncall_tui.core.gateway import ModelRef, Route, RoutesResponse, RouteVersion
from oncall_tui.core.models import Trace
from tests.builders import TraceBuilder

CORPUS = Path(__file__).parents[1] / "corpus"


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def request(
    n: int,
    *,
    route: str = "agent-assist",
    snapshot: str = "gpt-4o-2024-08-06",
    provider: str = "openai",
    model: str = "gpt-4o",
    prompt: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    when: float | None = None,
) -> Trace:
    """Request ``n`` of a route, one second after request ``n - 1`` (or at
    second ``when`` of the same clock)."""
    at = 1_000_000 + int((n if when is None else when) * 1000)  # ms
    b = TraceBuilder(trace_id=f"{n:032x}")
    agent = b.agent("assistant", start=at, end=at + 500, attrs={"gen_ai.route": route})
    attrs: dict[str, Any] = {"gen_ai.response.model": snapshot, **(extra or {})}
    if prompt is not None:
        attrs["gen_ai.system_instructions.hash"] = prompt
    if tools is not None:
        attrs["gen_ai.tool.definitions"] = json.dumps(tools)
    b.model(agent, at + 1, at + 100, model=model, provider=provider, attrs=attrs)
    return b.trace()


def tool(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": description,
            "parameters": schema or {"type": "object"}}  # fmt: skip


# ------------------------------------------------------------ model snapshot


def test_an_alias_resolving_to_a_new_snapshot_is_a_model_version_change() -> None:
    traces = [request(i) for i in range(5)] + [
        request(i, snapshot="gpt-4o-2024-11-20") for i in range(5, 9)
    ]
    [c] = changes_from_traces(traces)
    assert (c.kind, c.subject, c.route) == ("model_version", "gpt-4o", "agent-assist")
    assert (c.before, c.after) == ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
    assert c.at_ns == traces[5].spans[0].start_ns  # dated by the first trace with it


def test_one_stray_snapshot_is_not_a_change() -> None:
    traces = [request(i) for i in range(4)]
    traces.insert(2, request(99, snapshot="gpt-4o-2024-11-20", when=1.5))
    traces.sort(key=lambda t: t.spans[0].start_ns)
    assert changes_from_traces(traces) == []


def test_the_last_trace_carrying_a_new_value_still_counts() -> None:
    traces = [request(0), request(1), request(2, snapshot="gpt-4o-2024-11-20")]
    assert [c.after for c in changes_from_traces(traces)] == ["gpt-4o-2024-11-20"]


def test_routes_are_tracked_apart() -> None:
    a = [request(i, route="a") for i in range(3)]
    b = [request(i, route="b", snapshot="gpt-4o-2024-11-20") for i in range(3, 6)]
    assert changes_from_traces(a + b) == []


def test_input_order_does_not_matter() -> None:
    traces = [request(i) for i in range(3)] + [
        request(i, snapshot="gpt-4o-2024-11-20") for i in range(3, 6)
    ]
    assert changes_from_traces(traces) == changes_from_traces(list(reversed(traces)))


# ------------------------------------------------------------ system prompt, provider


def test_a_system_prompt_hash_change() -> None:
    traces = [request(i, prompt="sha256:aaaa1111") for i in range(3)] + [
        request(i, prompt="sha256:bbbb2222") for i in range(3, 6)
    ]
    [c] = changes_from_traces(traces)
    assert c.kind == "system_prompt" and (c.before, c.after) == (
        "sha256:aaaa1111", "sha256:bbbb2222")  # fmt: skip


def test_a_first_tier_switch() -> None:
    traces = [request(i) for i in range(3)] + [
        request(i, provider="anthropic", model="claude-sonnet", snapshot="claude-sonnet-x")
        for i in range(3, 6)
    ]
    kinds = {c.kind: c for c in changes_from_traces(traces)}
    assert (kinds["provider"].before, kinds["provider"].after) == (
        "openai/gpt-4o", "anthropic/claude-sonnet")  # fmt: skip


# ------------------------------------------------------------ tool definitions


def test_a_tool_description_change_names_the_tool_and_both_hashes() -> None:
    old = [tool("search_kb", "Search."), tool("lookup_order", "Look up an order.")]
    new = [tool("search_kb", "Search."), tool("lookup_order", "Look up an order; ask again.")]
    traces = [request(i, tools=old) for i in range(3)] + [
        request(i, tools=new) for i in range(3, 6)
    ]
    [c] = changes_from_traces(traces)
    assert (c.kind, c.subject, c.detail) == ("tool_definition", "lookup_order", "description")
    assert (c.before, c.after) == (_h("Look up an order."), _h("Look up an order; ask again."))


def test_a_schema_change_is_told_apart_and_spacing_is_not_a_change() -> None:
    s1 = {"type": "object", "properties": {"id": {"type": "integer"}}}
    s2 = {"type": "object", "properties": {"id": {"type": "string"}}}
    traces = [request(i, tools=[tool("t", "d", s1)]) for i in range(3)]
    # The same schema, keys in another order: no change.
    traces += [request(i, tools=[tool("t", "d", dict(reversed(list(s1.items()))))])
               for i in range(3, 5)]  # fmt: skip
    traces += [request(i, tools=[tool("t", "d", s2)]) for i in range(5, 8)]
    [c] = changes_from_traces(traces)
    assert c.detail == "schema" and c.at_ns == traces[5].spans[0].start_ns


def test_a_tool_that_appears_in_the_full_list() -> None:
    base = [tool("a", "A.")]
    traces = [request(i, tools=base) for i in range(3)] + [
        request(i, tools=[*base, tool("refund", "Refund.")]) for i in range(3, 6)
    ]
    [c] = changes_from_traces(traces)
    assert (c.subject, c.before, c.after) == ("refund", None, _h("Refund."))


def test_a_tool_that_goes_from_the_full_list() -> None:
    base = [tool("a", "A."), tool("refund", "Refund.")]
    traces = [request(i, tools=base) for i in range(3)] + [
        request(i, tools=base[:1]) for i in range(3, 6)
    ]
    [c] = changes_from_traces(traces)
    assert (c.subject, c.after) == ("refund", None)


def test_openinference_and_openllmetry_tool_definitions_are_read() -> None:
    b = TraceBuilder()
    oi = json.dumps({"type": "function", "function": {"name": "get_weather",
                     "description": "Weather.", "parameters": {"type": "object"}}})  # fmt: skip
    span = b.model(None, 0, 10, attrs={
        "llm.tools.0.tool.json_schema": oi,
        "llm.request.functions.0.name": "to_f",
        "llm.request.functions.0.description": "To Fahrenheit.",
    })  # fmt: skip
    del span
    defs, full = tool_definitions(b.spans[0])
    assert full
    assert defs["get_weather"] == (_h("Weather."), _h('{"type":"object"}'))
    assert defs["to_f"] == (_h("To Fahrenheit."), None)


def test_a_tool_span_describing_itself_is_read() -> None:
    b = TraceBuilder()
    b.tool("lookup_policy", None, 0, 10, attrs={"gen_ai.tool.description": "Policies."})
    defs, full = tool_definitions(b.spans[0])
    assert defs == {"lookup_policy": (_h("Policies."), None)} and not full


def test_hostile_definitions_are_skipped_not_fatal() -> None:
    b = TraceBuilder()
    b.model(None, 0, 10, attrs={"gen_ai.tool.definitions": "[{not json"})
    b.model(None, 0, 10, attrs={"gen_ai.tool.definitions": json.dumps([1, {"name": 3}, None])})
    assert tool_definitions(b.spans[0]) == ({}, False)
    assert tool_definitions(b.spans[1]) == ({}, True)


# ------------------------------------------------------------ corpus


def _case(family: str, name: str) -> list[Trace]:
    case = CORPUS / family / name
    files = [str(case / "trace.json")]
    if (case / "logs.json").exists():
        files.append(str(case / "logs.json"))
    return load_traces(files, None)


@pytest.mark.parametrize(
    ("family", "case", "tool_name", "description"),
    [
        ("pydantic-ai", "parallel-tools", "get_weather", "Current weather of a city."),
        ("openinference-openai", "parallel-tools", "get_weather", "Current weather in a city."),
        ("strands", "plain-loop", None, None),
    ],
)
def test_corpus_tool_definitions_are_found(
    family: str, case: str, tool_name: str | None, description: str | None
) -> None:
    found: dict[str, tuple[str | None, str | None]] = {}
    for trace in _case(family, case):
        for span in trace.spans:
            found.update(tool_definitions(span)[0])
    assert found, f"{family}/{case}: no tool definitions read"
    if tool_name is not None:
        assert found[tool_name][0] == _h(description or "")


def test_one_corpus_run_has_no_change_in_it() -> None:
    """A recorded program run is one configuration: no change events."""
    cases = sorted(p.parent for p in CORPUS.glob("*/*/trace.json"))
    assert len(cases) > 50
    for case in cases:
        traces = _case(case.parent.name, case.name)
        assert changes_from_traces(traces) == [], case


# ------------------------------------------------------------ audit, gateway

T = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_actions_that_ran_come_from_the_audit_log() -> None:
    records = [
        {"stage": "planned", "action_id": "a1", "ts": "2026-11-24T13:59:00Z", "route": "r",
         "kind": "rollback", "actor": "ana", "data": {"detail": "rollback to v3 on route r"}},
        {"stage": "executed", "action_id": "a1", "ts": "2026-11-24T14:00:00Z", "route": "r",
         "kind": "rollback", "actor": "ana", "data": {"detail": "done"}},
        {"stage": "planned", "action_id": "a2", "ts": "2026-11-24T14:01:00Z", "route": "r",
         "kind": "kill_switch", "actor": "bo", "data": {}},
        {"stage": "executed", "action_id": "a3", "ts": "not a time", "route": "r"},
    ]  # fmt: skip
    [c] = changes_from_audit(records)
    assert (c.kind, c.subject, c.route, c.source) == ("action", "rollback", "r", "audit")
    assert c.at_ns == int(T.timestamp()) * 1_000_000_000
    assert c.detail == "rollback to v3 on route r (by ana)"


def test_serving_versions_from_route_history_upgrade_then_rollback() -> None:
    a, b = ModelRef("openai", "gpt-4o"), ModelRef("anthropic", "claude-sonnet")
    history = (
        RouteVersion("v3", a, T - timedelta(days=2)),
        RouteVersion("v4", b, T - timedelta(hours=1)),
        RouteVersion("v3", a, T),
    )
    routes = RoutesResponse(T, (Route(name="r", primary=a, version="v3", history=history),))
    up, back = changes_from_routes(routes)
    assert (up.before, up.after, up.detail) == (
        "v3", "v4", "upgraded, primary openai/gpt-4o -> anthropic/claude-sonnet")  # fmt: skip
    assert (back.before, back.after) == ("v4", "v3") and back.detail.startswith("rolled back")
    assert back.at_ns == int(T.timestamp()) * 1_000_000_000
