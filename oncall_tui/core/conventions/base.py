"""What a convention family is, and the value converters its tables share.

A family is a TABLE (attribute name -> ``GenAI`` field, with a rank: lower
wins when several names feed one field) plus, only where a table cannot say
it, a HOOK: a small function that reads the few attributes, the span name or
the span events a table cannot map one to one (a span kind that decides the
operation, a JSON-string attribute, ...). ``core.conventions.view`` merges
every registered table into one plan per attribute-key set, so adding a
library is one module and one line in ``registry.FAMILIES``.

Ranks are shared across families: 0 for the current OTel GenAI names, 10 for
their deprecated names, 20 and up for other vocabularies, so the standard wins
wherever a span carries several (OpenLLMetry writes both).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from oncall_tui.core.models import GenAI, SpanEvent

#: GenAI field name -> its index in ``GenAI.__struct_fields__`` (and in the
#: value list a hook fills).
FIELD: dict[str, int] = {name: i for i, name in enumerate(GenAI.__struct_fields__)}

#: A hook fills or corrects ``values`` (one slot per GenAI field, already
#: filled from the tables) for one span, given its attributes, name, events
#: and start time (ns; None when the caller has none). It must not raise on
#: hostile input.
Hook = Callable[[Mapping[str, Any], list[Any], str, Sequence[SpanEvent], int | None], None]


class Family(NamedTuple):
    """One instrumentation vocabulary."""

    name: str
    #: (attribute name, GenAI field, rank)
    table: tuple[tuple[str, str, int], ...]
    #: Key prefixes (or whole keys) whose presence means the span speaks this
    #: family; they gate the hook and make the span a GenAI span at all.
    signals: tuple[str, ...] = ()
    hook: Hook | None = None
    #: The hook reads span events: only then are they handed over.
    reads_events: bool = False


# -- value converters (None: not recorded) ----------------------------------

_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # "INF", "NaN", junk: not a count
        return None


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # inf/NaN in a latency or a temperature is junk, not a measurement.
    return number if math.isfinite(number) else None


def to_reasons(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # Some exporters flatten a string array into a JSON string.
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                # OpenLLMetry writes a Python list's repr: "['tool_calls']".
                quoted = _QUOTED.findall(value)
                return tuple(a or b for a, b in quoted) if quoted else (value,)
            return tuple(str(v) for v in parsed) if isinstance(parsed, list) else (value,)
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def json_object(raw: Any) -> dict[str, Any]:
    """A JSON-object attribute (``llm.invocation_parameters``, ``metadata``)
    as a dict; anything else, malformed included, is ``{}``."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def nonempty(value: Any) -> bool:
    return value is not None and value != ""


# -- the visible output's size (hidden_reasoning_latency) --------------------

# Message part types whose text a user sees, and the key holding it. Any
# other part (an image, a file, a part type we do not know) has no size in
# characters, so the output's size is then unknown.
_PART_TEXT = {"text": "content", "reasoning": "content", "refusal": "content"}
# Bound on what is walked, so a hostile attribute costs little.
_MAX_PARTS = 1000


def text_size(text: str) -> int:
    """A text's size in ASCII-equivalent characters: a non-ASCII character
    (CJK, emoji, ...) is about one token, not a quarter of one, so it counts
    as 4. Overcounting what was visible can only hide an alarm."""
    if text.isascii():
        return len(text)
    return len(text) + 3 * sum(1 for c in text if ord(c) > 127)


def _length(value: Any) -> int:
    return text_size(value if isinstance(value, str) else to_str(value) or "")


def messages_chars(raw: Any) -> int | None:
    """Characters of the visible output in GenAI messages
    (``gen_ai.output.messages``: ``[{role, parts: [...]}]``, a JSON string or
    an array): text, reasoning and refusal parts, and tool-call arguments.
    ``None`` when content was not captured (a part without its text) or a
    part is not text."""
    if isinstance(raw, str):
        if not raw.startswith("["):
            return None
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return None  # truncated by an attribute length limit, or junk
    if not isinstance(raw, list) or not raw:
        return None
    total = seen = 0
    for message in raw:
        parts = message.get("parts") if isinstance(message, dict) else None
        if not isinstance(parts, list):
            return None
        for part in parts:
            seen += 1
            if seen > _MAX_PARTS or not isinstance(part, dict):
                return None
            kind = part.get("type")
            if kind == "tool_call":
                if "arguments" not in part:
                    return None
                total += _length(part["arguments"]) if part["arguments"] is not None else 0
                continue
            key = _PART_TEXT.get(kind) if isinstance(kind, str) else None
            if key is None or not isinstance(part.get(key), str):
                return None
            total += text_size(part[key])
    return total


def openai_message_chars(message: Any) -> int | None:
    """Characters of an OpenAI-shaped message (``gen_ai.choice`` events:
    ``{role, content, tool_calls: [{function: {arguments}}]}``); ``None``
    when it carries neither content nor tool calls (capture off)."""
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    calls = message.get("tool_calls")
    if not isinstance(content, str) and not isinstance(calls, list):
        return None
    total = text_size(content) if isinstance(content, str) else 0
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or "arguments" not in function:
            return None
        total += _length(function["arguments"]) if function["arguments"] is not None else 0
    return total


def flat_chars(attrs: Mapping[str, Any], prefix: str, suffixes: tuple[str, ...]) -> int | None:
    """Characters of the flattened message attributes under ``prefix`` whose
    names end with one of ``suffixes`` (``llm.output_messages.0.message.content``,
    ``gen_ai.completion.0.tool_calls.1.arguments``); ``None`` when there is
    none (content capture off). Walks every key: call it only for spans that
    carry such attributes."""
    total = 0
    found = False
    for key, value in attrs.items():
        if key.startswith(prefix) and key.endswith(suffixes) and value is not None:
            found = True
            total += _length(value)
    return total if found else None
