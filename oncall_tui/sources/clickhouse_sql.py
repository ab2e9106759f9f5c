"""The SQL the ClickHouse adapter sends, over the OTel Collector ClickHouse
exporter's ``otel_traces`` schema (tests/fixtures/clickhouse/otel_traces.sql).

Pure text building: no I/O. Every query is one plain ``SELECT`` over one
table name (a MergeTree table on a single node or a Distributed table on a
cluster): no engine-specific DDL, no ``FINAL``, no ``JOIN`` (a distributed
join would need ``GLOBAL``), no recursive CTE, no ``arrayJoin`` before the
per-trace ``GROUP BY`` (spans of one trace may sit on several shards, so
everything per trace is computed after the ``GROUP BY TraceId`` merge).
Values travel as ClickHouse query parameters (``{name:Type}``; the HTTP
interface takes them as ``param_<name>``), never spliced into the text: a
route name from a user or a trace cannot change the query.

Which attribute says what comes from the conventions (``core.conventions``
tables, ranked), so a new instrumentation family is picked up here too;
the few things only a convention hook says (OpenInference's TOOL span kind,
OpenLLMetry's ``traceloop.span.kind``) are spelled out once below.
docs/trace-stores.md ("ClickHouse") explains each query.
"""

from __future__ import annotations

import re

from oncall_tui.core.conventions import FAMILIES
from oncall_tui.core.findings import REPEATED_CALL_MIN, RETRY_ATTEMPTS_MIN
from oncall_tui.core.summary import ROUTE_KEYS

#: What names a trace's route, as ``core.summary.summarize`` reads it: on the
#: root span these (first wins), else the earliest span with one of
#: ``ROUTE_KEYS`` (the gateway's model group), else the root's service name.
ROOT_ROUTE_KEYS = ("gen_ai.route", "http.route")

#: Finding kinds the onset query counts (core.findings names).
KINDS = ("reentrancy_cycle", "repeated_tool_call", "retry_amplification", "error")

