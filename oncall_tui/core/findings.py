"""AI failure patterns found in one trace. docs/findings.md describes each kind.

Every finding carries the span ids and numbers behind it, so a responder can
check it rather than trust it. Thresholds are module constants, named.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import msgspec

from oncall_tui.core.cycles import Cycle
from oncall_tui.core.data_age import data_age_s
from oncall_tui.core.graph import Collapsed, call_tokens
from oncall_tui.core.modelid import same_model
from oncall_tui.core.models import Finding, GenAI, QualityNote, Severity, Span, Trace
from oncall_tui.core.text import duration_text

REPEATED_CALL_MIN = 3  # identical tool calls in one trace before we say so
RETRY_ATTEMPTS_MIN = 3  # attempts of one logical model call before "retry storm"
STRUCTURED_REPAIR_MIN = 2  # model re-asked to fix its own output this often
HIDDEN_REASONING_GAP_S = 2.0  # first visible token this long after the first token
CACHE_THRASH_MIN = 3  # calls rewriting one cached prefix without ever reading it
CONTEXT_GROWTH_FACTOR = 4.0  # last model call's input vs the first under one parent
CONTEXT_GROWTH_MIN_TOKENS = 20_000  # ... and at least this big, so toy traces stay quiet
TRACE_TOKEN_BUDGET = 500_000  # input+output tokens in one trace worth a word
# Data older than this handed to the model is worth a word; a route's own
# freshness promise (gateway status, the stale-retrieval runbook) may differ.
STALE_DATA_S = 3600.0
MAX_EVIDENCE = 20

_NO_GENAI = GenAI()
# A model name that pins a version: a date (2024-08-06, 20240806), a numeric
# snapshot suffix (-0917), or a tag/digest (@sha, :v3).
_PINNED = re.compile(r"\d{4}-?\d{2}-?\d{2}|-\d{3,4}$|@|:[\w.-]+$")

# HTTP answers a client retries: rate limited, timed out, and every 5xx.
_RETRYABLE_STATUS = frozenset({408, 429})
_EMPTY_RESULTS = frozenset({"", "null", "none", "[]", "{}", '""'})
_REFUSAL_REASONS = frozenset({"content_filter", "refusal", "safety", "blocked"})
_REPAIR_WORDS = ("schema", "valid", "parse", "json", "repair", "fix")


def _ids(spans: list[Span], idx: Iterable[int]) -> tuple[str, ...]:
    return tuple(spans[i].span_id for i in list(idx)[:MAX_EVIDENCE])


def cycle_findings(cycles: list[Cycle]) -> list[Finding]:
    out = []
    for c in cycles:
        loop = " -> ".join([*c.witness_keys])
        severity: Severity = "medium" if c.inferred else "high"
        basis = (
            " (inferred: context propagation was lost, the calls nest in time only)"
            if c.inferred
            else ""
        )
        across = f" across traces {_short_ids(c.trace_ids)}" if c.trace_ids else ""
        numbers: dict[str, float | int | str] = {
            "laps": c.laps,
            "max_nesting": c.max_nesting,
            "tokens": c.tokens,
            "wasted_tokens": c.wasted_tokens,
            "duration_ms": round(c.duration_ns / 1e6, 3),
            "spans": c.spans,
            "inferred": int(c.inferred),
        }
        if c.trace_ids:
            numbers["trace_ids"] = ",".join(c.trace_ids)
        out.append(
            Finding(
                "reentrancy_cycle",
                severity,
                f"tool reentrancy: {loop}; {c.laps} laps, nesting {c.max_nesting}, "
                f"{c.tokens} tokens inside the loop, {c.wasted_tokens} of them in "
                f"re-entered calls{across}{basis}",
                tuple(c.witness),
                numbers,
            )
        )
    return out


def _short_ids(trace_ids: Iterable[str]) -> str:
    return ", ".join(f"{t[:8]}…" if len(t) > 8 else t for t in trace_ids)


def find(trace: Trace, col: Collapsed, cycles: list[Cycle]) -> list[Finding]:
    spans = trace.spans
    keys = col.keys
    # One pass sorts spans by node kind; each detector walks only its kind.
    # Node keys start "agent:", "model:", "tool:" or "span:".
    models: list[int] = []
    tools: list[int] = []
    retrievals: list[int] = []  # retriever spans are not graph nodes
    http: list[int] = []  # HTTP attempts (status or resend count), not graph nodes
    for i, k in enumerate(keys):
        if k is not None:
            if k[0] == "m":
                models.append(i)
            elif k[0] == "t":
                tools.append(i)
            elif k[0] == "a" and _is_http(spans[i]):
                # An HTTP span stamped with its agent's name (OpenLLMetry's
                # association properties) is still an HTTP attempt.
                http.append(i)
        elif (g := spans[i].gen_ai) is not None:
            if g.operation == "retrieval":
                retrievals.append(i)
            elif g.http_status_code is not None or g.http_resend_count is not None:
                http.append(i)
    found = cycle_findings(cycles)
    found += _repeated_tool_calls(spans, tools, models, col)
    by_parent: dict[int, list[int]] = {}
    eparent = col.eparent
    for i in col.tree.order:
        k = keys[i]
        if k is not None and k[0] == "m":
            by_parent.setdefault(eparent[i], []).append(i)
    found += _retries_and_fallbacks(trace, by_parent, col, _http_attempts(spans, http, col))
    found += _structured_repair(spans, by_parent, col)
    found += _reasoning_latency(spans, models)
    found += _cache_thrash(spans, keys, models)
    found += _token_blowup(spans, by_parent)
    found += _refusals(spans, models)
    found += _empty_tool_results(spans, tools)
    found += _stale_data(spans, keys, [*tools, *retrievals])
    found += _quality(trace.quality)
    found += _flight_recorder(spans, models, tools)
    if trace.linked_trace_ids:
        found = [_name_traces(f, trace, col) for f in found]
    return found


def _name_traces(finding: Finding, trace: Trace, col: Collapsed) -> Finding:
    """A trace stitched from several (context lost across threads): say which
    traces a finding's evidence spans, so each can be opened in its store."""
    if "trace_ids" in finding.numbers:
        return finding
    by_id = col.tree.by_id
    spans = trace.spans
    ids = list(
        dict.fromkeys(
            spans[j].trace_id for sid in finding.span_ids if (j := by_id.get(sid)) is not None
        )
    )
    if len(ids) < 2:
        return finding
    return msgspec.structs.replace(
        finding,
        summary=f"{finding.summary} (across traces {_short_ids(ids)})",
        numbers={**finding.numbers, "trace_ids": ",".join(ids)},
    )


