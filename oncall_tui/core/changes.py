"""Change events for ``trace onset``: what changed on a route, and when.

From traces (per route, in time order): the response model behind a
requested alias (a new dated snapshot), the system prompt hash or version,
tool definitions (a description or schema hash; a tool that appeared or went
from a full definitions list), and the provider and model a route tries
first. From the audit log: actions that ran. From a gateway's route history:
serving version upgrades and rollbacks.

A value counts as changed when a trace carries a new one and the next trace
that carries the key agrees (or there is none): one stray trace (a canary, a
fallback during a blip) is not a change. Text from traces is only hashed or
compared, never acted on.

Pure: the caller reads the files and stores; this module only reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

from oncall_tui.core.gateway import RoutesResponse
from oncall_tui.core.modelid import canonical_model
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.onset_model import ChangeEvent
from oncall_tui.core.summary import summarize

# ------------------------------------------------------------------ conventions
# Where each instrumentation family writes tool definitions. Data, like
# core/conventions: a new family is a new row.

#: A JSON list of definitions on a model or agent span (OTel GenAI; Pydantic AI).
TOOL_LIST_KEYS = ("gen_ai.tool.definitions", "gen_ai.request.tools", "llm.tools")
#: Indexed definitions, one JSON object each: OpenInference ``llm.tools.N.tool.json_schema``.
TOOL_INDEXED_JSON = re.compile(r"^llm\.tools\.(\d+)\.tool\.json_schema$")
#: Indexed fields: OpenLLMetry ``llm.request.functions.N.{name,description,parameters}``.
TOOL_INDEXED_FIELDS = re.compile(r"^llm\.request\.functions\.(\d+)\.(name|description|parameters)$")
#: One tool's own definition on its execution span (Strands; OpenInference).
TOOL_SPAN_DESCRIPTION = ("gen_ai.tool.description", "tool.description")
TOOL_SPAN_SCHEMA = ("gen_ai.tool.json_schema", "tool.parameters", "tool.json_schema")
TOOL_SPAN_NAME = ("gen_ai.tool.name", "tool.name")

#: Text beyond this is hashed as it is, never parsed (hostile input stays cheap).
_PARSE_LIMIT = 1 << 20


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _schema_hash(value: Any) -> str:
    """Hash of a schema, the same for the same schema however it was spaced."""
    if isinstance(value, str):
        if len(value) > _PARSE_LIMIT:
            return _hash(value)
        try:
            value = json.loads(value)
        except ValueError:
            return _hash(value)
    try:
        return _hash(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))
    except (TypeError, ValueError):
        return _hash(repr(value))


def _json(value: Any) -> Any:
    if isinstance(value, str) and len(value) <= _PARSE_LIMIT:
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _definition(item: Any) -> tuple[str, str | None, str | None] | None:
    """(name, description hash, schema hash) of one definition object, in
    the OpenAI ``{"type": "function", "function": {...}}`` shape or flat."""
    if not isinstance(item, Mapping):
        return None
    inner = item.get("function")
    body = inner if isinstance(inner, Mapping) else item
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return None
    desc = body.get("description")
    params = body.get("parameters", body.get("input_schema", body.get("inputSchema")))
    return (
        name[:200],
        _hash(desc) if isinstance(desc, str) else None,
        _schema_hash(params) if params is not None else None,
    )


def tool_definitions(span: Span) -> tuple[dict[str, tuple[str | None, str | None]], bool]:
    """Tool name -> (description hash, schema hash) a span carries, and
    whether it was a full list (a tool missing from it is gone)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    full = False
    attrs = span.attributes
    for key in TOOL_LIST_KEYS:
        items = _json(attrs.get(key))
        if isinstance(items, list):
            full = True
            for item in items:
                d = _definition(_json(item))
                if d is not None:
                    out[d[0]] = (d[1], d[2])
    indexed: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith("llm."):
            continue
        m = TOOL_INDEXED_JSON.match(key)
        if m:
            d = _definition(_json(value))
            if d is not None:
                full = True
                out[d[0]] = (d[1], d[2])
            continue
        m = TOOL_INDEXED_FIELDS.match(key)
        if m:
            indexed.setdefault(m.group(1), {})[m.group(2)] = value
    for fields in indexed.values():
        d = _definition(fields)
        if d is not None:
            full = True
            out[d[0]] = (d[1], d[2])
    # One tool describing itself on its own execution span.
    desc = next((attrs[k] for k in TOOL_SPAN_DESCRIPTION if isinstance(attrs.get(k), str)), None)
    schema = next((attrs[k] for k in TOOL_SPAN_SCHEMA if attrs.get(k) is not None), None)
    if desc is not None or schema is not None:
        name = span.gen_ai.tool_name if span.gen_ai is not None else None
        name = name or next(
            (attrs[k] for k in TOOL_SPAN_NAME if isinstance(attrs.get(k), str)), None
        )
        if name:
            out.setdefault(
                name[:200],
                (
                    _hash(desc) if desc is not None else None,
                    _schema_hash(schema) if schema is not None else None,
                ),
            )
    return out, full