#: Pointer-jumping rounds for "nearest tool ancestor": 2**8 = 256 spans
#: between one tool and the next tool above it, as deep as
#: ``core.findings._inside_one_of`` looks.
JUMP_ROUNDS = 8
#: Tool-in-tool nesting levels compared for "same tool above": A B A B A is 4.
TOOL_LEVELS = 8
#: Traces with more spans than this skip the in-SQL reentrancy walk (it is
#: quadratic in spans per trace); they are still counted.
MAX_WALK_SPANS = 20_000

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def table_ref(name: str) -> str:
    """``db.table`` or ``table`` as a quoted identifier; anything else refused
    (the name comes from a config file, and it is the one thing not sent as
    a parameter)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a table name: {name!r} (letters, digits, _ and one optional dot)")
    return ".".join(f"`{part}`" for part in name.split("."))


def _keys(field: str) -> tuple[str, ...]:
    rows = sorted((rank, key) for fam in FAMILIES for key, f, rank in fam.table if f == field)
    return tuple(key for _, key in rows)


def _lit(text: str) -> str:
    # Only our own constant key names reach here; quote them anyway.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _first(keys: tuple[str, ...], col: str = "SpanAttributes") -> str:
    """The first non-empty of several map keys ('' when none)."""
    if not keys:
        return "''"
    parts = [f"{col}[{_lit(k)}]" for k in keys]
    if len(parts) == 1:
        return parts[0]
    conds = ", ".join(f"{p} != '', {p}" for p in parts)
    return f"multiIf({conds}, '')"


TOOL_NAME = (
    "multiIf("
    f"{_first(_keys('tool_name'))} != '' AND SpanAttributes['openinference.span.kind'] "
    "IN ('', 'TOOL'), "
    f"{_first(_keys('tool_name'))}, "
    "SpanAttributes['openinference.span.kind'] = 'TOOL', SpanName, "
    "SpanAttributes['traceloop.span.kind'] = 'tool', SpanAttributes['traceloop.entity.name'], "
    "'')"
)
TOOL_ARGS = (
    f"multiIf({_first(_keys('tool_call_arguments'))} != '', "
    f"{_first(_keys('tool_call_arguments'))}, "
    "SpanAttributes['openinference.span.kind'] = 'TOOL', SpanAttributes['input.value'], "
    "SpanAttributes['traceloop.span.kind'] = 'tool', SpanAttributes['traceloop.entity.input'], "
    # OTel GenAI's event form (Strands): the call's arguments in a span event.
    "has(Events.Name, 'gen_ai.tool.message'), "
    "Events.Attributes[indexOf(Events.Name, 'gen_ai.tool.message')]['content'], "
    "'')"
)
REQUEST_MODEL = _first(_keys("request_model"))
RESPONSE_MODEL = _first(_keys("response_model"))
PROMPT_HASH = _first(_keys("system_prompt_hash"))
HTTP_STATUS = _first(_keys("http_status_code"))
HTTP_RESEND = _first(_keys("http_resend_count"))
#: The exporter writes Go's status names ("Error"); older releases wrote the enum.
IS_ERROR = "StatusCode IN ('Error', 'STATUS_CODE_ERROR')"
#: A model call or an HTTP attempt: what a retry repeats.
IS_ATTEMPT = f"({REQUEST_MODEL} != '' OR {HTTP_STATUS} != '' OR {HTTP_RESEND} != '')"
IS_FAILED_ATTEMPT = (
    f"({IS_ERROR} OR toUInt16OrZero({HTTP_STATUS}) IN (408, 429) "
    f"OR toUInt16OrZero({HTTP_STATUS}) >= 500)"
)
SPAN_ROUTE = _first(ROUTE_KEYS)
ROOT_ROUTE = _first(ROOT_ROUTE_KEYS)
IS_ROOT = "ParentSpanId = ''"

_WINDOW = (
    "Timestamp >= fromUnixTimestamp64Nano({since:Int64}) "
    "AND Timestamp < fromUnixTimestamp64Nano({until:Int64} + {slack:Int64})"
)


def _trace_route() -> str:
    """A trace's route, as ``core.changes.default_route`` decides it: the
    root's route attribute, else the earliest span naming one, else the
    root's service name."""
    return (
        "multiIf("
        f"argMinIf({ROOT_ROUTE}, Timestamp, {IS_ROOT}) != '', "
        f"argMinIf({ROOT_ROUTE}, Timestamp, {IS_ROOT}), "
        f"argMinIf({SPAN_ROUTE}, Timestamp, {SPAN_ROUTE} != '') != '', "
        f"argMinIf({SPAN_ROUTE}, Timestamp, {SPAN_ROUTE} != ''), "
        f"argMinIf(ServiceName, Timestamp, {IS_ROOT}) != '', "
        f"argMinIf(ServiceName, Timestamp, {IS_ROOT}), "
        "any(ServiceName) != '', any(ServiceName), 'unknown')"
    )


def _reentrancy() -> str:
    """The ``reentrant`` flag (0/1) from per-trace arrays ``ids``, ``parents``,
    ``tools``, by parent links only.

    Step 1, each span's parent position: ``p[i] = indexOf(ids, parents[i])``.
    Step 2, each span's nearest tool ancestor by pointer jumping (an
    ``arrayFold`` over ``JUMP_ROUNDS`` rounds): a pointer that is not at a tool
    or the top takes the pointer of the span it points at, so round r spans
    2**r levels. Step 3, ``TOOL_LEVELS`` steps up the tool-ancestor chain,
    stopping where a tool has the span's own tool name: a tool span that
    reaches one re-entered itself. Arrays are 1-based and ``arr[0]`` is the
    type's default (0, ''), which ends every walk at the top. Lambda
    arguments, not aliases, carry the state: an alias referenced twice is
    expanded twice, and eight rounds of that exceed any query-size limit.
    All of it sits inside one ``if`` branch, so it runs only for traces with
    two tool spans or more (short-circuit evaluation): most traces skip it."""
    p = "arrayMap(x -> indexOf(ids, x), parents)"
    is_tool = "arrayMap(t -> t != '', tools)"
    jumped = (
        f"arrayFold((acc, r) -> arrayMap(x -> if(x = 0 OR {is_tool}[x], x, acc[x]), acc), "
        f"range({JUMP_ROUNDS}), {p})"
    )
    above = f"(arrayMap(x -> if({is_tool}[x], x, 0), {jumped}) AS tool_above)"
    same = (
        "arrayFold((acc, r) -> arrayMap(i -> if(tools[acc[i]] = tools[i], acc[i], "
        f"tool_above[acc[i]]), arrayEnumerate(acc)), range({TOOL_LEVELS}), {above})"
    )
    return (
        "if(n_tools >= 2 AND length(ids) <= {max_walk:UInt32}, "
        f"arrayExists((i, a) -> tools[i] != '' AND a != 0 AND tools[a] = tools[i], "
        f"arrayEnumerate(ids), {same}), 0) AS reentrant"
    )


