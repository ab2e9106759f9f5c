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
#: filled from the tables) for one span. It must not raise on hostile input.
Hook = Callable[[Mapping[str, Any], list[Any], str, Sequence[SpanEvent]], None]


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
