"""``oncall-tui trace onset``: per route and time bucket, how many traces
carry each finding kind; when a kind rose (core/onset.py, docs/onset.md);
and the change just before it (core/changes.py).

Reads trace files (every trace analysed; the window ends at the last trace in
them) or the environment's trace store (the store's engine counts when it
can, else a stated sample per bucket; the window ends now). Changes from the
audit log, the gateways' route history and the flag services' event logs
are lined up too when a config names them (with files: when a config
exists); one that cannot be read is a warning on stderr, not a failure.

Exit codes: 0 no onset, 1 an onset found (like a finding), 2 bad input or
config, 3 the store could not be reached (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from typing import TYPE_CHECKING, Any

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json
from oncall_tui.cli.output import emit_json, say
from oncall_tui.errors import DataError, OncallError

if TYPE_CHECKING:
    from oncall_tui.core.onset import Onset, Series
    from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery, OnsetWindow

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
#: Text output pools adjacent buckets so a day of 5m buckets fits a line.
TREND_WIDTH = 48
MAX_CHANGE_LINES = 30


def duration_s(text: str, what: str) -> float:
    """``24h``, ``5m``, ``90s``, ``2d`` or plain seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise DataError(f"{what}: {text!r} is not a duration (e.g. 24h, 5m, 90s)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def register(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = cmds.add_parser(
        "onset",
        help="when each finding kind started on a route, and what changed just before",
        description="Per route and time bucket: traces seen and traces with each finding "
        "kind; the onset of a kind (the first bucket where it rises clearly above its own "
        "earlier rate: docs/onset.md); and the changes in the window (model snapshot, "
        "system prompt, tool definitions, first tier, serving version, actions, flag "
        "changes). Files: "
        "every trace analysed; a store: its engine counts, or a stated sample per bucket.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="trace file(s); none: the store")
    p.add_argument("--route", help="only this route")
    p.add_argument("--finding", metavar="KIND", help="only kinds containing KIND (cycle)")
    p.add_argument("--since", default="24h", help="window length (default 24h)")
    p.add_argument("--bucket", default="5m", help="bucket size (default 5m)")
    p.add_argument(
        "--sample", type=int, default=50, help="sampling stores: traces per bucket (default 50)"
    )
    p.add_argument("--store", help="trace store name from the config (default: first able)")
    add_json(p)
    p.set_defaults(func=_onset)


def _query(args: argparse.Namespace, until_ns: int) -> OnsetQuery:
    from oncall_tui.core.onset_model import OnsetQuery

    since = int(duration_s(args.since, "--since") * 1e9)
    bucket = int(duration_s(args.bucket, "--bucket") * 1e9)
    if bucket > since:
        raise DataError(f"--bucket {args.bucket} is longer than --since {args.since}")
    if since // bucket > 10_000:
        raise DataError(f"--since {args.since} / --bucket {args.bucket}: over 10,000 buckets")
    if args.sample < 1:
        raise DataError("--sample: at least 1 trace per bucket")
    # Whole buckets, the last one holding ``until``.
    end = until_ns - until_ns % bucket + bucket
    return OnsetQuery(
        since_ns=end - since,
        until_ns=end,
        bucket_ns=bucket,
        route=args.route,
        finding=args.finding,
        sample_per_bucket=args.sample,
    )


def _from_files(args: argparse.Namespace) -> tuple[str, OnsetWindow]:
    from oncall_tui.cli.common import config_path, environment
    from oncall_tui.cli.trace_cmd import load_traces
    from oncall_tui.core.onset import DEFAULT_RULE
    from oncall_tui.sources.onset_sampling import in_window, window_from_traces

    traces = load_traces(args.files, None)
    last = max(s.start_ns for t in traces for s in t.spans)
    query = _query(args, last)
    side: list[ChangeEvent] = []
    # The traces stand alone; a config, when there is one, adds what the
    # environment recorded changing (a broken one only costs those).
    if config_path(args).exists():
        try:
            cfg, _, env = environment(args)
        except OncallError as exc:
            _warn([f"config: {exc} (changes from the environment left out)"])
        else:
            found, warnings, _ = _side_changes(env, cfg)
            flags, more = _flag_changes(env, query, DEFAULT_RULE.lookback_ns)
            _warn(warnings + more)
            side = in_window(found + flags, query, DEFAULT_RULE.lookback_ns)
    window = window_from_traces(traces, query, changes=side)
    return ", ".join(args.files), window


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        sys.stderr.write(f"oncall-tui: warning: {w}\n")


def _flag_changes(
    env: Any, query: OnsetQuery, lookback_ns: int
) -> tuple[list[ChangeEvent], list[str]]:
    """Flag changes from every flag service that can list its events, from
    ``lookback_ns`` before the window (an onset's cause may precede it)."""
    from oncall_tui.cli.common import adapters
    from oncall_tui.sources.capabilities import FlagEvents

    found: list[ChangeEvent] = []
    warnings: list[str] = []

    try:
        built = adapters(env, "flags")
    except OncallError as exc:
        return [], [f"flags: {exc}"]

    async def gather() -> None:
        for name, flags in built.items():
            try:
                if isinstance(flags, FlagEvents):
                    found.extend(
                        await flags.flag_events(query.since_ns - lookback_ns, query.until_ns)
                    )
            except OncallError as exc:
                warnings.append(f"flags {name}: {exc}")
            finally:
                if hasattr(flags, "aclose"):
                    await flags.aclose()

    asyncio.run(gather())
    return found, warnings


def _side_changes(env: Any, cfg: Any) -> tuple[list[ChangeEvent], list[str], int]:
    """Actions from the audit log and serving versions from the gateways;
    either missing or failing is a warning, not a failure. Also the latest
    gateway clock seen (ns; 0 when none answered): a simulator running faster
    than real time is ahead of ours, and its traces with it."""
    from oncall_tui.actions.audit import AuditLog
    from oncall_tui.actions.setup import audit_path
    from oncall_tui.cli.common import adapters
    from oncall_tui.core.changes import changes_from_audit, changes_from_routes
    from oncall_tui.sources.capabilities import GatewayStatus

    found: list[ChangeEvent] = []
    warnings: list[str] = []
    clock = [0]
    path = audit_path(cfg)
    if path.exists():
        import msgspec

        try:
            records = [msgspec.to_builtins(r) for r in AuditLog(path).records()]
            found += changes_from_audit(records)
        except OncallError as exc:
            warnings.append(f"audit log {path}: {exc}")

    async def routes() -> None:
        for name, gw in adapters(env, "gateways").items():
            if not isinstance(gw, GatewayStatus):
                continue
            try:
                answer = await gw.routes()
                found.extend(changes_from_routes(answer))
                clock[0] = max(clock[0], int(answer.gateway_time.timestamp() * 1e9))
            except OncallError as exc:
                warnings.append(f"gateway {name}: {exc}")
            finally:
                if hasattr(gw, "aclose"):
                    await gw.aclose()

    asyncio.run(routes())
    return found, warnings, clock[0]


def _from_store(args: argparse.Namespace) -> tuple[str, OnsetWindow, dict[str, list[str]]]:
    from oncall_tui.cli.common import adapters, environment
    from oncall_tui.core.onset import DEFAULT_RULE
    from oncall_tui.errors import UnsupportedError
    from oncall_tui.sources.capabilities import FleetCounts
    from oncall_tui.sources.onset_sampling import (
        can_sample,
        confirm_candidates,
        in_window,
        onset_window,
    )

    cfg, _, env = environment(args)
    side, warnings, gateway_ns = _side_changes(env, cfg)
    query = _query(args, max(time.time_ns(), gateway_ns))
    flags, more = _flag_changes(env, query, DEFAULT_RULE.lookback_ns)
    _warn(warnings + more)
    side = in_window(side + flags, query, DEFAULT_RULE.lookback_ns)
    built = adapters(env, "trace_stores")
    usable = [
        (n, s)
        for n, s in built.items()
        if (args.store is None or n == args.store) and (isinstance(s, FleetCounts) or can_sample(s))
    ]
    if not usable:
        known = ", ".join(built) or "none configured"
        raise UnsupportedError(
            f"no trace store in this environment can count or list a time window (have: {known})"
        )
    # A store that counts in its engine beats one we must sample.
    name, store = next(((n, s) for n, s in usable if isinstance(s, FleetCounts)), usable[0])

    async def run() -> tuple[OnsetWindow, dict[str, list[str]]]:
        try:
            window = await onset_window(store, query, changes=side)
            confirmed = await confirm_candidates(store, window) if window.candidates else {}
            return window, confirmed
        finally:
            for adapter in built.values():  # the unused ones hold clients too
                if hasattr(adapter, "aclose"):
                    await adapter.aclose()

    window, confirmed = asyncio.run(run())
    return name, window, confirmed


def _onset(args: argparse.Namespace) -> int:
    from oncall_tui.core.onset import onsets, series

    confirmed: dict[str, list[str]] = {}
    if args.files:
        source, window = _from_files(args)
    else:
        source, window, confirmed = _from_store(args)
    found = onsets(window)
    lines = series(window)
    if args.json:
        emit_json(_document(source, window, found, lines, confirmed))
    else:
        _print(source, window, found, lines)
    return exit_codes.PROBLEM if found else exit_codes.OK


def _document(
    source: str,
    window: OnsetWindow,
    found: list[Onset],
    lines: list[Series],
    confirmed: dict[str, list[str]],
) -> dict[str, Any]:
    from oncall_tui.core.onset import bucket_starts

    return {
        "source": source,
        "query": window.query,
        "method": window.method,
        "method_note": window.method_note,
        "bucket_starts_ns": bucket_starts(window),
        "onsets": found,
        "changes": window.changes,
        "series": [
            {
                "route": s.route,
                "kind": s.kind,
                "traces": s.traces,
                "analysed": s.analysed,
                "with_kind": s.with_kind,
                "rates": s.rates(),
            }
            for s in lines
        ],
        "candidates": window.candidates,
        "confirmed": confirmed,
    }


def _pooled(s: Series, width: int) -> list[float | None]:
    """Rates of adjacent buckets pooled so the line is at most ``width`` wide."""
    size = len(s.starts)
    per = max(1, -(-size // width))
    out: list[float | None] = []
    for i in range(0, size, per):
        n = sum(s.analysed[i : i + per])
        out.append(sum(s.with_kind[i : i + per]) / n if n else None)
    return out


def _print(source: str, window: OnsetWindow, found: list[Onset], lines: list[Series]) -> None:
    from oncall_tui.core.onset import (
        bucket_starts,
        clock,
        describe_change,
        duration,
        percent,
        sparkline,
    )

    q = window.query
    starts = bucket_starts(window)
    say(
        f"{source}: {len(starts)} buckets of {duration(q.bucket_ns)} "
        f"from {clock(q.since_ns)} to {clock(q.until_ns)} UTC"
    )
    by_route: dict[str, list[Series]] = {}
    for s in lines:
        by_route.setdefault(s.route, []).append(s)
    seen: dict[str, tuple[int, int]] = {}
    for b in window.buckets:
        if q.route is None or b.route == q.route:
            t, a = seen.get(b.route, (0, 0))
            seen[b.route] = (t + b.traces, a + (b.analysed or b.traces))
    for route in sorted(seen):
        traces, analysed = seen[route]
        kinds = by_route.get(route, [])
        tail = "" if kinds else "; no findings"
        say(f"{route}: {traces:,} traces seen, {analysed:,} analysed{tail}")
        for s in kinds:
            peak = max((r for r in s.rates() if r is not None), default=0.0)
            say(f"  {s.kind:<28} {sparkline(_pooled(s, TREND_WIDTH))}  peak {percent(peak)}")
    if not seen:
        say("no traces in the window")
    say()
    if found:
        say("onsets:")
        for o in found:
            say(f"  {o.line}")
    else:
        say("no onset: no finding kind rose clearly above its earlier rate")
    say()
    changes = window.changes
    if changes:
        say(f"changes in the window ({len(changes)}):")
        for c in changes[-MAX_CHANGE_LINES:]:
            where = c.route or "fleet-wide"
            say(f"  {clock(c.at_ns)}  {where}  {describe_change(c)}  [{c.source}]")
        if len(changes) > MAX_CHANGE_LINES:
            say(f"  ... {len(changes) - MAX_CHANGE_LINES} earlier (--json has all)")
    else:
        say("no changes recorded in the window")
    say(f"method: {window.method_note or window.method}")