def per_trace_flags(table: str, *, route_filter: bool) -> str:
    """The per-trace subquery with every finding flag, for counts and candidates."""
    tool = TOOL_NAME
    args = f"replaceRegexpAll({TOOL_ARGS}, '\\\\s+', '')"
    reent = _reentrancy()
    having_route = " AND route = {route:String}" if route_filter else ""
    return f"""
    SELECT
        trace_id, started, route, has_error,
        repeated >= {REPEATED_CALL_MIN} AS has_repeated,
        retries >= {RETRY_ATTEMPTS_MIN} AS has_retries,
        {reent}
    FROM (
        SELECT
            TraceId AS trace_id,
            min(Timestamp) AS started,
            {_trace_route()} AS route,
            groupArray(SpanId) AS ids,
            groupArray(ParentSpanId) AS parents,
            groupArray({tool}) AS tools,
            countIf({tool} != '') AS n_tools,
            -- the most calls of one (tool, arguments) pair; calls without
            -- recorded arguments are never identical
            groupArrayIf({tool} || '\\x00' || {args}, {tool} != '' AND {TOOL_ARGS} != '')
                AS calls,
            arrayMax(arrayConcat([0], arrayMap(x -> countEqual(calls, x), calls))) AS repeated,
            -- the most attempts under one parent, where one of them failed:
            -- model calls re-sent by a gateway, HTTP attempts under an SDK call
            groupArrayIf(ParentSpanId, {IS_ATTEMPT}) AS attempt_parents,
            groupArrayIf(ParentSpanId, {IS_ATTEMPT} AND {IS_FAILED_ATTEMPT}) AS failed_parents,
            arrayMax(arrayConcat([0], arrayMap(
                x -> countEqual(attempt_parents, x), failed_parents
            ))) AS retries_siblings,
            max(toUInt64OrZero({HTTP_RESEND})) AS resent,
            if(resent > 0 OR retries_siblings > 0, greatest(retries_siblings, resent + 1), 0)
                AS retries,
            max(toUInt8({IS_ERROR})) AS has_error
        FROM {table_ref(table)}
        WHERE {_WINDOW}
        GROUP BY TraceId
        HAVING started >= fromUnixTimestamp64Nano({{since:Int64}})
           AND started < fromUnixTimestamp64Nano({{until:Int64}}){having_route}
    )"""


def onset_counts(table: str, *, route_filter: bool, per_bucket_candidates: int) -> str:
    """Per (route, bucket): traces seen, traces with each kind, and a few
    candidate trace ids per kind (``groupArrayIf(n)``: the engine keeps them,
    the result stays small)."""
    k = int(per_bucket_candidates)
    return f"""
SELECT
    route,
    toInt64(intDiv(toUnixTimestamp64Nano(started) - {{since:Int64}}, {{bucket:Int64}}))
        * {{bucket:Int64}} + {{since:Int64}} AS start_ns,
    count() AS traces,
    countIf(reentrant) AS reentrancy_cycle,
    countIf(has_repeated) AS repeated_tool_call,
    countIf(has_retries) AS retry_amplification,
    countIf(has_error) AS error,
    groupArrayIf({k})(trace_id, reentrant) AS c_reentrancy_cycle,
    groupArrayIf({k})(trace_id, has_repeated) AS c_repeated_tool_call,
    groupArrayIf({k})(trace_id, has_retries) AS c_retry_amplification,
    groupArrayIf({k})(trace_id, has_error) AS c_error
FROM ({per_trace_flags(table, route_filter=route_filter)})
GROUP BY route, start_ns
ORDER BY route, start_ns
FORMAT JSONEachRow"""