def _model_tokens(spans: list[Span], col: Collapsed, idx: Iterable[int]) -> int:
    return sum(call_tokens(spans, col, i) for i in idx)


def _agents(keys: list[str | None], col: Collapsed) -> list[int]:
    """For each span, the nearest enclosing agent span (itself if it is one), -1: none."""
    agent_of = [-1] * len(keys)
    parent = col.tree.parent
    for i in col.tree.order:  # parents first
        k = keys[i]
        if k is not None and k[0] == "a":
            agent_of[i] = i
        elif parent[i] >= 0:
            agent_of[i] = agent_of[parent[i]]
    return agent_of


def canonical_arguments(raw: str) -> str:
    """Tool call arguments as one text per meaning: JSON re-encoded with
    sorted keys and no whitespace (``{"b":1, "a":2}`` is ``{"a":2,"b":1}``);
    anything else whitespace-trimmed."""
    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            return _SORTED_JSON.encode(_JSON.decode(text)).decode()
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass
    return text


_JSON = msgspec.json.Decoder()
_SORTED_JSON = msgspec.json.Encoder(order="sorted")


def _repeated_tool_calls(
    spans: list[Span], tools: list[int], models: list[int], col: Collapsed
) -> list[Finding]:
    """The same tool, the same arguments (canonical JSON), >= 3 times under
    one agent invocation (different agents asking the same thing is not the
    pattern). Calls whose arguments were not recorded are never "identical"."""
    keys = col.keys
    agent_of = _agents(keys, col) if tools else []
    groups: dict[tuple[int, str, str], list[int]] = {}
    for i in tools:
        k = keys[i] or ""
        g = spans[i].gen_ai
        args = g.tool_call_arguments if g is not None else None
        if args is None:
            continue
        groups.setdefault((agent_of[i], k, canonical_arguments(args)), []).append(i)
    out = []
    agent_models: dict[int, tuple[list[int], list[int]]] | None = None
    for (agent, key, args), group in groups.items():
        if len(group) < REPEATED_CALL_MIN:
            continue
        # A call made inside another of the group re-entered it: that is
        # reentrancy (its own finding), not the agent asking again.
        members = set(group)
        idx = [i for i in group if not _inside_one_of(i, members, col.eparent)]
        if len(idx) < REPEATED_CALL_MIN:
            continue
        if agent_models is None:
            agent_models = _models_by_agent(spans, models, agent_of, col)
        idx.sort(key=lambda i: spans[i].start_ns)
        # The repetition's cost: model calls of this agent run that began
        # after the first identical call returned and before the last began
        # (each read a repeated result and asked again).
        starts, running = agent_models.get(agent, ([], [0]))
        lo = bisect_left(starts, spans[idx[0]].end_ns)
        hi = bisect_left(starts, spans[idx[-1]].start_ns)
        wasted = running[hi] - running[lo] if hi > lo else 0
        errors = sum(1 for i in idx if spans[i].status == "error")
        severity: Severity = "high" if errors == len(idx) else "medium"
        why = f", all {errors} failed" if errors == len(idx) else f", {errors} failed"
        out.append(
            Finding(
                "repeated_tool_call",
                severity,
                f"{key} called {len(idx)} times with identical arguments"
                f"{f' under {keys[agent]}' if agent >= 0 else ''}{why}; "
                f"the repetition cost {wasted} model tokens",
                _ids(spans, idx),
                {
                    "calls": len(idx),
                    "errors": errors,
                    "arguments_chars": len(args),
                    "wasted_tokens": wasted,
                },
            )
        )
    return out


