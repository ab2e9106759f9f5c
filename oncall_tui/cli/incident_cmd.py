"""``oncall-tui incident list|show|export``: incident sessions and postmortem drafts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from oncall_tui import config as config_mod
from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, load_config
from oncall_tui.cli.output import emit_json, say, table
from oncall_tui.errors import ConfigError
from oncall_tui.redact import Redactor

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: Sub) -> None:
    parser = sub.add_parser("incident", help="incident sessions and postmortem drafts")
    cmds = parser.add_subparsers(dest="incident_command", metavar="ACTION")

    lst = cmds.add_parser("list", help="recorded incident sessions, newest last")
    add_json(lst)
    lst.set_defaults(func=_list)

    show = cmds.add_parser("show", help="one incident's timeline")
    show.add_argument("id", help="incident id (a unique prefix is enough)")
    add_json(show)
    show.set_defaults(func=_show)

    export = cmds.add_parser("export", help="a postmortem draft from the timeline")
    export.add_argument("id", help="incident id (a unique prefix is enough)")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(func=_export)


def _dir() -> Path:
    from oncall_tui.cli.runbook_cmd import incidents_dir

    return incidents_dir()


def _redactor(args: argparse.Namespace) -> Redactor:
    """The config's secrets if the config loads; URL userinfo is masked regardless.
    Reading an incident needs no config, so a broken one is not an error here."""
    try:
        return config_mod.redactor(load_config(args))
    except ConfigError:
        return Redactor()


def _list(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.export import report
    from oncall_tui.runbook.session import list_sessions

    reports = [report(s) for s in list_sessions(_dir(), _redactor(args))]
    if args.json:
        emit_json(
            {
                "incidents": [
                    {
                        "id": r["incident"],
                        "runbook": r["runbook"]["id"],
                        "title": r["runbook"]["title"],
                        "environment": r["environment"],
                        "opened_at": r["opened_at"],
                        "status": r["status"],
                        "diagnoses": r["diagnoses"],
                        "time_to_mitigate_s": r["time_to_mitigate_s"],
                    }
                    for r in reports
                ]
            }
        )
        return exit_codes.OK
    if not reports:
        say(f"no incidents recorded in {_dir()}")
        return exit_codes.OK
    table(
        [
            [r["incident"], r["runbook"]["id"], r["status"], ", ".join(r["diagnoses"]) or "-",
             r["opened_at"][:19]]
            for r in reports
        ],
        ["ID", "RUNBOOK", "STATUS", "DIAGNOSIS", "OPENED (UTC)"],
    )  # fmt: skip
    return exit_codes.OK


def _show(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.export import report
    from oncall_tui.runbook.session import Session, find

    r = report(Session.open(find(_dir(), args.id), _redactor(args)))
    if args.json:
        emit_json(r)
        return exit_codes.OK
    say(f"{r['incident']}: {r['runbook']['title']} [{r['status']}]")
    for line in r["timeline"]:
        if line["type"] in ("advanced", "step_started"):
            continue
        say(f"{line['at'][11:19]}  {line['what']}")
    return exit_codes.OK


def _export(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.export import to_json, to_markdown
    from oncall_tui.runbook.session import Session, find

    session = Session.open(find(_dir(), args.id), _redactor(args))
    text = to_markdown(session) if args.format == "md" else to_json(session).decode() + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return exit_codes.OK