#: Spans that carry anything a change is read from.
#: One tool's own description on its execution span (Strands, OpenInference):
#: core.changes.TOOL_SPAN_DESCRIPTION.
TOOL_DESCRIPTION = _first(("gen_ai.tool.description", "tool.description"))
#: The system prompt's text, hashed when no hash or version was recorded (as
#: the OTel GenAI convention hook does).
INSTRUCTIONS = "SpanAttributes['gen_ai.system_instructions']"
_HASH16 = "lower(substring(hex(SHA256({})), 1, 16))"

#: Spans that carry anything a change is read from.
_OBSERVES = (
    f"(({REQUEST_MODEL} != '' AND {RESPONSE_MODEL} != '' AND NOT {IS_ERROR}) "
    f"OR {PROMPT_HASH} != '' OR {INSTRUCTIONS} != '' "
    f"OR SpanAttributes['gen_ai.tool.definitions'] != '' "
    f"OR ({TOOL_DESCRIPTION} != '' AND {TOOL_NAME} != ''))"
)


def _observations() -> str:
    """Per span, what it says that can change, as raw (kind, subject, value)
    tuples. Texts to hash or parse stay raw here: thousands of spans carry the
    same text, so it is hashed or parsed after grouping, once per distinct
    text (``_derived``)."""
    return f"""arrayConcat(
            if({REQUEST_MODEL} != '' AND {RESPONSE_MODEL} != '' AND NOT {IS_ERROR},
               [('model_version', {REQUEST_MODEL}, {RESPONSE_MODEL})], []),
            multiIf({PROMPT_HASH} != '',
                    [('system_prompt', 'system prompt', {PROMPT_HASH})],
                    {INSTRUCTIONS} != '',
                    [('system_instructions', 'system prompt', {INSTRUCTIONS})], []),
            if(SpanAttributes['gen_ai.tool.definitions'] != '',
               [('tool_definitions', '', SpanAttributes['gen_ai.tool.definitions'])], []),
            if({TOOL_DESCRIPTION} != '' AND {TOOL_NAME} != '',
               [('tool_description', {TOOL_NAME}, {TOOL_DESCRIPTION})], [])
        )"""


def _derived() -> str:
    """One grouped row -> its (kind, subject, value) items. A definitions list
    becomes one item per tool (name, description hashed as core.changes does:
    sha256, first 16 hex digits), in either the OpenAI ``{"type": "function",
    "function": {...}}`` shape or flat; a tool span's own description is
    hashed the same way; a system prompt's text becomes ``sha256:`` and its
    hash, as the OTel GenAI convention hook writes it."""
    fn = "if(JSONHas(d, 'function'), JSONExtractRaw(d, 'function'), d)"
    desc = _HASH16.format(f"JSONExtractString({fn}, 'description')")
    return f"""multiIf(
            raw_kind = 'tool_definitions',
            arrayMap(d -> ('tool_definition', JSONExtractString({fn}, 'name'), {desc}),
                     arrayFilter(d -> JSONExtractString({fn}, 'name') != '',
                                 JSONExtractArrayRaw(raw_value))),
            raw_kind = 'tool_description',
            [('tool_definition', raw_subject, {_HASH16.format("raw_value")})],
            raw_kind = 'system_instructions',
            [('system_prompt', raw_subject, 'sha256:' || {_HASH16.format("raw_value")})],
            [(raw_kind, raw_subject, raw_value)])"""