def _inside_one_of(i: int, members: set[int], eparent: list[int]) -> bool:
    j = eparent[i]
    for _ in range(256):  # deeper than any real call chain; bad data cannot hang it
        if j < 0:
            return False
        if j in members:
            return True
        j = eparent[j]
    return False


def _models_by_agent(
    spans: list[Span], models: list[int], agent_of: list[int], col: Collapsed
) -> dict[int, tuple[list[int], list[int]]]:
    """Each agent run's model calls: their starts in order, and running token
    totals (``running[k]``: tokens of the first k calls), so the cost of any
    stretch of the run is one subtraction."""
    runs: dict[int, list[int]] = {}
    for i in models:
        runs.setdefault(agent_of[i], []).append(i)
    out = {}
    for agent, idx in runs.items():
        idx.sort(key=lambda i: spans[i].start_ns)
        running = [0]
        for i in idx:
            running.append(running[-1] + call_tokens(spans, col, i))
        out[agent] = ([spans[i].start_ns for i in idx], running)
    return out


def _retryable(code: int | None, span: Span) -> bool:
    if code is None:
        return span.status == "error"  # no answer at all: a connection error
    return code in _RETRYABLE_STATUS or code >= 500


def _http_attempts(spans: list[Span], http: list[int], col: Collapsed) -> dict[int, list[int]]:
    """HTTP client spans below one model call, when they are retries of it:
    model span -> its attempts in start order. The model span is the logical
    call (the outermost of a gateway wrapper and the provider span it wraps);
    an HTTP span inside another HTTP span is one attempt seen twice."""
    keys = col.keys
    parent = col.tree.parent
    edge_kind = col.edge_kind
    below: dict[int, list[int]] = {}
    for h in http:
        d = parent[h]
        if d >= 0 and _is_http(spans[d]):
            continue
        m = col.eparent[h]
        if m < 0 or (keys[m] or "")[:1] != "m":
            continue  # under a tool or an agent: its own business, not a model retry
        while parent[m] >= 0 and keys[parent[m]] == keys[m] and edge_kind[m] == "call":
            m = parent[m]
        below.setdefault(m, []).append(h)
    out = {}
    for m, hs in below.items():
        hs.sort(key=lambda h: spans[h].start_ns)
        resent = max(((spans[h].gen_ai or _NO_GENAI).http_resend_count or 0) for h in hs)
        failed = any(
            _retryable((spans[h].gen_ai or _NO_GENAI).http_status_code, spans[h]) for h in hs[:-1]
        )
        if failed or resent > 0:
            out[m] = hs
    return out


def _is_http(span: Span) -> bool:
    g = span.gen_ai
    return g is not None and (g.http_status_code is not None or g.http_resend_count is not None)


def _attempts(spans: list[Span], i: int, http: dict[int, list[int]]) -> int:
    hs = http.get(i)
    if hs is None:
        return 1
    resent = max(((spans[h].gen_ai or _NO_GENAI).http_resend_count or 0) for h in hs)
    return max(len(hs), resent + 1)


def _statuses(spans: list[Span], hs: list[int]) -> str:
    codes = [str((spans[h].gen_ai or _NO_GENAI).http_status_code or "error") for h in hs]
    if len(codes) < 2:
        return codes[0] if codes else ""
    return f"{', '.join(codes[:-1])}, then {codes[-1]}"


