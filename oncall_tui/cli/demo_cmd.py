"""``oncall-tui demo``: the whole product on one machine, nothing to set up.

Starts the simulator in the background on a free loopback port with
incidents under way, writes a temporary config pointing at it (the token
travels in an environment variable, as in production), and opens the
console on it. Without a terminal, or with ``--headless``, it prints the
gateway status and the commands to try instead. Everything lives in a temp
dir that is removed on exit, and the simulator stops with the command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json
from oncall_tui.cli.output import emit_json, say

DEFAULT_SCENARIOS = ("fallback-default", "tool-reentrancy", "hidden-reasoning")
TOKEN_ENV = "ONCALL_TUI_DEMO_TOKEN"  # noqa: S105 (a variable name, not a secret)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="try everything on a simulated AI fleet")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help=f"incidents to stage (default: {', '.join(DEFAULT_SCENARIOS)})",
    )
    p.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--headless", action="store_true", help="print status instead of opening the TUI"
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print a config for a simulator started with 'oncall-tui sim' and exit",
    )
    p.add_argument("--port", type=int, default=8700, help="that simulator's port (--print-config)")
    add_json(p)
    p.set_defaults(func=_demo)


def _tui_available() -> bool:
    try:
        importlib.import_module("oncall_tui.tui.app")
    except ModuleNotFoundError:
        return False
    return True


def _demo(args: argparse.Namespace) -> int:
    from oncall_tui.cli import gateway_cmd
    from oncall_tui.cli.sim_cmd import config_snippet, wall_clock_start
    from oncall_tui.sim.thread import SimThread

    if args.print_config:
        from oncall_tui.cli.sim_cmd import TOKEN_ENV as SIM_TOKEN_ENV

        sys.stdout.write(config_snippet(f"http://127.0.0.1:{args.port}", SIM_TOKEN_ENV))
        return exit_codes.OK
    scenarios = tuple(args.scenario) or DEFAULT_SCENARIOS
    from oncall_tui.sim.scenarios import SCENARIOS

    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        from oncall_tui.errors import UsageError

        raise UsageError(f"unknown scenario {unknown[0]!r}; see 'oncall-tui sim --list-scenarios'")
    with (
        tempfile.TemporaryDirectory(prefix="oncall-tui-demo-") as tmp,
        SimThread(
            scenarios=scenarios, seed=args.seed, speed=args.speed, start=wall_clock_start()
        ) as sim,
    ):
        cfg = Path(tmp) / "config.yaml"
        text = config_snippet(sim.url, TOKEN_ENV)
        text += f"audit_log: {Path(tmp) / 'audit.jsonl'}\n"
        cfg.write_text(text)
        os.environ[TOKEN_ENV] = sim.token
        args.config = str(cfg)
        args.env = "sim"
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if not args.headless and not args.json and interactive and _tui_available():
            tui = importlib.import_module("oncall_tui.tui.app")
            code: int = tui.run(args)
            return code
        args.window = 60
        args.gateway = None
        if args.json:
            import asyncio

            from oncall_tui.plugins import PluginContext
            from oncall_tui.sources.native import NativeGateway, Options

            async def fetch() -> tuple[object, object]:
                gw = NativeGateway(
                    Options(url=sim.url, token_env=TOKEN_ENV),
                    PluginContext(environ=dict(os.environ)),
                )
                try:
                    return await gw.status(60), await gw.alerts()
                finally:
                    await gw.aclose()

            status, alerts = asyncio.run(fetch())
            emit_json({"url": sim.url, "scenarios": scenarios, "status": status, "alerts": alerts})
            return exit_codes.OK
        say(f"simulated AI fleet on {sim.url} with: {', '.join(scenarios)}")
        say("")
        gateway_cmd._status(args)  # exit 1 when alerts fire; the demo itself went fine
        say("")
        say("The demo's simulator stops when this command ends. To keep one running:")
        say("  oncall-tui sim --scenario tool-reentrancy      # prints its URL and token file")
        say("  oncall-tui demo --print-config > sim.yaml       # config for that simulator")
        say("Then try:")
        for line in (
            "oncall-tui --config sim.yaml gateway status",
            "oncall-tui --config sim.yaml gateway watch --count 10",
            "oncall-tui --config sim.yaml   (the console)",
            "oncall-tui --config sim.yaml trace onset --since 1h   (after a mid-run scenario, "
            "e.g. sim --scenario tool-description-change --speed 30: since when, and why)",
            "oncall-tui sim --list-scenarios",
        ):
            say(f"  {line}")
    return exit_codes.OK
