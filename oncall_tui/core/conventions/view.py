"""The one normalised ``GenAI`` view of a span, from every registered family.

Called by every trace decoder once per span; keep it allocation-light. Spans
of one kind carry the same attribute names, so "which names feed which field,
which families speak here" is worked out once per distinct key tuple (a plan)
and each span is then a walk over the few fields its key set feeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

from oncall_tui.core.conventions.base import (
    FIELD,
    Hook,
    to_bool,
    to_float,
    to_int,
    to_reasons,
    to_str,
)
from oncall_tui.core.conventions.registry import FAMILIES
from oncall_tui.core.models import GenAI, SpanEvent

_FIELDS = GenAI.__struct_fields__
_CONVERTER: dict[str, Any] = {
    "input_tokens": to_int,
    "output_tokens": to_int,
    "reasoning_tokens": to_int,
    "cache_read_tokens": to_int,
    "cache_creation_tokens": to_int,
    "max_tokens": to_int,
    "seed": to_int,
    "http_status_code": to_int,
    "http_resend_count": to_int,
    "output_chars": to_int,
    "time_to_first_chunk_s": to_float,
    "time_to_first_visible_s": to_float,
    "temperature": to_float,
    "top_p": to_float,
    "finish_reasons": to_reasons,
    "streaming": to_bool,
}
_CONVERTERS: tuple[Any, ...] = tuple(_CONVERTER.get(f, to_str) for f in _FIELDS)
# The type that passes through untouched (checked with ``type(v) is T``, not a
# call); finish_reasons always converts.
_FAST: tuple[type | None, ...] = tuple(
    {to_str: str, to_int: int, to_float: float}.get(c) for c in _CONVERTERS
)

# attribute name -> (field index, rank, family index); lower (rank, family) wins.
_BY_NAME: dict[str, tuple[int, int, int]] = {}
for _fi, _family in enumerate(FAMILIES):
    for _attr, _field, _rank in _family.table:
        if _attr in _BY_NAME:  # pragma: no cover - a table bug, caught at import
            raise AssertionError(f"{_attr} is in two convention tables")
        _BY_NAME[_attr] = (FIELD[_field], _rank, _fi)

# An empty string is "not recorded" for most fields, but a tool that returned
# "" did answer: the empty-result finding needs to see it.
_EMPTY_OK = frozenset({FIELD["tool_call_result"]})
_OP = FIELD["operation"]
_PROVIDER = FIELD["provider"]
_REQUEST = FIELD["request_model"]
_RESPONSE = FIELD["response_model"]
_FINISH = FIELD["finish_reasons"]

# gen_ai.system / llm.system name "the product", which framework
# instrumentations fill with themselves: never a model provider.
FRAMEWORKS = frozenset(
    {
        "langchain",
        "langgraph",
        "llama_index",
        "llama-index",
        "llamaindex",
        "openai_agents",
        "openai-agents",
        "openai.agents",
        "crewai",
        "autogen",
        "ag2",
        "haystack",
        "dspy",
        "semantic_kernel",
        "smolagents",
        "agno",
        "strands",
        "strands-agents",
        "google_adk",
        "beeai",
        "mastra",
        "pydantic_ai",
        "pydantic-ai",
        "vercel",
        "litellm",
    }
)
# A bare model name's provider, when no attribute names one (or only a
# framework did). Families, not versions: anything else stays unknown.
_MODEL_PROVIDER = re.compile(
    r"^(?:(?P<openai>gpt-|o[1-9](?:-|$)|chatgpt|text-embedding-|davinci|babbage|whisper|dall-e)"
    r"|(?P<anthropic>claude)|(?P<google>gemini|gemma)|(?P<mistral_ai>mistral|mixtral|codestral)"
    r"|(?P<deepseek>deepseek)|(?P<cohere>command))",
    re.IGNORECASE,
)


class _Plan(NamedTuple):
    """Which attribute names feed which GenAI field, for one key tuple."""

    #: (field index, pass-through type, converter, names present in rank order)
    fields: tuple[tuple[int, type | None, Any, tuple[str, ...]], ...]
    hooks: tuple[Hook, ...]
    reads_events: bool


_PLANS: dict[tuple[str, ...], _Plan | None] = {}
# Bounded: hostile input with ever-new key sets only costs a cleared cache.
_MAX_PLANS = 4096
_SIGNALS = tuple(family.signals for family in FAMILIES)


def _plan(keys: tuple[str, ...]) -> _Plan | None:
    ranked: dict[int, list[tuple[int, int, str]]] = {}
    speaking: set[int] = set()
    for key in keys:
        hit = _BY_NAME.get(key)
        if hit is not None:
            index, rank, family = hit
            ranked.setdefault(index, []).append((rank, family, key))
            speaking.add(family)
        for family, signals in enumerate(_SIGNALS):
            if signals and key.startswith(signals):
                speaking.add(family)
    if not speaking:
        return None
    return _Plan(
        tuple(
            (index, _FAST[index], _CONVERTERS[index], tuple(n for _, _, n in sorted(names)))
            for index, names in sorted(ranked.items())
        ),
        tuple(
            hook
            for i, family in enumerate(FAMILIES)
            if i in speaking and (hook := family.hook) is not None
        ),
        any(FAMILIES[i].reads_events for i in speaking),
    )


def genai_view(
    attrs: Mapping[str, Any],
    name: str = "",
    events: Sequence[SpanEvent] = (),
    start_ns: int | None = None,
) -> GenAI | None:
    """The normalised GenAI view, or ``None`` for a span with no GenAI data.

    ``name``, ``events`` and ``start_ns`` are the span's: some families put
    the tool or agent name only in the span name, arguments only in span
    events, and stream timings only as event times (which need the start).
    Hot: runs once per span of every trace read.
    """
    keys = tuple(attrs)
    try:
        plan = _PLANS[keys]
    except KeyError:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[keys] = _plan(keys)
    if plan is None:
        return None
    values: list[Any] = [None] * len(_FIELDS)
    for index, fast, convert, names in plan.fields:
        for attr in names:
            value: Any = attrs[attr]
            if value is None or (value == "" and index not in _EMPTY_OK):
                continue
            if type(value) is not fast or (fast is float and not math.isfinite(cast(float, value))):
                # Not the field's own type, or a non-finite float: the
                # converter decides.
                value = convert(value)
                if value is None:
                    continue
            if index == _PROVIDER and value.lower() in FRAMEWORKS:
                continue  # a framework, not who served the model: next name
            values[index] = value
            break
    for hook in plan.hooks:
        hook(attrs, values, name, events if plan.reads_events else (), start_ns)
    if values[_PROVIDER] is None and (values[_REQUEST] or values[_RESPONSE]):
        values[_PROVIDER] = provider_of(values[_REQUEST] or values[_RESPONSE])
    if values[_FINISH] is None:
        values[_FINISH] = ()
    return GenAI(*values)


def provider_of(model: str) -> str | None:
    """The provider a model name implies: its gateway prefix
    (``openai/gpt-4o-mini``), else its family (``claude-*``), else None."""
    prefix, slash, _ = model.partition("/")
    if slash and prefix:
        return prefix.lower()
    match = _MODEL_PROVIDER.match(model)
    return match.lastgroup if match else None


def has_genai(attrs: Mapping[str, Any]) -> bool:
    """Cheap test: does any attribute name belong to a GenAI vocabulary?"""
    return any(key in _BY_NAME or any(s and key.startswith(s) for s in _SIGNALS) for key in attrs)