def _retries_and_fallbacks(
    trace: Trace, by_parent: dict[int, list[int]], col: Collapsed, http: dict[int, list[int]]
) -> list[Finding]:
    """Attempts of one logical model call: failed model calls followed by one
    more under the same parent (a gateway recording each attempt as a span),
    and HTTP retries below one model span (an SDK retrying inside the call)."""
    spans = trace.spans
    keys = col.keys
    out: list[Finding] = []
    total_attempts = 0
    logical = 0
    worst: list[int] = []
    worst_attempts = 0
    swallowed: list[int] = []
    demotions: list[tuple[int, int]] = []
    for parent, siblings in by_parent.items():
        # Failed attempts recorded *inside* the model call that finally
        # answered (Pydantic AI's FallbackModel): that call closes their run.
        closer = (
            parent
            if parent >= 0 and (keys[parent] or "")[:1] == "m" and spans[parent].status != "error"
            else -1
        )
        run: list[int] = []
        for n, sibling in enumerate(siblings):
            run.append(sibling)
            i = sibling
            if spans[i].status == "error" and n < len(siblings) - 1:
                continue
            if spans[i].status == "error" and closer >= 0:
                run.append(closer)  # counted as a logical call under its own parent
                logical -= 1
                i = closer
            attempts = sum(_attempts(spans, j, http) for j in run) if http else len(run)
            total_attempts += attempts
            logical += 1
            if attempts > worst_attempts:
                worst, worst_attempts = list(run), attempts
            if spans[i].status != "error" and len(run) > 1:
                swallowed.extend(run[:-1])
                if not _same_model(spans[run[0]], spans[i]):
                    demotions.append((run[0], i))
            run = []
    for failed, served in _agent_reruns(spans, col):
        swallowed.append(failed)
        if not _same_model(spans[failed], spans[served]):
            demotions.append((failed, served))
    if worst and worst_attempts >= RETRY_ATTEMPTS_MIN:
        amp = total_attempts / max(logical, 1)
        below = [h for i in worst for h in http.get(i, [])]
        numbers: dict[str, float | int | str] = {
            "worst_attempts": worst_attempts,
            "attempts_per_call": round(amp, 3),
        }
        if below:
            numbers["http_attempts"] = len(below)
            numbers["http_statuses"] = ",".join(
                str((spans[h].gen_ai or _NO_GENAI).http_status_code or "error") for h in below
            )
        if len(worst) == 1 and below:
            what = f"{worst_attempts} HTTP attempts ({_statuses(spans, below)})"
        elif below:
            what = (
                f"{worst_attempts} attempts ({len(worst)} model calls, "
                f"{len(below)} HTTP attempts below them)"
            )
        else:
            what = f"{worst_attempts} attempts"
        out.append(
            Finding(
                "retry_amplification",
                "high" if worst_attempts >= 2 * RETRY_ATTEMPTS_MIN else "medium",
                f"one model call took {what}; {amp:.2f} attempts per logical call in this trace",
                _ids(spans, [*worst, *below]),
                numbers,
            )
        )
    if demotions:
        first, last = demotions[0]
        out.append(
            Finding(
                "tier_demotion",
                "medium",
                f"{len(demotions)} request(s) fell back from {keys[first]} to {keys[last]}",
                _ids(spans, [i for pair in demotions for i in pair]),
                {"fallbacks": len(demotions)},
            )
        )
    if swallowed:
        out.append(
            Finding(
                "error_swallowed",
                "low",
                f"{len(swallowed)} failed model call(s) hidden by a later success",
                _ids(spans, swallowed),
                {"errors": len(swallowed)},
            )
        )
    return out


def _agent_reruns(spans: list[Span], col: Collapsed) -> list[tuple[int, int]]:
    """An app that runs a failed agent again (often on another model): runs
    of one agent under one parent where the earlier ones failed. Returns
    (last model call of the failed run, first model call of the run that
    answered) for each."""
    keys = col.keys
    runs: dict[tuple[int, str], list[int]] = {}
    for i in col.tree.order:
        k = keys[i]
        if k is not None and k[0] == "a":
            runs.setdefault((col.eparent[i], k), []).append(i)
    candidates = [idx for idx in runs.values() if len(idx) > 1]
    if not candidates:
        return []
    agent_of = _agents(keys, col)
    model_calls: dict[int, list[int]] = {}
    for i in col.tree.order:  # pre-order: each run's calls in order
        k = keys[i]
        if k is not None and k[0] == "m" and agent_of[i] >= 0:
            model_calls.setdefault(agent_of[i], []).append(i)
    out = []
    for idx in candidates:
        idx.sort(key=lambda i: spans[i].start_ns)
        for before, after in pairwise(idx):
            if spans[before].status != "error" or spans[after].status == "error":
                continue
            tried, served = model_calls.get(before), model_calls.get(after)
            if tried and served:
                out.append((tried[-1], served[0]))
    return out


