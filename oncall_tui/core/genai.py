"""Map span attributes onto the one normalised ``GenAI`` view.

Three vocabularies reach us: the OTel GenAI semantic conventions (current
names), their deprecated names (``gen_ai.system``, ``gen_ai.usage.prompt_tokens``
...), and OpenInference (Phoenix, Arize: ``llm.model_name``,
``llm.token_count.*``, ``openinference.span.kind``). The first name present in
each tuple wins, so current conventions beat deprecated ones beat OpenInference.

Called by every trace adapter once per span; keep it allocation-light.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

from oncall_tui.core.models import GenAI

_OPERATION = ("gen_ai.operation.name",)
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_REQUEST_MODEL = ("gen_ai.request.model", "llm.request.model")
_RESPONSE_MODEL = ("gen_ai.response.model", "llm.model_name")
_AGENT = ("gen_ai.agent.name", "agent.name")
_CONVERSATION = ("gen_ai.conversation.id", "session.id")
_TOOL_NAME = ("gen_ai.tool.name", "tool.name")
_TOOL_CALL_ID = ("gen_ai.tool.call.id", "tool_call.id", "tool.id")
_TOOL_ARGS = ("gen_ai.tool.call.arguments", "tool.parameters", "tool_call.function.arguments")
_TOOL_RESULT = ("gen_ai.tool.call.result",)
_INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
_OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_REASONING_TOKENS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.output_tokens_details.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
_CACHE_CREATION = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
_TTFC = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token")
# Not in the conventions yet: the time until the first chunk a user can SEE
# (reasoning chunks excluded). Our simulator and docs/protocol.md emit it.
_TTFV = ("gen_ai.response.time_to_first_visible_chunk",)
_FINISH = ("gen_ai.response.finish_reasons", "llm.finish_reason")
_TEMPERATURE = ("gen_ai.request.temperature",)
_TOP_P = ("gen_ai.request.top_p",)
_MAX_TOKENS = ("gen_ai.request.max_tokens",)
_SEED = ("gen_ai.request.seed",)
_PROMPT_HASH = (
    "gen_ai.system_instructions.hash",
    "gen_ai.prompt.hash",
    "gen_ai.prompt.template.version",
    "llm.prompt_template.version",
)
_SYSTEM_INSTRUCTIONS = ("gen_ai.system_instructions",)
_ERROR_TYPE = ("error.type",)
_HTTP_STATUS = ("http.response.status_code", "http.status_code")
_HTTP_RESEND = ("http.request.resend_count",)
# OpenLLMetry's flag; OpenInference keeps it in llm.invocation_parameters.
_STREAMING = ("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming")

# OpenInference span kinds onto GenAI operation names.
_OPENINFERENCE_OPERATION = {
    "LLM": "chat",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
}

_GENAI_MARKERS = ("gen_ai.", "llm.", "openinference.", "tool.", "tool_call.")


def _first(attrs: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _either(value: Any, fallback: Any) -> Any:
    # Not `or`: a temperature of 0.0 is a real, recorded value.
    return fallback if value is None else value


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # "INF", "NaN", junk: not a count
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # inf/NaN in a latency or a temperature is junk, not a measurement.
    return number if math.isfinite(number) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _finish_reasons(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # Some exporters flatten a string array into a JSON string.
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                return (value,)
            return tuple(str(v) for v in parsed) if isinstance(parsed, list) else (value,)
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _invocation_params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    raw = attrs.get("llm.invocation_parameters")
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return raw if isinstance(raw, dict) else {}


def has_genai(attrs: Mapping[str, Any]) -> bool:
    """Cheap test: does any attribute name belong to a GenAI vocabulary?"""
    return any(key.startswith(_GENAI_MARKERS) for key in attrs)


_FIELDS: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("operation", _OPERATION, None),
    ("provider", _PROVIDER, None),
    ("request_model", _REQUEST_MODEL, None),
    ("response_model", _RESPONSE_MODEL, None),
    ("agent_name", _AGENT, None),
    ("conversation_id", _CONVERSATION, None),
    ("tool_name", _TOOL_NAME, None),
    ("tool_call_id", _TOOL_CALL_ID, None),
    ("tool_call_arguments", _TOOL_ARGS, None),
    ("tool_call_result", _TOOL_RESULT, None),
    ("input_tokens", _INPUT_TOKENS, _int),
    ("output_tokens", _OUTPUT_TOKENS, _int),
    ("reasoning_tokens", _REASONING_TOKENS, _int),
    ("cache_read_tokens", _CACHE_READ, _int),
    ("cache_creation_tokens", _CACHE_CREATION, _int),
    ("time_to_first_chunk_s", _TTFC, _float),
    ("time_to_first_visible_s", _TTFV, _float),
    ("finish_reasons", _FINISH, _finish_reasons),
    ("temperature", _TEMPERATURE, _float),
    ("top_p", _TOP_P, _float),
    ("max_tokens", _MAX_TOKENS, _int),
    ("seed", _SEED, _int),
    ("system_prompt_hash", _PROMPT_HASH, None),
    ("error_type", _ERROR_TYPE, None),
    ("http_status_code", _HTTP_STATUS, _int),
    ("http_resend_count", _HTTP_RESEND, _int),
    ("streaming", _STREAMING, _bool),
)
# attribute name -> (field, rank): one dict lookup per attribute instead of
# one per (field, name) pair; lower rank wins, as in the tuples above.
_BY_NAME: dict[str, tuple[str, int]] = {
    name: (field, rank) for field, names, _ in _FIELDS for rank, name in enumerate(names)
}
_PARAM_FIELDS = ("temperature", "top_p", "max_tokens", "seed")
# An empty string is "not recorded" for most fields, but a tool that returned
# "" did answer: the empty-result finding needs to see it.
_EMPTY_IS_AN_ANSWER = frozenset({"tool_call_result"})


_FIELD_AT = {field: index for index, (field, _, _) in enumerate(_FIELDS)}
_OP_AT = _FIELD_AT["operation"]
_FINISH_AT = _FIELD_AT["finish_reasons"]
_HASH_AT = _FIELD_AT["system_prompt_hash"]
_STREAMING_AT = _FIELD_AT["streaming"]
_PARAM_AT = tuple((name, _FIELD_AT[name]) for name in _PARAM_FIELDS)
_EMPTY_OK_AT = frozenset(_FIELD_AT[f] for f in _EMPTY_IS_AN_ANSWER)
if tuple(f for f, _, _ in _FIELDS) != GenAI.__struct_fields__:  # pragma: no cover
    raise AssertionError("keep _FIELDS in the order of GenAI's fields")

# How each field's value is taken: the type that passes through untouched
# (the common case, checked with ``type(v) is T`` instead of a call), else the
# converter. finish_reasons always converts.
_FAST: tuple[type | None, ...] = tuple(
    {None: str, _int: int, _float: float}.get(conv) for _, _, conv in _FIELDS
)


class _Plan(NamedTuple):
    """Which attribute names feed which GenAI field, for one key tuple."""

    #: (field index, pass-through type, converter, names present in rank order)
    fields: tuple[tuple[int, type | None, Any, tuple[str, ...]], ...]
    openinference_kind: bool  # "openinference.span.kind" present
    invocation_params: bool  # "llm.invocation_parameters" present
    system_instructions: bool  # "gen_ai.system_instructions" present


# Spans of one kind carry the same attribute names, so "which names feed which
# field" is worked out once per distinct key tuple. Bounded: hostile input
# with ever-new key sets only costs a cleared cache.
_PLANS: dict[tuple[str, ...], _Plan | None] = {}
_MAX_PLANS = 4096


def _plan(keys: tuple[str, ...]) -> _Plan | None:
    ranked: dict[int, list[tuple[int, str]]] = {}
    marked = False
    for key in keys:
        hit = _BY_NAME.get(key)
        if hit is None:
            marked = marked or key.startswith(_GENAI_MARKERS)
            continue
        marked = True
        field, rank = hit
        ranked.setdefault(_FIELD_AT[field], []).append((rank, key))
    if not marked:
        return None
    present = set(keys)
    return _Plan(
        tuple(
            (index, _FAST[index], _CONVERTERS[index], tuple(name for _, name in sorted(names)))
            for index, names in sorted(ranked.items())
        ),
        "openinference.span.kind" in present,
        "llm.invocation_parameters" in present,
        _SYSTEM_INSTRUCTIONS[0] in present,
    )


_CONVERTERS: tuple[Any, ...] = tuple(conv or _str for _, _, conv in _FIELDS)


def genai_view(attrs: Mapping[str, Any]) -> GenAI | None:
    """The normalised GenAI view, or ``None`` for a span with no GenAI data.

    Hot: runs once per span of every trace read. The plan makes it a walk over
    the few fields this key set feeds, with no per-value call when the value
    already has its field's type.
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
        for name in names:
            value: Any = attrs[name]
            if value is None or (value == "" and index not in _EMPTY_OK_AT):
                continue
            if type(value) is not fast or (fast is float and not math.isfinite(cast(float, value))):
                # Not the field's own type, or a non-finite float: the
                # converter decides.
                value = convert(value)
            values[index] = value
            break
    if values[_OP_AT] is None and plan.openinference_kind:
        kind = attrs.get("openinference.span.kind")
        if isinstance(kind, str):
            values[_OP_AT] = _OPENINFERENCE_OPERATION.get(kind.upper())
    if plan.invocation_params:
        params = _invocation_params(attrs)
        for name, index in _PARAM_AT:
            if values[index] is None and params.get(name) is not None:
                values[index] = _CONVERTERS[index](params[name])
        if values[_STREAMING_AT] is None:
            values[_STREAMING_AT] = _bool(params.get("stream"))
    if values[_HASH_AT] is None and plan.system_instructions:
        instructions = _first(attrs, _SYSTEM_INSTRUCTIONS)
        if instructions is not None:
            text = _str(instructions) or ""
            values[_HASH_AT] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if values[_FINISH_AT] is None:
        values[_FINISH_AT] = ()
    return GenAI(*values)
