"""Entry point of the ``oncall-tui`` command: builds the command tree and dispatches.

Each command group lives in its own module exposing ``register(subparsers)``;
adding a group is one line in ``COMMAND_MODULES``. Modules import their heavy
dependencies inside the handler so ``oncall-tui --version`` stays fast. Bare
``oncall-tui`` opens the TUI, the only path that imports textual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from oncall_tui import __version__
from oncall_tui.cli import exit_codes
from oncall_tui.cli.output import error
from oncall_tui.errors import OncallError

COMMAND_MODULES = (
    "oncall_tui.cli.config_cmd",
    "oncall_tui.cli.plugins_cmd",
    "oncall_tui.cli.trace_cmd",
    "oncall_tui.cli.runbook_cmd",
    "oncall_tui.cli.incident_cmd",
    "oncall_tui.cli.gateway_cmd",
    "oncall_tui.cli.sim_cmd",
    "oncall_tui.cli.demo_cmd",
    "oncall_tui.cli.actions_cmd",
    "oncall_tui.cli.audit_cmd",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 already; keep our one-line error format.
        self.print_usage(sys.stderr)
        error(message)
        raise SystemExit(exit_codes.USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="oncall-tui",
        description="The console for on-call engineers when an AI feature misbehaves.",
    )
    parser.add_argument("--version", action="version", version=f"oncall-tui {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $ONCALL_TUI_CONFIG or XDG path)"
    )
    parser.add_argument("--env", metavar="NAME", help="environment from the config")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="offer and run no actions, whatever the config says",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _open_tui(args: argparse.Namespace) -> int:
    try:
        tui = importlib.import_module("oncall_tui.tui.app")
    except ModuleNotFoundError:
        error("the console is not built yet in this version; try 'oncall-tui --help'")
        return exit_codes.USAGE
    result: int = tui.run(args)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    try:
        if handler is None:
            if args.command is None:
                return _open_tui(args)
            parser.parse_args([args.command, "--help"])
            return exit_codes.USAGE
        code: int = handler(args)
        return code
    except OncallError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # `oncall-tui ... | head` closed the pipe; not an error worth a traceback.
        return exit_codes.OK
    except Exception as exc:  # the one place every bug ends up
        # A script with --fail-on reads 1 as "finding found": a crash must
        # not look like one, nor like success.
        if os.environ.get("ONCALL_TUI_DEBUG"):
            traceback.print_exc()
        error(
            f"internal error: {type(exc).__name__}: {exc} (a bug in oncall-tui; "
            "ONCALL_TUI_DEBUG=1 prints the traceback)"
        )
        return exit_codes.INTERNAL


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
