"""AI failure patterns found in one trace. docs/findings.md describes each kind.

Every finding carries the span ids and numbers behind it, so a responder can
check it rather than trust it. Thresholds are module constants, named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from oncall_tui.core.cycles import Cycle
from oncall_tui.core.data_age import data_age_s
from oncall_tui.core.graph import Collapsed
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
        basis = " (rests on inferred edges)" if c.inferred else ""
        out.append(
            Finding(
                "reentrancy_cycle",
                severity,
                f"tool reentrancy: {loop}; {c.laps} laps, nesting {c.max_nesting}, "
                f"{c.tokens} tokens{basis}",
                tuple(c.witness),
                {
                    "laps": c.laps,
                    "max_nesting": c.max_nesting,
                    "tokens": c.tokens,
                    "duration_ms": round(c.duration_ns / 1e6, 3),
                    "spans": c.spans,
                },
            )
        )
    return out


def find(trace: Trace, col: Collapsed, cycles: list[Cycle]) -> list[Finding]:
    spans = trace.spans
    keys = col.keys
    # One pass sorts spans by node kind; each detector walks only its kind.
    # Node keys start "agent:", "model:", "tool:" or "span:".
    models: list[int] = []
    tools: list[int] = []
    retrievals: list[int] = []  # retriever spans are not graph nodes
    for i, k in enumerate(keys):
        if k is not None:
            if k[0] == "m":
                models.append(i)
            elif k[0] == "t":
                tools.append(i)
        elif (g := spans[i].gen_ai) is not None and g.operation == "retrieval":
            retrievals.append(i)
    found = cycle_findings(cycles)
    found += _repeated_tool_calls(spans, keys, tools, col)
    by_parent: dict[int, list[int]] = {}
    eparent = col.eparent
    for i in col.tree.order:
        k = keys[i]
        if k is not None and k[0] == "m":
            by_parent.setdefault(eparent[i], []).append(i)
    found += _retries_and_fallbacks(trace, by_parent, keys)
    found += _structured_repair(spans, by_parent, col)
    found += _reasoning_latency(spans, models)
    found += _cache_thrash(spans, keys, models)
    found += _token_blowup(spans, by_parent)
    found += _refusals(spans, models)
    found += _empty_tool_results(spans, tools)
    found += _stale_data(spans, keys, [*tools, *retrievals])
    found += _quality(trace.quality)
    found += _flight_recorder(spans, models, tools)
    return found


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


def _repeated_tool_calls(
    spans: list[Span], keys: list[str | None], tools: list[int], col: Collapsed
) -> list[Finding]:
    """The same tool, byte-identical arguments, >= 3 times under one agent
    invocation (different agents asking the same thing is not the pattern)."""
    agent_of = _agents(keys, col) if tools else []
    groups: dict[tuple[int, str, str], list[int]] = {}
    for i in tools:
        k = keys[i] or ""
        g = spans[i].gen_ai
        args = g.tool_call_arguments if g is not None else None
        if args is None:
            continue
        groups.setdefault((agent_of[i], k, args.strip()), []).append(i)
    out = []
    for (agent, key, args), idx in groups.items():
        if len(idx) < REPEATED_CALL_MIN:
            continue
        errors = sum(1 for i in idx if spans[i].status == "error")
        severity: Severity = "high" if errors == len(idx) else "medium"
        why = f", all {errors} failed" if errors == len(idx) else f", {errors} failed"
        out.append(
            Finding(
                "repeated_tool_call",
                severity,
                f"{key} called {len(idx)} times with identical arguments"
                f"{f' under {keys[agent]}' if agent >= 0 else ''}{why}",
                _ids(spans, idx),
                {"calls": len(idx), "errors": errors, "arguments_chars": len(args)},
            )
        )
    return out


def _retries_and_fallbacks(
    trace: Trace, by_parent: dict[int, list[int]], keys: list[str | None]
) -> list[Finding]:
    spans = trace.spans
    out: list[Finding] = []
    total_attempts = 0
    logical = 0
    worst: list[int] = []
    swallowed: list[int] = []
    demotions: list[tuple[int, int]] = []
    for siblings in by_parent.values():
        run: list[int] = []
        for i in siblings:
            run.append(i)
            if spans[i].status != "error":
                total_attempts += len(run)
                logical += 1
                if len(run) > len(worst):
                    worst = list(run)
                first_key = keys[run[0]]
                if len(run) > 1:
                    swallowed.extend(run[:-1])
                    if first_key != keys[i]:
                        demotions.append((run[0], i))
                run = []
        if run:
            total_attempts += len(run)
            logical += 1
            if len(run) > len(worst):
                worst = list(run)
    if worst and len(worst) >= RETRY_ATTEMPTS_MIN:
        amp = total_attempts / max(logical, 1)
        out.append(
            Finding(
                "retry_amplification",
                "high" if len(worst) >= 2 * RETRY_ATTEMPTS_MIN else "medium",
                f"one model call took {len(worst)} attempts; "
                f"{amp:.2f} attempts per logical call in this trace",
                _ids(spans, worst),
                {"worst_attempts": len(worst), "attempts_per_call": round(amp, 3)},
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
            out.append(
                Finding(
                    "structured_output_retry",
                    "medium" if count < 2 * STRUCTURED_REPAIR_MIN else "high",
                    f"model re-asked {count} times to fix its own structured output",
                    _ids(spans, repairs or failed_checks),
                    {"repairs": count, "model_calls": len(models)},
                )
            )
    return out


def _reasoning_latency(spans: list[Span], models: list[int]) -> list[Finding]:
    slow: list[int] = []
    worst_gap = 0.0
    for i in models:
        g = spans[i].gen_ai
        if g is None or g.time_to_first_visible_s is None:
            continue
        gap = g.time_to_first_visible_s - (g.time_to_first_chunk_s or 0.0)
        if gap >= HIDDEN_REASONING_GAP_S:
            slow.append(i)
            worst_gap = max(worst_gap, gap)
    if not slow:
        return []
    reasoning = 0
    for i in slow:
        g = spans[i].gen_ai
        reasoning += (g.reasoning_tokens or 0) if g is not None else 0
    return [
        Finding(
            "hidden_reasoning_latency",
            "medium",
            f"{len(slow)} model call(s) showed the first visible token up to "
            f"{worst_gap:.1f}s after the first token ({reasoning} reasoning tokens)",
            _ids(spans, slow),
            {"worst_gap_s": round(worst_gap, 3), "reasoning_tokens": reasoning},
        )
    ]


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
    return response != g.request_model or bool(_PINNED.search(response))


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
