"""``oncall-tui gateway status|watch``: live gateway state, headless.

``status`` exits 0 with numbers, 1 when an alert is firing (so a script can
gate on it), 3 when the gateway cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, environment, first_capable
from oncall_tui.cli.output import emit_json, json_bytes, say, table
from oncall_tui.core.status_notes import note_lines


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gateway", help="live state of the environment's AI gateways")
    cmds = p.add_subparsers(dest="gateway_command", metavar="ACTION")
    st = cmds.add_parser("status", help="per route: tier mix, rates, latency, quota, kill switch")
    st.add_argument("--window", type=int, default=300, help="seconds (default 300)")
    st.add_argument("--gateway", help="gateway name from the config (default: first)")
    st.add_argument(
        "--no-traces",
        action="store_true",
        help="do not fill what the gateway cannot say (tier mix, fallback and error "
        "rates) from the environment's trace store",
    )
    add_json(st)
    st.set_defaults(func=_status)
    w = cmds.add_parser("watch", help="tail the gateway's event stream")
    w.add_argument("--gateway", help="gateway name from the config (default: first)")
    w.add_argument("--since", type=int, help="resume after this event seq")
    w.add_argument("--count", type=int, default=0, help="stop after N events (0: never)")
    w.add_argument("--seconds", type=float, default=0, help="stop after S seconds (0: never)")
    w.add_argument("--include-status", action="store_true", help="also print status snapshots")
    add_json(w)
    w.set_defaults(func=_watch)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def status_rows(status: Any) -> list[list[str]]:
    rows = []
    for r in status.routes:
        primary = r.tier_mix[0] if r.tier_mix else None
        slo = f"{primary.share * 100:.0f}%/{(r.tier_slo or 0) * 100:.0f}%" if primary else "-"
        if primary and r.tier_slo is not None and primary.share < r.tier_slo:
            slo += " !"
        quota = min(
            (q for q in r.quotas if q.limit),
            key=lambda q: (q.remaining or 0) / (q.limit or 1),
            default=None,
        )
        rows.append(
            [
                r.route,
                r.serving_version or "-",
                "OFF" if r.kill_switch else "on",
                f"{r.requests_per_s:.1f}",
                slo,
                _pct(r.fallback_rate),
                _pct(r.error_rate),
                _pct(r.refusal_rate),
                _pct(r.rate_429),
                f"{_ms(r.ttft.p50_ms)}/{_ms(r.ttfv.p50_ms)}",
                "-" if r.chunk_chars_p50 is None else f"{r.chunk_chars_p50:.0f}",
                _pct(r.cache_hit_rate),
                "-" if r.retry_amplification is None else f"{r.retry_amplification:.2f}",
                _pct((quota.remaining or 0) / quota.limit) if quota and quota.limit else "-",
            ]
        )
    return rows


HEADERS = [
    "ROUTE",
    "VER",
    "AI",
    "RPS",
    "PRIMARY/SLO",
    "FALLBK",
    "ERR",
    "REFUSE",
    "429",
    "TTFT/TTFV ms",
    "CHUNK",
    "CACHE",
    "RETRY",
    "QUOTA",
]


def _status(args: argparse.Namespace) -> int:
    from oncall_tui.sources.capabilities import GatewayStatus
    from oncall_tui.sources.trace_window import needs_traces

    _, env_name, env = environment(args)
    name, gw = first_capable(env, "gateways", GatewayStatus, "report status", args.gateway)

    async def fetch() -> tuple[Any, list[Any]]:
        try:
            status = await gw.status(args.window)
            alerts = await gw.alerts() if hasattr(gw, "alerts") else []
            return status, alerts
        finally:
            if hasattr(gw, "aclose"):
                await gw.aclose()

    status, alerts = asyncio.run(fetch())
    derived = None
    if not getattr(args, "no_traces", False) and needs_traces(status):
        status, derived = _fill_from_traces(env, status, args.window)
    firing = [a for a in alerts if a.resolved_at is None]
    if args.json:
        doc: dict[str, Any] = {
            "environment": env_name,
            "gateway": name,
            "status": status,
            "alerts": firing,
        }
        if derived is not None:
            doc["from_traces"] = derived
        emit_json(doc)
    else:
        age = (datetime.now(UTC) - status.received_at).total_seconds() if status.received_at else 0
        say(
            f"{env_name}/{name}  gateway clock {status.gateway_time.isoformat()}  "
            f"window {status.window_s}s  fetched {age:.1f}s ago"
        )
        table(status_rows(status), HEADERS)
        if derived is not None and derived.routes:
            say(
                f"tier mix, fallback and error rates of {', '.join(derived.routes)} from "
                f"{derived.traces} trace(s) in trace store {derived.store!r} "
                f"(last {args.window}s); the gateway does not report them"
            )
        for line in note_lines(status):
            say(line)
        if firing:
            say("alerts:")
            for a in firing:
                say(f"  [{a.severity}] {a.summary}")
    return exit_codes.PROBLEM if firing else exit_codes.OK


def _fill_from_traces(env: Any, status: Any, window_s: int) -> tuple[Any, Any]:
    """Fill the status's gaps from the environment's traces; a store that is
    down costs a warning, never the status itself."""
    from oncall_tui.cli.common import adapters
    from oncall_tui.errors import OncallError
    from oncall_tui.sources.trace_window import fill_from_traces

    stores = adapters(env, "trace_stores")

    async def fill() -> tuple[Any, Any]:
        try:
            return await fill_from_traces(status, stores, window_s)
        finally:
            for store in stores.values():
                aclose = getattr(store, "aclose", None)
                if aclose is not None:
                    await aclose()

    try:
        return asyncio.run(fill())
    except OncallError as exc:
        print(f"warning: trace store: {exc}; gateway figures only", file=sys.stderr)
        return status, None


def _watch(args: argparse.Namespace) -> int:
    from oncall_tui.sources.capabilities import GatewayStream

    _, _, env = environment(args)
    _, gw = first_capable(env, "gateways", GatewayStream, "stream events", args.gateway)

    lost: list[str] = []  # the stream's own reports of what it could not reach
    reached = False

    async def tail() -> None:
        nonlocal reached
        seen = 0
        deadline = time.monotonic() + args.seconds if args.seconds else None
        stream = gw.events(args.since)
        try:
            while True:
                timeout = None if deadline is None else max(deadline - time.monotonic(), 0)
                try:
                    event = await asyncio.wait_for(anext(stream), timeout)
                except TimeoutError:
                    return
                if event.type == "reset" and event.detail and "lost" in event.detail:
                    lost.append(event.detail)
                else:
                    reached = True
                if event.type == "status" and not args.include_status:
                    continue
                if args.json:
                    # One compact document per line, so a script can read it line by line.
                    sys.stdout.write(json_bytes(event, indent=0).decode() + "\n")
                    sys.stdout.flush()
                else:
                    say(_event_line(event))
                seen += 1
                if args.count and seen >= args.count:
                    return
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
            if hasattr(gw, "aclose"):
                await gw.aclose()

    asyncio.run(tail())
    if lost and not reached:
        from oncall_tui.errors import UnreachableError

        raise UnreachableError(f"gateway never reached: {lost[-1]}")
    return exit_codes.OK


def _event_line(e: Any) -> str:
    at = e.gateway_time.strftime("%H:%M:%S")
    if e.type == "alert" and e.alert is not None:
        a = e.alert
        state = "resolved" if a.resolved_at else ("updated" if a.updated_at else "FIRING")
        return f"{at} #{e.seq} alert {state} [{a.severity}] {a.summary}"
    if e.type == "action" and e.action is not None:
        a = e.action
        return f"{at} #{e.seq} action {a.kind} {a.route} {a.state} by {a.actor}: {a.reason}"
    if e.type == "trace":
        return f"{at} #{e.seq} trace {e.route} {e.trace_id}"
    if e.type == "status" and e.status is not None:
        return f"{at} #{e.seq} status {len(e.status.routes)} routes"
    return f"{at} #{e.seq} {e.type} {e.detail or ''}".rstrip()