# ------------------------------------------------------------------ per trace


def default_route(trace: Trace) -> str:
    """The route a trace served: the gateway's route attribute on its root
    (or a model group below it), else the root's service name."""
    summary = summarize(trace)
    if summary.route:
        return summary.route
    return summary.service or "unknown"


#: key -> value observed in one trace. Keys: ("model", alias), ("prompt", who),
#: ("provider",), ("tool", name). Tool values are "desc|schema" hashes.
_Observed = dict[tuple[str, ...], str | None]


def _observe(trace: Trace, known_tools: set[str]) -> tuple[_Observed, bool]:
    seen: _Observed = {}
    first_model: Span | None = None
    tools: dict[str, tuple[str | None, str | None]] = {}
    full_list = False
    for span in trace.spans:
        g = span.gen_ai
        if g is not None and g.request_model:
            if g.response_model and g.error_type is None:
                # Keyed by the name asked for: an alias resolving to a new
                # snapshot is the change; a pinned snapshot never changes.
                seen["model", g.request_model] = g.response_model
            if first_model is None or span.start_ns < first_model.start_ns:
                first_model = span
        if g is not None and g.system_prompt_hash:
            who = g.agent_name or (canonical_model(g.request_model) if g.request_model else "")
            seen["prompt", who] = g.system_prompt_hash
        if span.attributes:
            defs, full = tool_definitions(span)
            if defs:
                tools.update(defs)
                full_list = full_list or full
    if first_model is not None and first_model.gen_ai is not None:
        g = first_model.gen_ai
        model = g.request_model or ""
        seen["provider",] = f"{g.provider}/{model}" if g.provider else model
    for name, (desc, schema) in tools.items():
        seen["tool", name] = f"{desc or '-'}|{schema or '-'}"
    if full_list:
        for name in known_tools - tools.keys():
            seen["tool", name] = None
    return seen, full_list


def _event(
    route: str, key: tuple[str, ...], at_ns: int, before: str | None, after: str | None
) -> ChangeEvent:
    kind = key[0]
    if kind == "model":
        return ChangeEvent(at_ns, "model_version", key[1], route, before, after)
    if kind == "prompt":
        who = f" ({key[1]})" if key[1] else ""
        return ChangeEvent(at_ns, "system_prompt", f"system prompt{who}", route, before, after)
    if kind == "provider":
        return ChangeEvent(at_ns, "provider", "first tier", route, before, after)
    # A tool: name what changed and show that part's hashes.
    b_desc, _, b_schema = (before or "|").partition("|")
    a_desc, _, a_schema = (after or "|").partition("|")
    if before is None or after is None:
        return ChangeEvent(
            at_ns, "tool_definition", key[1], route, before and b_desc, after and a_desc
        )
    parts = [
        w for w, x, y in (("description", b_desc, a_desc), ("schema", b_schema, a_schema)) if x != y
    ]
    if parts and parts[0] == "description":
        b, a = b_desc, a_desc
    else:
        b, a = b_schema, a_schema
    return ChangeEvent(
        at_ns, "tool_definition", key[1], route, b, a, detail=" and ".join(parts) or None
    )


