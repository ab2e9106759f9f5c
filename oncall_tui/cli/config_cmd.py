"""``oncall-tui config validate|show|path``."""

from __future__ import annotations

import argparse
from pathlib import Path

from oncall_tui import config as config_mod
from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, config_path
from oncall_tui.cli.output import emit_json, say, say_block
from oncall_tui.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="check and show the configuration")
    cmds = parser.add_subparsers(dest="config_command", metavar="ACTION")

    validate = cmds.add_parser("validate", help="report every problem in the config file")
    add_json(validate)
    validate.add_argument("file", nargs="?", help="config file (default: the active one)")
    validate.set_defaults(func=_validate)

    show = cmds.add_parser("show", help="print the active config with secrets masked")
    add_json(show)
    show.set_defaults(func=_show)

    path = cmds.add_parser("path", help="print where the config is read from")
    path.set_defaults(func=_path)


def _path(args: argparse.Namespace) -> int:
    say(str(config_path(args)))
    return exit_codes.OK


def _validate(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else config_path(args)
    try:
        config, problems = config_mod.check(path)
    except ConfigError as exc:
        if args.json:
            emit_json(
                {
                    "file": str(path),
                    "valid": False,
                    "problems": [
                        {
                            "file": str(path),
                            "line": None,
                            "key": "",
                            "message": exc.message,
                            "suggestion": None,
                        }
                    ],
                }
            )
            return exit_codes.USAGE
        raise
    if args.json:
        emit_json(
            {
                "file": str(path),
                "valid": not problems,
                "problems": [p.to_dict() for p in problems],
                "environments": sorted(config.environments) if config else [],
            }
        )
    elif problems:
        for problem in problems:
            say(str(problem))
        say(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {path}")
    else:
        assert config is not None
        say(f"{path}: valid ({len(config.environments)} environments)")
    return exit_codes.USAGE if problems else exit_codes.OK


def _show(args: argparse.Namespace) -> int:
    path = config_path(args)
    config = config_mod.load(path)
    data = config_mod.masked(config)
    if args.json:
        emit_json({"file": str(path), "config": data})
    else:
        import yaml

        say(f"# {path}")
        say_block(yaml.safe_dump(data, sort_keys=False).rstrip())
    return exit_codes.OK