def change_events(table: str, *, route_filter: bool) -> str:
    """Per route and subject, the value most traces carried in each bucket,
    compared with the bucket before (``lagInFrame``): a different value is a
    change. Taking the bucket's dominant value means one stray trace (a
    canary, a fallback during a blip) is not a change. It is dated by the
    first span that carried the new value in the bucket before, if any (a
    change late in a bucket leads only the next one), else in its own. The
    ``ARRAY JOIN`` runs on the per-trace rows, after the ``GROUP BY TraceId``
    merge: safe on a Distributed table."""
    having_route = " AND route = {route:String}" if route_filter else ""
    return f"""
SELECT route, kind, subject, before, after,
       toString(if(arrayExists(x -> x.1 = after, prev_firsts),
                   arrayFirst(x -> x.1 = after, prev_firsts).2, at_here)) AS at_ns
FROM (
    SELECT
        route, kind, subject, bucket, lead_value AS after, at_here,
        lagInFrame(lead_value, 1, '') OVER w AS before,
        lagInFrame(firsts, 1) OVER w AS prev_firsts,
        row_number() OVER w AS nth
    FROM (
        SELECT route, kind, subject, bucket,
               argMax(value, n) AS lead_value, argMax(first_ns, n) AS at_here,
               groupArray((value, first_ns)) AS firsts
        FROM (
            SELECT route, e.1 AS kind, e.2 AS subject, e.3 AS value, bucket,
                   sum(raw_n) AS n, min(raw_first_ns) AS first_ns
            FROM (
                SELECT route, o.1 AS raw_kind, o.2 AS raw_subject, o.3 AS raw_value,
                       intDiv(toUnixTimestamp64Nano(s.1) - {{since:Int64}}, {{bucket:Int64}})
                           AS bucket,
                       count() AS raw_n, min(toUnixTimestamp64Nano(s.1)) AS raw_first_ns
                FROM (
                    SELECT TraceId, min(Timestamp) AS started, {_trace_route()} AS route,
                           groupArrayIf((Timestamp, {_observations()}), {_OBSERVES}) AS seen
                    FROM {table_ref(table)}
                    WHERE {_WINDOW}
                    GROUP BY TraceId
                    HAVING started >= fromUnixTimestamp64Nano({{since:Int64}})
                       AND started < fromUnixTimestamp64Nano({{until:Int64}}){having_route}
                )
                ARRAY JOIN seen AS s
                ARRAY JOIN s.2 AS o
                WHERE o.3 != ''
                GROUP BY route, raw_kind, raw_subject, raw_value, bucket
            )
            ARRAY JOIN {_derived()} AS e
            GROUP BY route, kind, subject, value, bucket
        )
        GROUP BY route, kind, subject, bucket
    )
    WINDOW w AS (PARTITION BY route, kind, subject ORDER BY bucket
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
WHERE nth > 1 AND before != after
ORDER BY toInt64(at_ns), route, kind, subject
FORMAT JSONEachRow"""


def trace_spans(table: str) -> str:
    """Every span of one trace (bounded by ``limit``: one more than the cap,
    so a cut trace is known to be cut)."""
    return f"""
SELECT
    TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    toString(toUnixTimestamp64Nano(Timestamp)) AS start_ns, toString(Duration) AS duration_ns,
    StatusCode, StatusMessage, ResourceAttributes, SpanAttributes,
    arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS event_ns,
    Events.Name AS event_names, Events.Attributes AS event_attrs
FROM {table_ref(table)}
WHERE TraceId = {{trace_id:String}}
LIMIT {{limit:UInt64}}
FORMAT JSONEachRow"""


def search_traces(table: str, *, service: bool, operation: bool, route: bool, errors: bool) -> str:
    """Trace summaries in a window, newest first."""
    where = [
        "Timestamp >= fromUnixTimestamp64Nano({since:Int64})",
        "Timestamp < fromUnixTimestamp64Nano({until:Int64})",
    ]
    having = []
    if service:
        having.append("countIf(ServiceName = {service:String}) > 0")
    if operation:
        having.append("countIf(SpanName = {operation:String}) > 0")
    if route:
        having.append("route = {route:String}")
    if errors:
        having.append("errors > 0")
    return f"""
SELECT
    TraceId AS trace_id,
    toString(toUnixTimestamp64Nano(min(Timestamp))) AS start_ns,
    toString(max(toUnixTimestamp64Nano(Timestamp) + Duration)
             - toUnixTimestamp64Nano(min(Timestamp))) AS duration_ns,
    count() AS spans,
    countIf({IS_ERROR}) AS errors,
    argMinIf(SpanName, Timestamp, {IS_ROOT}) AS root_name,
    argMinIf(ServiceName, Timestamp, {IS_ROOT}) AS service,
    {_trace_route()} AS route
FROM {table_ref(table)}
WHERE {" AND ".join(where)}
GROUP BY TraceId
{("HAVING " + " AND ".join(having)) if having else ""}
ORDER BY min(Timestamp) DESC
LIMIT {{limit:UInt64}}
FORMAT JSONEachRow"""
