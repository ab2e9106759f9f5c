"""``oncall-tui plugins list``: what adapters are installed, without importing them."""

from __future__ import annotations

import argparse
from typing import Any

from oncall_tui import plugins
from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json
from oncall_tui.cli.output import emit_json, say, table
from oncall_tui.errors import PluginError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plugins", help="list installed adapter plugins")
    cmds = parser.add_subparsers(dest="plugins_command", metavar="ACTION")
    lst = cmds.add_parser("list", help="list installed plugins")
    add_json(lst)
    lst.add_argument(
        "--load", action="store_true", help="import each plugin to show its roles and options"
    )
    lst.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    broken = 0
    for info in plugins.available().values():
        row: dict[str, Any] = {
            "name": info.name,
            "module": info.module,
            "distribution": info.distribution,
            "version": info.version,
            "builtin": info.module.startswith("oncall_tui."),
        }
        if args.load:
            try:
                plugin = plugins.load(info.name)
            except PluginError as exc:
                row["error"] = exc.message
                broken += 1
            else:
                row["summary"] = plugin.summary
                row["roles"] = list(plugin.roles)
                row["options"] = plugins.options_schema(plugin)
        rows.append(row)
    if args.json:
        emit_json({"plugins": rows})
    else:
        table(
            [
                [
                    r["name"],
                    "built-in" if r["builtin"] else f"{r['distribution']} {r['version']}",
                    r.get("error") or r.get("summary") or r["module"],
                ]
                for r in rows
            ],
            ["NAME", "FROM", "SUMMARY" if args.load else "MODULE"],
        )
    if broken:
        say(f"{broken} plugin(s) failed to load") if not args.json else None
    return exit_codes.OK
