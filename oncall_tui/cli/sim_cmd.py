"""``oncall-tui sim``: run the embedded AI fleet simulator in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import signal
from datetime import UTC, datetime, timedelta

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json
from oncall_tui.cli.output import emit_json, say, table

TOKEN_ENV = "ONCALL_TUI_SIM_TOKEN"  # noqa: S105 (a variable name, not a secret)
READ_TOKEN_ENV = "ONCALL_TUI_SIM_READ_TOKEN"  # noqa: S105 (optional read-only token)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sim", help="run the simulated AI fleet on loopback")
    p.add_argument("--port", type=int, default=8700, help="loopback port (0: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1 or ::1)")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="start with this incident under way (repeatable)",
    )
    p.add_argument(
        "--speed", type=float, default=10.0, help="simulated seconds per real second (default 10)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--list-scenarios", action="store_true", help="list scenarios and exit")
    p.add_argument(
        "--print-schema",
        action="store_true",
        help="print the protocol's JSON Schema (docs/protocol.schema.json) and exit",
    )
    add_json(p)
    p.set_defaults(func=_run)


def config_snippet(url: str, token_env: str) -> str:
    return (
        "default_environment: sim\n"
        "environments:\n"
        "  sim:\n"
        "    description: the embedded simulator\n"
        "    gateways:\n"
        "      sim:\n"
        "        plugin: native\n"
        f"        url: {url}\n"
        f"        token_env: {token_env}\n"
        "    trace_stores:\n"
        "      sim:\n"
        "        plugin: native\n"
        f"        url: {url}\n"
        f"        token_env: {token_env}\n"
    )


def wall_clock_start(warmup_s: float = 120.0) -> datetime:
    """Simulated time zero for a person's simulator: now, minus the warm-up, so
    its clock reads about the wall clock when it opens (and stores searched
    with a look-back from "now" find its traces). Tests use the fixed default."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=warmup_s)


def schema_text() -> str:
    """docs/protocol.schema.json, byte for byte (a test keeps the file in step)."""
    import msgspec

    from oncall_tui.core.gateway import schema

    return msgspec.json.format(msgspec.json.encode(schema()), indent=2).decode() + "\n"


def _run(args: argparse.Namespace) -> int:
    from oncall_tui.sim.scenarios import SCENARIOS

    if args.print_schema:
        import sys

        sys.stdout.write(schema_text())
        return exit_codes.OK

    if args.list_scenarios:
        rows = [
            {"name": s.name, "route": s.route, "summary": s.summary, "runbook": s.runbook}
            for s in SCENARIOS.values()
        ]
        if args.json:
            emit_json({"scenarios": rows})
        else:
            table(
                [[r["name"], r["route"], r["summary"]] for r in rows], ["SCENARIO", "ROUTE", "WHAT"]
            )
        return exit_codes.OK
    unknown = [s for s in args.scenario if s not in SCENARIOS]
    if unknown:
        from oncall_tui.errors import UsageError

        raise UsageError(f"unknown scenario {unknown[0]!r}; see 'oncall-tui sim --list-scenarios'")
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from oncall_tui.errors import UsageError
    from oncall_tui.sim.server import require_loopback

    try:
        require_loopback(args.host)
    except ValueError as exc:
        raise UsageError(str(exc), hint="use 127.0.0.1 or ::1") from None
    try:
        return await _serve_on(args)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {os.strerror(exc.errno)}",
            hint="pick another --port, or --port 0 for any free one",
        ) from None


async def _serve_on(args: argparse.Namespace) -> int:
    from oncall_tui.sim.server import running_sim

    token = os.environ.get(TOKEN_ENV)
    token_file = None
    if token is None:
        # Never print a secret: hand it over in a file only this user can read.
        import secrets

        from oncall_tui.config import state_dir

        token = secrets.token_urlsafe(18)
        token_file = state_dir() / "sim-token"
        token_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
    async with running_sim(
        scenarios=tuple(args.scenario),
        seed=args.seed,
        speed=args.speed,
        host=args.host,
        port=args.port,
        token=token,
        read_token=os.environ.get(READ_TOKEN_ENV) or None,
        start=wall_clock_start(),
    ) as sim:
        if args.json:
            emit_json(
                {
                    "url": sim.url,
                    "token_env": TOKEN_ENV,
                    "token_set": token is not None,
                    "scenarios": args.scenario,
                    "speed": args.speed,
                }
            )
        else:
            say(f"simulator listening on {sim.url} (speed x{args.speed:g})")
            if token_file is None:
                say(f"admin token: the value of ${TOKEN_ENV} (set before starting)")
            else:
                say(f"admin token written to {token_file} (mode 600); in another shell:")
                say(f"  export {TOKEN_ENV}=$(cat {token_file})")
            if os.environ.get(READ_TOKEN_ENV):
                say(f"read-only token: the value of ${READ_TOKEN_ENV}")
            say(
                "config (save as ~/.config/oncall-tui/config.yaml, or point "
                "ONCALL_TUI_CONFIG at it):"
            )
            for line in config_snippet(sim.url, TOKEN_ENV).splitlines():
                say("  " + line)
            say("Ctrl-C stops it.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    return exit_codes.OK
