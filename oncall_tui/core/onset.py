"""When did a finding start, and what changed just before: ``trace onset``'s
reasoning over one ``OnsetWindow`` (per-route, per-bucket counts and change
events, however they were obtained).

The onset rule (docs/onset.md says the same in prose): for one route and one
finding kind, walk the buckets in time order. Bucket ``t`` is the onset when

1. there is a baseline: at least ``min_baseline`` traces analysed in at least
   ``min_baseline_buckets`` earlier buckets of the window;
2. the bucket's own rate is above the baseline ``p0``;
3. the bucket, alone, pooled with the next one or two (``SCAN``), or pooled
   to the window's end, has at least ``min_count`` traces with the kind
   (three traces are a pattern, one is an anecdote) and is improbable were
   it and the baseline one rate: Fisher's exact test, one-sided (the
   hypergeometric upper tail), at most ``alpha / (buckets * WINDOWS)``
   (Bonferroni over the buckets and windows tested, so a long window of
   noise gets no more chances to false-alarm). Pooling matters: without it,
   a rise that begins mid-bucket fails the test in its first bucket, which
   then joins the baseline and raises it;
4. the rise holds: pooled from ``t`` to the window's end, the rate is at
   least ``min_ratio`` times the baseline and ``min_delta`` above it, and
   Fisher's test of it against the baseline is at most ``alpha``.

The test is Fisher's, not a binomial test against a known ``p0``, because
the baseline is itself a sample: 0 of 40 earlier traces does not make a
rate of 0.5% known, and treating it so false-alarmed on the next buckets'
ordinary share (docs/onset.md, "Why Fisher's test").

A moderate rise can still pass test 3 only a bucket or two after it began,
and a pooled window can pass on the strength of its later buckets, so the
onset reported is the most likely change point from ``BACKTRACK`` buckets
before the bucket that passed to the end of the window that passed (two
constant binomial rates, split where their joint likelihood is highest).

``p0``, the pooled rate of every earlier bucket smoothed by half a trace
(``(k + 0.5) / (n + 1)``), is what tests 2 and 4 compare rates with. Rates
come from ``analysed`` (the sample), never from ``traces`` (everything
seen), so sampling does not bias them.

Pure: no I/O, no clock; times are the window's nanoseconds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timezone

import msgspec

from oncall_tui.core.onset_model import BucketCount, ChangeEvent, OnsetWindow

_MIN_NS = 60 * 1_000_000_000


class OnsetRule(msgspec.Struct, frozen=True):
    """The thresholds of the onset rule (module docstring)."""

    min_baseline: int = 20
    min_baseline_buckets: int = 2
    min_count: int = 3
    alpha: float = 1e-3
    min_ratio: float = 2.0
    min_delta: float = 0.01
    #: How far before the onset a change may be and still be named as its cause.
    lookback_ns: int = 60 * _MIN_NS


DEFAULT_RULE = OnsetRule()


class Series(msgspec.Struct, frozen=True):
    """One route's finding kind over the window's full bucket grid."""

    route: str
    kind: str
    starts: list[int]  # bucket start times (ns), every bucket of the window
    analysed: list[int]  # traces analysed per bucket (the rate's denominator)
    with_kind: list[int]  # of those, traces with the kind
    traces: list[int]  # traces seen per bucket (>= analysed when sampled)

    def rates(self) -> list[float | None]:
        """Per-bucket rate; None where nothing was analysed (a gap, not 0%)."""
        return [k / n if n else None for k, n in zip(self.with_kind, self.analysed, strict=True)]


class Onset(msgspec.Struct, frozen=True):
    route: str
    kind: str
    at_ns: int  # start of the onset bucket
    before_rate: float  # pooled rate of the buckets before the onset
    after_rate: float  # pooled rate from the onset bucket to the window's end
    cause: ChangeEvent | None
    lead_ns: int | None  # onset minus the cause's time; negative inside the onset bucket
    line: str
    before_with: int = 0
    before_analysed: int = 0
    after_with: int = 0
    after_analysed: int = 0
    #: Fisher tail probability of the window that passed the test (smaller: clearer).
    p_bound: float = 1.0


# ------------------------------------------------------------------ series


def _denominator(b: BucketCount, method: str) -> int:
    # Pushdown and "all" count every trace; an adapter that left ``analysed``
    # at its default still means "all of them" there, never for a sample.
    if b.analysed or method == "sampled":
        return b.analysed
    return b.traces


def _kind_matches(kind: str, wanted: str | None) -> bool:
    return wanted is None or wanted.lower() in kind.lower()


def bucket_starts(window: OnsetWindow) -> list[int]:
    q = window.query
    step = max(1, q.bucket_ns)
    first = q.since_ns - q.since_ns % step
    return list(range(first, max(first + step, q.until_ns), step))


def series(window: OnsetWindow) -> list[Series]:
    """Every (route, kind) of the window on the full bucket grid, sorted.

    Buckets an adapter did not return (no traffic) are zeros, so gaps stay in
    the trend. Counts outside the query window are ignored."""
    q = window.query
    starts = bucket_starts(window)
    step = max(1, q.bucket_ns)
    index = {s: i for i, s in enumerate(starts)}
    by_route: dict[str, list[BucketCount]] = {}
    for b in window.buckets:
        if q.route is not None and b.route != q.route:
            continue
        by_route.setdefault(b.route, []).append(b)
    out: list[Series] = []
    for route in sorted(by_route):
        size = len(starts)
        analysed = [0] * size
        traces = [0] * size
        kinds: dict[str, list[int]] = {}
        for b in by_route[route]:
            i = index.get(b.start_ns - b.start_ns % step)
            if i is None:
                continue
            analysed[i] += _denominator(b, window.method)
            traces[i] += b.traces
            for kind, n in b.with_kind.items():
                if _kind_matches(kind, q.finding):
                    kinds.setdefault(kind, [0] * size)[i] += n
        for kind in sorted(kinds):
            out.append(Series(route, kind, starts, analysed, kinds[kind], traces))
    return out


def trend(window: OnsetWindow, route: str, kind: str) -> list[float | None]:
    """Per-bucket rates of ``kind`` on ``route`` (None: nothing analysed)."""
    for s in series(window):
        if s.route == route and s.kind == kind:
            return s.rates()
    return [None] * len(bucket_starts(window))


_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(rates: list[float | None], *, top: float | None = None) -> str:
    """One character per bucket: a block scaled to ``top`` (default the
    highest rate), a space for a bucket with nothing analysed, the lowest block
    for 0%. A 0..1 ``top`` keeps several lines comparable."""
    peak = top if top is not None else max((r for r in rates if r is not None), default=0.0)
    out = []
    for r in rates:
        if r is None:
            out.append(" ")
        elif peak <= 0 or r <= 0:
            out.append(_BLOCKS[0])
        else:
            out.append(_BLOCKS[min(len(_BLOCKS) - 1, int(r / peak * (len(_BLOCKS) - 1) + 0.5))])
    return "".join(out)


# ------------------------------------------------------------------ the rule


def tail_bound(k: int, n: int, p: float) -> float:
    """Chernoff bound on ``P(X >= k)`` for ``X ~ Binomial(n, p)``; 1.0 when
    ``k`` is not above the mean."""
    if n <= 0 or k <= n * p:
        return 1.0
    if p <= 0.0:
        return 0.0
    q = k / n
    if q >= 1.0:
        return math.exp(n * math.log(p))
    kl = q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))
    return math.exp(-n * kl)


def fisher_tail(k: int, n: int, base_k: int, base_n: int) -> float:
    """One-sided Fisher exact test: the probability, were the window and the
    baseline one rate, that ``n`` traces drawn from all ``n + base_n`` hold
    ``k`` or more of the ``k + base_k`` with the kind (hypergeometric upper
    tail). 1.0 when ``k`` is not above what the pooled rate expects.

    Conditioning on the pooled count is what makes a short baseline count
    for as little as it knows: 0 of 40 earlier traces is weak evidence the
    rate was near 0, and a rate fixed from it would make the next bucket's
    ordinary noise look like a rise."""
    total_n = n + base_n
    total_k = k + base_k
    if n <= 0 or total_n <= 0 or k * total_n <= n * total_k:
        return 1.0
    top = min(total_k, n)
    rest = total_n - total_k
    if n - k > rest:
        return 0.0  # not that many traces without the kind exist
    log_term = _log_comb(total_k, k) + _log_comb(rest, n - k) - _log_comb(total_n, n)
    term = math.exp(log_term)
    tail = term
    x = k
    # Past the mode the terms only shrink: add them until they stop counting.
    for _ in range(_FISHER_TERMS):
        if x >= top or term <= tail * 1e-12:
            return min(1.0, tail)
        term *= (total_k - x) * (n - x) / ((x + 1) * (rest - n + x + 1))
        tail += term
        x += 1
    # Huge counts (an engine's pushdown): the Chernoff bound at the pooled
    # rate also bounds the hypergeometric tail (Hoeffding 1963).
    return tail_bound(k, n, total_k / total_n)


_FISHER_TERMS = 100_000


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _window_bound(
    s: Series, t: int, base_k: int, base_n: int, rule: OnsetRule
) -> tuple[float, int]:
    """The smallest Fisher tail of bucket ``t`` alone, pooled with the next
    one or two (up to ``SCAN``), or pooled to the window's end, each against
    the baseline: a rise that starts mid-bucket or builds over a few buckets
    is still seen from its first bucket, and a steady trickle of small
    buckets by its whole length. 1.0 when no window has ``min_count`` traces
    with the kind. With the tail, the end (exclusive) of the window that gave it."""
    best, end = 1.0, t + 1
    k = n = 0
    size = len(s.starts)
    for i in range(t, min(t + SCAN, size)):
        k += s.with_kind[i]
        n += s.analysed[i]
        if k >= rule.min_count and n:
            p = fisher_tail(k, n, base_k, base_n)
            if p < best:
                best, end = p, i + 1
    if t + SCAN < size:
        k += sum(s.with_kind[t + SCAN :])
        n += sum(s.analysed[t + SCAN :])
        if k >= rule.min_count and n:
            p = fisher_tail(k, n, base_k, base_n)
            if p < best:
                best, end = p, size
    return best, end


#: How many buckets, from the one tested, its window may pool (and then one
#: more window: to the end).
SCAN = 3
WINDOWS = SCAN + 1


def find_onset(s: Series, rule: OnsetRule = DEFAULT_RULE) -> tuple[int, float] | None:
    """Index of the onset bucket of ``s`` and its tail probability, or None."""
    size = len(s.starts)
    tested = sum(1 for n in s.analysed if n) or 1
    # Bonferroni over the buckets and the windows each is tested with.
    per_test_alpha = rule.alpha / (tested * WINDOWS)
    # Suffix sums: the "rise holds" test pools from t to the end.
    suffix_k = [0] * (size + 1)
    suffix_n = [0] * (size + 1)
    for i in range(size - 1, -1, -1):
        suffix_k[i] = suffix_k[i + 1] + s.with_kind[i]
        suffix_n[i] = suffix_n[i + 1] + s.analysed[i]
    base_k = base_n = base_buckets = 0
    for t in range(size):
        k, n = s.with_kind[t], s.analysed[t]
        if n and base_n >= rule.min_baseline and base_buckets >= rule.min_baseline_buckets:
            p0 = (base_k + 0.5) / (base_n + 1)
            # The rise begins in a bucket above the baseline, not before it.
            if k / n > p0:
                bound, end = _window_bound(s, t, base_k, base_n, rule)
                if bound <= per_test_alpha:
                    after = suffix_k[t] / suffix_n[t]
                    if (
                        after >= rule.min_ratio * p0
                        and after - p0 >= rule.min_delta
                        and fisher_tail(suffix_k[t], suffix_n[t], base_k, base_n) <= rule.alpha
                    ):
                        return _change_point(s, (t, end), suffix_k, suffix_n, rule), bound
        base_k += k
        base_n += n
        if n:
            base_buckets += 1
    return None


#: How many buckets before the detecting one the change point may lie.
BACKTRACK = 6


def _loglik(k: int, n: int) -> float:
    if n == 0 or k in (0, n):
        return 0.0
    p = k / n
    return k * math.log(p) + (n - k) * math.log(1 - p)


def _change_point(
    s: Series, span: tuple[int, int], suffix_k: list[int], suffix_n: list[int], rule: OnsetRule
) -> int:
    """The bucket where the rise most likely began, near ``t``.

    A moderate rise can pass the test only a bucket or two after it began,
    and a window pooled from ``t`` can pass on the strength of the buckets
    after it; of the buckets from ``BACKTRACK`` before ``t`` to the end of
    its window (each with a baseline), the one splitting the series into the
    two most likely constant rates is taken, the latest on a tie.
    """
    t, end = span
    total_k, total_n = suffix_k[0], suffix_n[0]
    best, best_ll = t, -math.inf
    base_n = total_n - suffix_n[max(0, t - BACKTRACK)]
    base_buckets = sum(1 for n in s.analysed[: max(0, t - BACKTRACK)] if n)
    for tau in range(max(0, t - BACKTRACK), min(len(s.starts), end)):
        if base_n >= rule.min_baseline and base_buckets >= rule.min_baseline_buckets:
            ll = _loglik(total_k - suffix_k[tau], total_n - suffix_n[tau]) + _loglik(
                suffix_k[tau], suffix_n[tau]
            )
            if ll >= best_ll:
                best, best_ll = tau, ll
        base_n += s.analysed[tau]
        base_buckets += 1 if s.analysed[tau] else 0
    return best


def nearest_change(
    changes: list[ChangeEvent], route: str, at_ns: int, bucket_ns: int, lookback_ns: int
) -> ChangeEvent | None:
    """The latest change on ``route`` or fleet-wide (route None) from
    ``lookback_ns`` before the onset bucket to its end: a change inside the
    onset bucket can still be its cause. A same-route change wins a tie."""
    best: ChangeEvent | None = None
    for c in changes:
        if c.route is not None and c.route != route:
            continue
        if not (at_ns - lookback_ns <= c.at_ns < at_ns + bucket_ns):
            continue
        if (
            best is None
            or c.at_ns > best.at_ns
            or (c.at_ns == best.at_ns and best.route is None and c.route is not None)
        ):
            best = c
    return best


def onsets(window: OnsetWindow, rule: OnsetRule = DEFAULT_RULE) -> list[Onset]:
    """Every (route, kind) of the window that has an onset, in time order."""
    found: list[Onset] = []
    bucket_ns = max(1, window.query.bucket_ns)
    for s in series(window):
        hit = find_onset(s, rule)
        if hit is None:
            continue
        t, bound = hit
        at = s.starts[t]
        bk, bn = sum(s.with_kind[:t]), sum(s.analysed[:t])
        ak, an = sum(s.with_kind[t:]), sum(s.analysed[t:])
        before = bk / bn if bn else 0.0
        after = ak / an if an else 0.0
        cause = nearest_change(window.changes, s.route, at, bucket_ns, rule.lookback_ns)
        lead = at - cause.at_ns if cause is not None else None
        found.append(
            Onset(
                route=s.route,
                kind=s.kind,
                at_ns=at,
                before_rate=before,
                after_rate=after,
                cause=cause,
                lead_ns=lead,
                line=onset_line(s.kind, s.route, at, (before, after), cause),
                before_with=bk,
                before_analysed=bn,
                after_with=ak,
                after_analysed=an,
                p_bound=bound,
            )
        )
    found.sort(key=lambda o: (o.at_ns, o.route, o.kind))
    return found


# ------------------------------------------------------------------ text


def percent(rate: float) -> str:
    """23%, 0%, and 0.4% for a small rate that is not zero."""
    pct = rate * 100
    if 0 < pct < 1:
        return f"{pct:.1f}%"
    return f"{round(pct)}%"


def clock(ns: int, tz: timezone = UTC) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz).strftime("%H:%M")


def duration(ns: int) -> str:
    """40 s, 3 min, 2 h 5 min."""
    s = abs(ns) // 1_000_000_000
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 120:
        return f"{m} min"
    return f"{m // 60} h {m % 60} min" if m % 60 else f"{m // 60} h"


def short_pair(a: str | None, b: str | None) -> tuple[str, str]:
    """Hashes cut to their first 4 characters, longer only where the two cuts
    would read the same; anything that is not a long token is kept whole."""

    def is_hash(v: str | None) -> bool:
        return v is not None and len(v) > 8 and v.isalnum()

    if not (is_hash(a) or is_hash(b)):
        return a or "none", b or "none"
    width = 4
    while width < 64 and a is not None and b is not None and a[:width] == b[:width]:
        width += 2

    def cut(v: str | None) -> str:
        if v is None:
            return "none"
        return v[:width] if is_hash(v) else v

    return cut(a), cut(b)


def describe_change(c: ChangeEvent) -> str:
    """What changed, as the end of an onset line: "tool lookup_order's
    description changed (hash a1b2 -> c3d4)"."""
    before, after = short_pair(c.before, c.after)
    if c.kind == "tool_definition":
        if c.before is None:
            return f"tool {c.subject} appeared"
        if c.after is None:
            return f"tool {c.subject} was removed"
        what = c.detail or "definition"
        return f"tool {c.subject}'s {what} changed (hash {before} -> {after})"
    if c.kind == "model_version":
        return f"model {c.subject} now answers as {after} (was {before})"
    if c.kind == "system_prompt":
        label = "hash " if c.before and c.after and len(c.after) > 8 else ""
        return f"the system prompt changed ({label}{before} -> {after})"
    if c.kind == "provider":
        return f"{c.subject} switched ({before} -> {after})"
    if c.kind == "serving_version":
        how = f" ({c.detail})" if c.detail else ""
        return f"{c.subject}'s serving version went {before} -> {after}{how}"
    if c.kind == "action":
        tail = f": {c.detail}" if c.detail else ""
        return f"action {c.subject} ran{tail}"
    if c.kind == "flag":
        if c.before is None:  # no state before: "strategy flexibleRollout added"
            return f"flag {c.subject}: {c.after or 'changed'}"
        return f"flag {c.subject} changed ({before} -> {after})"
    return f"{c.kind} {c.subject} changed ({before} -> {after})"


def onset_line(
    kind: str,
    route: str,
    at_ns: int,
    rates: tuple[float, float],
    cause: ChangeEvent | None,
    *,
    tz: timezone = UTC,
) -> str:
    """ "reentrancy_cycle on agent-assist: 0% -> 23% from 14:02; 3 min before,
    tool lookup_order's description changed (hash a1b2 -> c3d4)"."""
    before, after = rates
    head = f"{kind} on {route}: {percent(before)} -> {percent(after)} from {clock(at_ns, tz)}"
    if cause is None:
        return f"{head}; no change recorded just before"
    where = "" if cause.route is not None else " fleet-wide"
    lead_ns = at_ns - cause.at_ns
    when = f"{duration(lead_ns)} before" if lead_ns > 0 else f"at {clock(cause.at_ns, tz)}"
    return f"{head}; {when},{where} {describe_change(cause)}"
