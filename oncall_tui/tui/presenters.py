"""Model -> Rich ``Text``: pure functions, tested without a running app.

Everything that came from a trace or a gateway goes through ``inert`` and
into ``Text`` objects (never markup strings), so an escape sequence or
``[bold]`` in a prompt is shown, not obeyed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from oncall_tui.core.analysis import Analysis
from oncall_tui.core.gateway import RouteStatus, StatusResponse
from oncall_tui.core.models import Span
from oncall_tui.core.onset import Onset, Series, clock, describe_change
from oncall_tui.core.text import inert, truncate
from oncall_tui.runbook.signals import RATE_429_LIMIT, RETRY_LIMIT

PREVIEW = 200  # characters of an attribute value shown before "enter for all"
STALE_AFTER_S = 15.0

SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def safe(value: object, limit: int | None = None, *, single_line: bool = True) -> str:
    text = inert(value if isinstance(value, str) else _plain(value), single_line=single_line)
    return truncate(text, limit) if limit else text


def _plain(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def span_detail(span: Span, *, full: bool = False, shift_ns: int | None = None) -> Text:
    limit = None if full else PREVIEW
    out = Text()
    out.append(safe(span.name, 120), style="bold")
    out.append(f"  {span.kind}  {span.status}")
    if span.status_message:
        out.append(f" ({safe(span.status_message, limit)})", style="red")
    out.append("\n")
    out.append(f"span {span.span_id}  parent {span.parent_id or '-'}\n", style="dim")
    out.append(f"service {safe(span.service or '-', 60)}  host {safe(span.host or '-', 60)}\n")
    dur = span.duration_ns / 1e6
    out.append(f"duration {dur:.3f} ms")
    if shift_ns:
        out.append(f"  ⇆ skew-adjusted by {shift_ns / 1e6:+.3f} ms", style="cyan")
    out.append("\n")
    g = span.gen_ai
    if g is not None:
        out.append("GenAI\n", style="bold underline")
        for name in g.__struct_fields__:
            value = getattr(g, name)
            if value is None or value == ():
                continue
            out.append(f"  {name}: ", style="bold")
            out.append(safe(value, limit) + "\n")
    if span.attributes:
        out.append("attributes\n", style="bold underline")
        for key in sorted(span.attributes):
            out.append(f"  {safe(key, 80)}: ", style="bold")
            value = safe(span.attributes[key], limit, single_line=not full)
            out.append(value + "\n")
            if not full and len(safe(span.attributes[key])) > PREVIEW:
                out.append("    (cut; enter shows the full value)\n", style="dim italic")
    for event in span.events:
        out.append(f"event {safe(event.name, 80)} @ {event.time_ns}\n", style="bold")
        for key, value in event.attributes.items():
            out.append(f"  {safe(key, 80)}: {safe(value, limit, single_line=not full)}\n")
    return out


def findings_text(analysis: Analysis) -> Text:
    out = Text()
    s = analysis.summary
    out.append(
        f"{s.span_count} spans  {s.error_count} errors  {(s.duration_ns or 0) / 1e6:.1f} ms  "
        f"{len(analysis.cycles)} cycle(s)\n",
        style="bold",
    )
    for c in analysis.cycles:
        out.append("⟲ ", style="bold red")
        out.append(safe(" -> ".join(c.witness_keys), 300), style="red")
        basis = " (inferred)" if c.inferred else ""
        out.append(f"  laps {c.laps}, {c.tokens} tokens{basis}\n")
    for f in analysis.findings:
        if f.kind == "reentrancy_cycle":
            continue
        out.append(f"[{f.severity}] ", style=SEVERITY_STYLE.get(f.severity, ""))
        out.append(f"{f.kind}: {safe(f.summary, 300)}\n")
    if analysis.quality:
        out.append(f"data quality: {len(analysis.quality)} note(s)\n", style="yellow")
        for q in analysis.quality[:5]:
            out.append(f"  {q.kind}: {safe(q.detail, 200)}\n", style="dim")
    if not analysis.findings and not analysis.quality:
        out.append("no findings\n", style="green")
    return out


def banner(analysis: Analysis) -> Text | None:
    if analysis.completeness == "complete":
        return None
    reason = safe(analysis.completeness_reason or "the store said so", 200)
    return Text(f"{analysis.completeness.upper()} TRACE: {reason}", style="bold black on yellow")


def compact_number(v: float) -> str:
    """At most four characters for any rate a gateway reports: 12.2, 512,
    1.2k, 99k, 2.5M (an 80-column row has no room for more)."""
    if v < 100:
        return f"{v:.1f}"
    if v < 1000:
        return f"{v:.0f}"
    for unit, size in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        scaled = v / size
        if scaled < 9.95:
            return f"{scaled:.1f}{unit}"
        if scaled < 999.5:
            return f"{scaled:.0f}{unit}"
    return f"{v / 1e12:.0f}T"


def _secs(ms: float | None) -> str:
    """Milliseconds as seconds in at most three characters: 0.4, 12, 125."""
    v = (ms or 0) / 1000
    return f"{v:.1f}" if v < 9.95 else f"{v:.0f}" if v < 999.5 else f"{v / 60:.0f}m"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _flag(text: str, flagged: bool) -> Text:
    return Text(text + "!", style="bold yellow") if flagged else Text(text)


def route_row(r: RouteStatus) -> list[Text]:
    primary = r.tier_mix[0] if r.tier_mix else None
    share = primary.share if primary else None
    below = share is not None and r.tier_slo is not None and share < r.tier_slo
    # Every flag has a "!" too: with 16 colours, NO_COLOR or a colour-blind
    # reader, the colour alone says nothing.
    tier = Text(f"{_pct(share)}/{_pct(r.tier_slo)}", style="bold red" if below else "")
    if below:
        tier.append("!")
    # "on " as wide as "OFF": pulling a kill switch must not shift the columns.
    ai = Text("OFF", style="bold red") if r.kill_switch else Text("on ", style="green")
    ttft = r.ttft.p50_ms
    ttfv = r.ttfv.p50_ms
    lat = Text(f"{_secs(ttft)}/{_secs(ttfv)}s")
    if ttft and ttfv and ttfv > ttft + 2000:
        lat.append("!")
        lat.stylize("bold yellow")
    refusal = Text(_pct(r.refusal_rate))
    if any(
        p.refusal_rate is not None
        and p.refusal_baseline
        and p.refusal_rate > 3 * p.refusal_baseline
        for p in r.providers
    ):
        refusal.append("!")
        refusal.stylize("bold yellow")
    quota = min(
        (q for q in r.quotas if q.limit),
        key=lambda q: (q.remaining or 0) / (q.limit or 1),
        default=None,
    )
    quota_text = Text("-")
    if quota is not None and quota.limit:
        left = (quota.remaining or 0) / quota.limit
        low = left < 0.1
        quota_text = Text(f"{left * 100:.0f}%{'!' if low else ''}", style="bold red" if low else "")
    rate_429 = _flag(_pct(r.rate_429), r.rate_429 is not None and r.rate_429 >= RATE_429_LIMIT)
    amp = r.retry_amplification
    retry = _flag(
        "-" if amp is None else f"{amp:.1f}x" if amp < 9.95 else f"{amp:.0f}x",
        r.retry_amplification is not None and r.retry_amplification > RETRY_LIMIT,
    )
    # Most telling first. Every value has a short form (four characters at
    # most but route and version), so all 13 columns fit in 80; the overview
    # cuts version, then route, with an ellipsis when the names are long.
    return [
        Text(safe(r.route, 20)),
        ai,
        tier,
        Text(_pct(r.fallback_rate)),
        Text(_pct(r.error_rate)),
        refusal,
        rate_429,
        lat,
        Text(_pct(r.cache_hit_rate)),
        retry,
        quota_text,
        Text(compact_number(r.requests_per_s)),
        Text(safe(r.serving_version or "-", 40)),
    ]


ROUTE_COLUMNS = (
    "route",
    "AI",
    "tier/SLO",
    "fb",
    "err",
    "ref",
    "429",
    "ttft/ttfv",
    "cache",
    "retry",
    "quota",
    "rps",
    "ver",
)


def age_text(status: StatusResponse | None, error: str | None, now: datetime | None = None) -> Text:
    now = now or datetime.now(UTC)
    if status is None:
        return Text(f"no data yet{': ' + safe(error, 120) if error else ''}", style="yellow")
    received = status.received_at or now
    age = (now - received).total_seconds()
    text = Text(f"gateway clock {status.gateway_time:%H:%M:%S %Z}  data {int(max(age, 0))}s old")
    if error or age > STALE_AFTER_S:
        text.stylize("bold black on yellow")
        text.append(f"  STALE: {safe(error or 'no update', 120)}")
    return text


def fit_rows(text: Text, width: int, rows: int, hint: str) -> Text:
    """``text`` cut to what ``rows`` terminal rows of ``width`` show, its last
    row saying how much more there is (``hint`` names the key for all of it).
    A panel that silently loses its bottom lines hides the one that matters."""
    lines = text.split("\n", allow_blank=False)
    width = max(width, 1)

    def height(line: Text) -> int:
        return max(1, -(-len(line.plain) // width))

    if sum(height(line) for line in lines) <= rows:
        return text
    out = Text()
    used = 0
    for shown, line in enumerate(lines):
        if used + height(line) > rows - 1:
            out.append(f"… {len(lines) - shown} more line(s): {hint}", style="bold cyan")
            return out
        out.append_text(line)
        out.append("\n")
        used += height(line)
    return out


# ------------------------------------------------------------------ onset


def pooled_rates(
    with_kind: Sequence[int], analysed: Sequence[int], per: int = 1
) -> list[float | None]:
    """Per-column rates, ``per`` adjacent buckets pooled into each column
    (traces with the kind over traces analysed; None: nothing analysed)."""
    per = max(1, per)
    out: list[float | None] = []
    for i in range(0, len(analysed), per):
        n = sum(analysed[i : i + per])
        out.append(sum(with_kind[i : i + per]) / n if n else None)
    return out


def kind_trend(
    all_series: Iterable[Series], kind: str, routes: Iterable[str] = ()
) -> list[float | None] | None:
    """The rate of ``kind`` per bucket, pooled over ``routes`` (every route
    when empty); None when the window has no series of that kind there."""
    wanted = set(routes)
    with_kind: list[int] = []
    analysed: list[int] = []
    for s in all_series:
        if s.kind != kind or (wanted and s.route not in wanted):
            continue
        if not analysed:
            with_kind, analysed = [0] * len(s.starts), [0] * len(s.starts)
        for i, (k, n) in enumerate(zip(s.with_kind, s.analysed, strict=True)):
            with_kind[i] += k
            analysed[i] += n
    return pooled_rates(with_kind, analysed) if analysed else None


def onset_since(onset: Onset, limit: int | None = None) -> str:
    """'since 14:02 (after tool lookup_order's description changed (hash a1b2
    -> c3d4))', the cause cut to ``limit`` characters. The cause names tools
    and models from traces: made inert here."""
    head = f"since {clock(onset.at_ns)}"
    if onset.cause is None:
        return f"{head} (no change recorded just before)"
    cause = safe(describe_change(onset.cause), max(limit or 0, 12) if limit else None)
    return f"{head} (after {cause})"