def _same_model(a: Span, b: Span) -> bool:
    """One model behind both calls: same provider, and the same model once an
    alias, its dated snapshot and a gateway prefix are seen as one."""
    ga, gb = a.gen_ai or _NO_GENAI, b.gen_ai or _NO_GENAI
    if ga.provider != gb.provider:
        return False
    return same_model(
        ga.request_model or ga.response_model, gb.request_model or gb.response_model, ga.provider
    )


_REPAIR_KEYS = ("gen_ai.request.repair_reason", "oncall.repair_reason", "exception.message")


_REPAIR_MARKS = frozenset((*_REPAIR_KEYS, "gen_ai.request.repair_attempt"))


def _is_repair(span: Span) -> bool:
    attrs = span.attributes
    if span.status != "error" and _REPAIR_MARKS.isdisjoint(attrs):
        return False  # the common case, decided in C without building any text
    text = " ".join(str(attrs.get(k, "")) for k in _REPAIR_KEYS).lower()
    if span.status == "error" and any(
        w in (span.status_message or "").lower() for w in _REPAIR_WORDS
    ):
        return True
    return any(w in text for w in _REPAIR_WORDS) or bool(
        span.attributes.get("gen_ai.request.repair_attempt")
    )


def _structured_repair(
    spans: list[Span], by_parent: dict[int, list[int]], col: Collapsed
) -> list[Finding]:
    """The model re-asked to fix its own output: model calls under one parent
    each followed by a failed parse/validation step, or marked as repairs."""
    out = []
    children = col.tree.children
    for parent, models in by_parent.items():
        if len(models) < STRUCTURED_REPAIR_MIN + 1:
            continue
        repairs = [i for i in models if _is_repair(spans[i])]
        if parent >= 0:
            failed_checks = [
                c
                for c in children[parent]
                if spans[c].status == "error"
                and col.keys[c] is None
                and any(w in spans[c].name.lower() for w in _REPAIR_WORDS)
            ]
        else:
            failed_checks = []
        count = max(len(repairs), len(failed_checks))
        if count >= STRUCTURED_REPAIR_MIN:
            # The repair calls are the cost; with only failed checks to go
            # by, every model call after the first one was a repair.
            wasted = _model_tokens(spans, col, repairs if repairs else models[1:])
            out.append(
                Finding(
                    "structured_output_retry",
                    "medium" if count < 2 * STRUCTURED_REPAIR_MIN else "high",
                    f"model re-asked {count} times to fix its own structured output; "
                    f"the repairs cost {wasted} model tokens",
                    _ids(spans, repairs or failed_checks),
                    {"repairs": count, "model_calls": len(models), "wasted_tokens": wasted},
                )
            )
    return out


#: Visible text is counted at this many characters a token (English prose
#: with OpenAI's tokenizers averages about 4); only where no reasoning count
#: was recorded. Non-ASCII text runs nearer 1, so the view counts such a
#: character as 4 (``GenAI.output_chars``): overcounting the visible part can
#: only hide an alarm.
CHARS_PER_TOKEN = 4
#: A wait is put down to hidden reasoning only when the hidden tokens are at
#: least this share of the output and at least this many.
HIDDEN_SHARE_MIN = 0.5
HIDDEN_TOKENS_MIN = 200

#: How the wait for the first visible token was found, in order of preference
#: (docs/findings.md, hidden_reasoning_latency).
MEASURED_METHOD = "first visible chunk - first chunk, both recorded"
MEASURED_FROM_START = "time to first visible chunk, from the request start (no first-chunk time)"
ESTIMATE_METHOD = "ttfc + reasoning_tokens / (output_tokens / (duration - ttfc))"
#: The same, for a call that recorded no first-chunk time (streamed or not
#: recorded as either).
ESTIMATE_METHOD_NO_TTFC = "reasoning_tokens / (output_tokens / duration); no ttfc recorded"
#: No reasoning count at all: the hidden tokens are the output tokens the
#: captured output does not account for.
ESTIMATE_METHOD_CONTENT = (
    f"hidden = output_tokens - visible output chars / {CHARS_PER_TOKEN}; "
    "duration * hidden / output_tokens"
)


