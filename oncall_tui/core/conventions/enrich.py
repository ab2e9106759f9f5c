"""The one cross-span convention step: a tool span that lacks its arguments
(or result) but carries a call id gets them from the model spans of its trace.

Several instrumentations record a tool call's arguments only where the model
asked for it (the model span's output messages, ``gen_ai.choice`` events,
OpenInference ``llm.output_messages.N.message.tool_calls.M.tool_call.*``,
OpenLLMetry ``gen_ai.completion.N.tool_calls.M.*``) and its result only where
the next model call read it back (input messages, ``gen_ai.tool.message``
events). Run once per assembled trace by ``core.assemble``; it costs one pass
over the spans unless some tool span needs filling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from oncall_tui.core.conventions.base import to_str
from oncall_tui.core.models import Span

# Parsed JSON walked per attribute before giving up (hostile nesting/size).
_MAX_NODES = 10_000
_CALL_EVENTS = frozenset({"gen_ai.choice", "gen_ai.client.inference.operation.details"})
_RESULT_EVENTS = frozenset({"gen_ai.tool.message", "gen_ai.client.inference.operation.details"})


def fill_from_requests(spans: list[Span]) -> None:
    """Fill missing tool arguments/results in place, by tool call id."""
    wanted: dict[str, list[int]] = {}
    for i, span in enumerate(spans):
        g = span.gen_ai
        if (
            g is not None
            and g.tool_call_id
            and g.operation == "execute_tool"
            and (g.tool_call_arguments is None or g.tool_call_result is None)
        ):
            wanted.setdefault(g.tool_call_id, []).append(i)
    if not wanted:
        return
    arguments: dict[str, str] = {}
    results: dict[str, str] = {}
    for span in spans:
        g = span.gen_ai
        if g is None or g.operation == "execute_tool":
            continue
        for call_id, value in _calls(span, results=False):
            if call_id in wanted:
                arguments.setdefault(call_id, value)
        for call_id, value in _calls(span, results=True):
            if call_id in wanted:
                results.setdefault(call_id, value)
    for call_id, indexes in wanted.items():
        args = arguments.get(call_id)
        result = results.get(call_id)
        for i in indexes:
            g = spans[i].gen_ai
            assert g is not None
            changes: dict[str, str] = {}
            if g.tool_call_arguments is None and args is not None:
                changes["tool_call_arguments"] = args
            if g.tool_call_result is None and result is not None:
                changes["tool_call_result"] = result
            if changes:
                spans[i].gen_ai = msgspec.structs.replace(g, **changes)


def _calls(span: Span, *, results: bool) -> Iterator[tuple[str, str]]:
    """(call id, arguments) the span asked for, or (call id, result) it read."""
    attrs = span.attributes
    if results:
        yield from _flat(attrs, "llm.input_messages.", ".message.tool_call_id", ".message.content")
        yield from _walk(attrs.get("gen_ai.input.messages"), results=True)
    else:
        yield from _flat(
            attrs, "llm.output_messages.", ".tool_call.id", ".tool_call.function.arguments"
        )
        yield from _flat(attrs, "gen_ai.completion.", ".id", ".arguments", infix=".tool_calls.")
        yield from _walk(attrs.get("gen_ai.output.messages"), results=False)
    names = _RESULT_EVENTS if results else _CALL_EVENTS
    for event in span.events:
        if event.name in names:
            for value in event.attributes.values():
                yield from _walk(value, results=results)
            if results and event.name == "gen_ai.tool.message":
                ev = event.attributes
                if isinstance(ev.get("id"), str) and ev.get("content") is not None:
                    yield ev["id"], to_str(ev["content"]) or ""


def _flat(
    attrs: Mapping[str, Any], prefix: str, id_suffix: str, value_suffix: str, infix: str = ""
) -> Iterator[tuple[str, str]]:
    """Flattened message attributes: ``{prefix}...{id_suffix}`` holds the call
    id and the same stem with ``value_suffix`` its arguments/result."""
    for key, call_id in attrs.items():
        if key.startswith(prefix) and key.endswith(id_suffix) and isinstance(call_id, str):
            if infix and infix not in key:
                continue
            value = attrs.get(key[: -len(id_suffix)] + value_suffix)
            if value is not None:
                yield call_id, to_str(value) or ""


def _walk(raw: Any, *, results: bool) -> Iterator[tuple[str, str]]:
    """Tool calls (or tool results) anywhere in a JSON attribute value, in the
    shapes the families use: GenAI message parts, OpenAI ``tool_calls``,
    Bedrock/Strands ``toolUse`` / ``toolResult`` blocks."""
    if isinstance(raw, str):
        if not raw.startswith(("[", "{")) or "tool" not in raw:
            return
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return
    stack = [raw]
    seen = 0
    while stack and seen < _MAX_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        hit = _result(node) if results else _call(node)
        if hit is not None:
            yield hit
        stack.extend(v for v in node.values() if isinstance(v, (dict, list)))


def _call(node: dict[str, Any]) -> tuple[str, str] | None:
    call_id = node.get("id")
    if node.get("type") == "tool_call" and isinstance(call_id, str) and "arguments" in node:
        return call_id, to_str(node["arguments"]) or ""
    function = node.get("function")
    if isinstance(call_id, str) and isinstance(function, dict) and "arguments" in function:
        return call_id, to_str(function["arguments"]) or ""
    use = node.get("toolUse")
    if isinstance(use, dict) and isinstance(use.get("toolUseId"), str) and "input" in use:
        return use["toolUseId"], to_str(use["input"]) or ""
    return None


def _result(node: dict[str, Any]) -> tuple[str, str] | None:
    call_id = node.get("id")
    if node.get("type") == "tool_call_response" and isinstance(call_id, str):
        return call_id, to_str(node.get("response", node.get("result"))) or ""
    tool_call_id = node.get("tool_call_id")
    if isinstance(tool_call_id, str) and "content" in node:
        return tool_call_id, to_str(node["content"]) or ""
    done = node.get("toolResult")
    if isinstance(done, dict) and isinstance(done.get("toolUseId"), str):
        return done["toolUseId"], to_str(done.get("content")) or ""
    return None