def changes_from_traces(
    traces: Iterable[Trace], *, route_of: Callable[[Trace], str] = default_route
) -> list[ChangeEvent]:
    """Every change the traces show, per route, in time order.

    A change is dated by the first trace carrying the new value."""
    rows: list[tuple[int, str, Trace]] = []
    for trace in traces:
        if trace.spans:
            rows.append((min(s.start_ns for s in trace.spans), route_of(trace), trace))
    rows.sort(key=lambda r: (r[0], r[1]))
    current: dict[str, dict[tuple[str, ...], str | None]] = {}
    #: a new value seen once, waiting for the next trace to agree: (at, value)
    pending: dict[str, dict[tuple[str, ...], tuple[int, str | None]]] = {}
    tools: dict[str, set[str]] = {}
    out: list[ChangeEvent] = []
    for at, route, trace in rows:
        cur = current.setdefault(route, {})
        wait = pending.setdefault(route, {})
        known = tools.setdefault(route, set())
        had_tools = bool(known)
        seen, full = _observe(trace, known)
        for key, value in seen.items():
            if key[0] == "tool" and value is not None:
                if key not in cur and full and had_tools:
                    cur[key] = None  # a full list grew: the tool appeared
                known.add(key[1])
            if key not in cur:
                cur[key] = value
                continue
            held = wait.get(key)
            if held is not None:
                del wait[key]
                if value == held[1]:
                    out.append(_event(route, key, held[0], cur[key], value))
                    cur[key] = value
                    continue
            if value != cur[key]:
                wait[key] = (at, value)
    for route, waiting in pending.items():
        for key, (at, value) in waiting.items():
            # Nothing after it disagreed: the last traces' value stands.
            out.append(_event(route, key, at, current[route][key], value))
    out.sort(key=lambda c: (c.at_ns, c.route or "", c.kind, c.subject))
    return out


# ------------------------------------------------------------------ audit, gateway


def _ns(stamp: str | datetime) -> int | None:
    if isinstance(stamp, str):
        try:
            stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
    if stamp.tzinfo is None:
        return None
    return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000


def changes_from_audit(records: Iterable[Mapping[str, Any]]) -> list[ChangeEvent]:
    """Actions that ran (stage ``executed``), from audit records as plain
    dicts (``AuditRecord`` fields), dated when the system answered. The
    plan's one-line description is the detail."""
    planned: dict[str, str] = {}
    out: list[ChangeEvent] = []
    for r in records:
        stage, action_id = r.get("stage"), str(r.get("action_id", ""))
        raw = r.get("data")
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if stage == "planned" and isinstance(data.get("detail"), str):
            planned[action_id] = data["detail"]
        if stage != "executed":
            continue
        at = _ns(str(r.get("ts", "")))
        route = r.get("route")
        if at is None or not isinstance(route, str):
            continue
        detail = planned.get(action_id) or (
            data.get("detail") if isinstance(data.get("detail"), str) else None
        )
        actor = r.get("actor")
        if isinstance(actor, str) and actor:
            detail = f"{detail} (by {actor})" if detail else f"by {actor}"
        out.append(
            ChangeEvent(
                at, "action", str(r.get("kind", "action")), route, source="audit", detail=detail
            )
        )
    out.sort(key=lambda c: c.at_ns)
    return out


def changes_from_routes(routes: RoutesResponse) -> list[ChangeEvent]:
    """Serving version changes from each route's history: an upgrade, or a
    rollback when the version was served before."""
    out: list[ChangeEvent] = []
    for route in routes.routes:
        history = sorted(route.history, key=lambda v: v.deployed_at)
        served: set[str] = set()
        for prev, cur in pairwise(history):
            served.add(prev.version)
            at = _ns(cur.deployed_at)
            if at is None or cur.version == prev.version:
                continue
            detail = "rolled back" if cur.version in served else "upgraded"
            if prev.primary.key != cur.primary.key:
                detail += f", primary {prev.primary.key} -> {cur.primary.key}"
            out.append(
                ChangeEvent(
                    at,
                    "serving_version",
                    route.name,
                    route.name,
                    prev.version,
                    cur.version,
                    source="gateway",
                    detail=detail,
                )
            )
    out.sort(key=lambda c: c.at_ns)
    return out