class HiddenWait(NamedTuple):
    """How long one model call kept its first visible token back."""

    gap_s: float
    method: str
    estimated: bool
    hidden_tokens: int | None  # reasoning tokens, counted or estimated
    counted: bool  # hidden_tokens is the provider's reasoning count


def _visible_tokens(g: GenAI) -> int | None:
    if g.output_chars is None:
        return None
    return -(-g.output_chars // CHARS_PER_TOKEN)  # ceil


def _hidden(g: GenAI) -> tuple[int, int, bool] | None:
    """(hidden tokens, output tokens including them, counted by the provider)."""
    if g.reasoning_tokens is not None:
        output = g.output_tokens or 0
        if output < g.reasoning_tokens:  # this output count leaves them out
            output += g.reasoning_tokens
        return g.reasoning_tokens, output, True
    visible = _visible_tokens(g)
    if visible is None or not g.output_tokens:
        return None
    return max(0, g.output_tokens - visible), g.output_tokens, False


def _mostly_hidden(hidden: int, output: int) -> bool:
    return hidden >= HIDDEN_TOKENS_MIN and hidden >= HIDDEN_SHARE_MIN * output


def hidden_wait(span: Span) -> HiddenWait | None:
    """The wait for one call's first visible token, measured or estimated,
    or ``None`` when nothing says it was spent on hidden tokens.

    Measured: both chunk times recorded (an attribute, or OpenLLMetry's chunk
    events); a time to first visible chunk alone (Pydantic AI) counts from
    the request start, so it stands only when the hidden tokens are most of
    the output. Estimated: the output streams at a steady rate, the hidden
    tokens come first, so the first visible token lands
    hidden / (output / (duration - ttfc)) after the first chunk (ttfc 0 when
    not recorded); the hidden tokens are the reasoning count, else the output
    tokens the captured visible output (~4 characters a token) leaves over.
    Never for a call recorded as not streamed (the answer lands whole), and
    never unless the hidden tokens are most of the output: a false alarm
    costs more than a miss."""
    g = span.gen_ai
    if g is None:
        return None
    hidden = _hidden(g)
    mostly = hidden is not None and _mostly_hidden(hidden[0], hidden[1])
    count = hidden[0] if hidden is not None else None
    counted = hidden is not None and hidden[2]
    ttfc, ttfv = g.time_to_first_chunk_s, g.time_to_first_visible_s
    if ttfv is not None:
        if ttfc is not None and (hidden is None or mostly):
            return HiddenWait(ttfv - ttfc, MEASURED_METHOD, False, count, counted)
        if ttfc is None and mostly:
            return HiddenWait(ttfv, MEASURED_FROM_START, False, count, counted)
        return None
    if hidden is None or not mostly or g.streaming is False:
        return None
    duration_s = span.duration_ns / 1e9
    if ttfc is not None:
        method = ESTIMATE_METHOD if counted else ESTIMATE_METHOD_CONTENT
    else:
        ttfc = 0.0
        method = ESTIMATE_METHOD_NO_TTFC if counted else ESTIMATE_METHOD_CONTENT
    streaming_s = duration_s - ttfc
    if hidden[1] <= 0 or streaming_s <= 0:
        return None
    return HiddenWait(hidden[0] * streaming_s / hidden[1], method, True, count, counted)


def _reasoning_latency(spans: list[Span], models: list[int]) -> list[Finding]:
    groups: dict[bool, list[tuple[int, HiddenWait]]] = {False: [], True: []}
    for i in models:
        g = spans[i].gen_ai
        if g is None or (g.output_tokens is None and g.reasoning_tokens is None):
            continue  # cheap skip: nothing to weigh a wait against
        wait = hidden_wait(spans[i])
        if wait is not None and wait.gap_s >= HIDDEN_REASONING_GAP_S:
            groups[wait.estimated].append((i, wait))
    out = []
    for estimated, hits in groups.items():
        if not hits:
            continue
        worst = max(w.gap_s for _, w in hits)
        methods = "; ".join(sorted({w.method for _, w in hits}))
        reasoning = sum(w.hidden_tokens or 0 for _, w in hits if w.counted)
        guessed = sum(w.hidden_tokens or 0 for _, w in hits if not w.counted)
        after = "the request started" if methods == MEASURED_FROM_START else "the first token"
        tokens = ", ".join(
            part
            for part in (
                f"{reasoning} reasoning tokens" if any(w.counted for _, w in hits) else "",
                f"~{guessed} hidden tokens" if guessed else "",
            )
            if part
        )
        how = f"estimated ({methods})" if estimated else f"measured ({methods})"
        numbers: dict[str, float | int | str] = {
            "worst_gap_s": round(worst, 3),
            "estimated": int(estimated),
            "method": methods,
        }
        if any(w.counted for _, w in hits):
            numbers["reasoning_tokens"] = reasoning
        if guessed:
            numbers["hidden_tokens"] = guessed
        out.append(
            Finding(
                "hidden_reasoning_latency",
                "medium",
                f"{len(hits)} model call(s) showed the first visible token "
                f"{'an estimated' if estimated else 'up to'} {worst:.1f}s after {after}"
                f"{f' ({tokens})' if tokens else ''}; {how}",
                _ids(spans, [i for i, _ in hits]),
                numbers,
            )
        )
    return out


def _cache_thrash(spans: list[Span], keys: list[str | None], models: list[int]) -> list[Finding]:
    """The same prompt prefix written to the provider cache again and again
    and never read back: paying the cache-write premium for nothing."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i in models:
        k = keys[i] or ""
        g = spans[i].gen_ai
        if g is None:
            continue
        if g.cache_read_tokens is None and g.cache_creation_tokens is None:
            continue
        groups.setdefault((k, g.system_prompt_hash), []).append(i)
    out = []
    for (key, _prompt), idx in groups.items():
        writes = [i for i in idx if (spans[i].gen_ai or _NO_GENAI).cache_creation_tokens]
        reads = sum((spans[i].gen_ai or _NO_GENAI).cache_read_tokens or 0 for i in idx)
        inputs = sum((spans[i].gen_ai or _NO_GENAI).input_tokens or 0 for i in idx)
        if len(writes) < CACHE_THRASH_MIN or reads > 0:
            continue
        written = sum((spans[i].gen_ai or _NO_GENAI).cache_creation_tokens or 0 for i in writes)
        out.append(
            Finding(
                "cache_thrash",
                "medium",
                f"{key}: prompt cache written {len(writes)} times ({written} tokens) "
                f"and never read; hit rate 0% over {inputs} input tokens",
                _ids(spans, writes),
                {"writes": len(writes), "written_tokens": written, "input_tokens": inputs},
            )
        )
    return out


def _token_blowup(spans: list[Span], by_parent: dict[int, list[int]]) -> list[Finding]:
    """Context that snowballs call after call under one parent, and traces
    whose total token bill is out of proportion."""
    out = []
    total = 0
    for models in by_parent.values():
        inputs = [
            (i, g.input_tokens)
            for i in models
            if (g := spans[i].gen_ai) is not None and g.input_tokens is not None
        ]
        for i in models:
            g = spans[i].gen_ai
            if g is not None:
                total += (g.input_tokens or 0) + (g.output_tokens or 0)
        if len(inputs) < 3:
            continue
        (first, first_in), (last, last_in) = inputs[0], inputs[-1]
        if last_in >= CONTEXT_GROWTH_MIN_TOKENS and last_in >= CONTEXT_GROWTH_FACTOR * max(
            first_in, 1
        ):
            out.append(
                Finding(
                    "token_blowup",
                    "medium",
                    f"context grew {last_in / max(first_in, 1):.1f}x over {len(inputs)} model "
                    f"calls ({first_in} -> {last_in} input tokens)",
                    _ids(spans, [first, last]),
                    {"first_input": first_in, "last_input": last_in, "calls": len(inputs)},
                )
            )
    if total >= TRACE_TOKEN_BUDGET:
        out.append(
            Finding(
                "token_blowup",
                "high" if total >= 4 * TRACE_TOKEN_BUDGET else "medium",
                f"{total} tokens in one trace (budget {TRACE_TOKEN_BUDGET})",
                (),
                {"tokens": total, "budget": TRACE_TOKEN_BUDGET},
            )
        )
    return out


def _refusals(spans: list[Span], models: list[int]) -> list[Finding]:
    hits = [
        i
        for i in models
        if (g := spans[i].gen_ai) is not None
        and any(r in _REFUSAL_REASONS for r in g.finish_reasons)
    ]
    if not hits:
        return []
    providers = sorted({_provider(spans[i]) for i in hits})
    return [
        Finding(
            "refusal",
            "medium",
            f"{len(hits)} model call(s) refused ({', '.join(providers)})",
            _ids(spans, hits),
            {"refusals": len(hits)},
        )
    ]


def _provider(span: Span) -> str:
    g = span.gen_ai
    return (g.provider if g is not None else None) or "?"


def _empty_tool_results(spans: list[Span], tools: list[int]) -> list[Finding]:
    hits = []
    for i in tools:
        g = spans[i].gen_ai
        if g is None or g.tool_call_result is None:
            continue
        if g.tool_call_result.strip().lower() in _EMPTY_RESULTS:
            hits.append(i)
    if not hits:
        return []
    return [
        Finding(
            "empty_tool_result",
            "low",
            f"{len(hits)} tool call(s) returned nothing and the agent went on",
            _ids(spans, hits),
            {"calls": len(hits)},
        )
    ]


def _stale_data(spans: list[Span], keys: list[str | None], idx: list[int]) -> list[Finding]:
    aged = [(i, age) for i in idx if (age := data_age_s(spans[i])) is not None]
    old = [(i, age) for i, age in aged if age > STALE_DATA_S]
    if not old:
        return []
    oldest_i, oldest = max(old, key=lambda t: t[1])
    where = keys[oldest_i] or spans[oldest_i].name
    return [
        Finding(
            "stale_data",
            "medium",
            f"retrieval handed the model data {duration_text(oldest)} old ({where}); "
            f"{len(old)} of {len(aged)} retrieval(s) stating a data age exceed "
            f"{duration_text(STALE_DATA_S)}",
            _ids(spans, [i for i, _ in sorted(old, key=lambda t: -t[1])]),  # oldest first
            {"max_age_s": round(oldest, 1), "stale": len(old), "with_age": len(aged)},
        )
    ]


def _quality(notes: list[QualityNote]) -> list[Finding]:
    truncated = [n for n in notes if n.kind == "truncated_attribute"]
    out = []
    if truncated:
        out.append(
            Finding(
                "truncated_attributes",
                "low",
                f"{len(truncated)} attribute value(s) look cut short; the full text is lost",
                tuple(n.span_id for n in truncated if n.span_id)[:MAX_EVIDENCE],
                {"values": len(truncated)},
            )
        )
    broken = [n for n in notes if n.kind in ("orphan", "parent_loop", "duplicate_id")]
    if broken:
        out.append(
            Finding(
                "data_quality",
                "info",
                f"{len(broken)} span(s) with broken links (orphans, loops, duplicates)",
                tuple(n.span_id for n in broken if n.span_id)[:MAX_EVIDENCE],
                {"notes": len(broken)},
            )
        )
    return out


def _resolved(g: GenAI) -> bool:
    """Did the provider say which model version really answered? A response
    model that only repeats the alias asked for ("gpt-4o", a gateway group)
    does not count unless the name itself pins a version."""
    response = g.response_model
    if not response:
        return False
    if g.request_model is None:
        return True  # nothing to compare with: the provider named what answered
    return _resolved_names(response, g.request_model, g.provider)


@lru_cache(maxsize=1024)
def _resolved_names(response: str, request: str, provider: str | None) -> bool:
    # A dated snapshot of the alias asked for pins it; the alias again, or
    # the alias behind a gateway prefix, does not.
    if response != request and not same_model(response, request, provider):
        return True  # another model than the one asked for: a gateway group resolved
    return bool(_PINNED.search(response))


def _flight_recorder(spans: list[Span], models: list[int], tools: list[int]) -> list[Finding]:
    """Which of the facts a postmortem needs this trace lacks."""
    if not models and not tools:
        return []
    missing: dict[str, list[int]] = {}
    for i in models:
        g = spans[i].gen_ai
        if g is None:
            continue
        if not _resolved(g):
            missing.setdefault("resolved model version", []).append(i)
        if g.system_prompt_hash is None and "gen_ai.prompt.version" not in spans[i].attributes:
            missing.setdefault("system prompt hash or version", []).append(i)
        if g.temperature is None and g.top_p is None:
            missing.setdefault("sampling parameters", []).append(i)
    for i in tools:
        g = spans[i].gen_ai
        if g is None or g.tool_call_arguments is None:
            missing.setdefault("tool arguments", []).append(i)
        if g is None or g.tool_call_result is None:
            missing.setdefault("tool results", []).append(i)
    if not missing:
        return []
    parts = [f"{what} ({len(idx)})" for what, idx in missing.items()]
    return [
        Finding(
            "flight_recorder_gaps",
            "info",
            "trace lacks: " + ", ".join(parts),
            _ids(spans, [i for idx in missing.values() for i in idx]),
            {what: len(idx) for what, idx in missing.items()},
        )
    ]
