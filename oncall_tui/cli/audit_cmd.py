"""``audit show``, ``audit verify``, ``audit repair``: read, check and mend the action audit log."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, config_path, load_config
from oncall_tui.cli.output import emit_json, say, table


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="show or verify the action audit log")
    cmds = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    show = cmds.add_parser("show", help="every record (or one action's)")
    show.add_argument("--action", metavar="ACTION_ID", help="only this action")
    show.add_argument("--file", metavar="PATH", help="audit log file (default: from the config)")
    add_json(show)
    show.set_defaults(func=_show)
    verify = cmds.add_parser("verify", help="check the hash chain; exit 1 on any problem")
    verify.add_argument("--file", metavar="PATH", help="audit log file (default: from the config)")
    add_json(verify)
    verify.set_defaults(func=_verify)
    repair = cmds.add_parser(
        "repair",
        help="move damaged lines (torn, junk, edited) into a side file and record the repair",
    )
    repair.add_argument("--file", metavar="PATH", help="audit log file (default: from the config)")
    add_json(repair)
    repair.set_defaults(func=_repair)


def _path(args: argparse.Namespace) -> Path:
    from oncall_tui.actions.setup import audit_path
    from oncall_tui.config import Config

    if args.file:
        return Path(args.file)
    # No config yet is fine: the log then lives at the default place.
    cfg = load_config(args) if config_path(args).exists() else Config()
    return audit_path(cfg)


def _show(args: argparse.Namespace) -> int:
    from oncall_tui.actions import AuditLog

    path = _path(args)
    log = AuditLog(path)
    records = log.for_action(args.action) if args.action else log.records()
    if args.json:
        emit_json({"path": str(path), "records": [msgspec.to_builtins(r) for r in records]})
        return exit_codes.OK
    if not records:
        say(f"no records in {path}")
        return exit_codes.OK
    rows = [
        [
            str(r.seq),
            r.ts[:19],
            r.action_id,
            r.stage,
            r.kind,
            r.route,
            r.env,
            r.actor,
            str(r.data.get("detail", ""))[:80],
        ]
        for r in records
    ]
    table(rows, ["seq", "time (UTC)", "action", "stage", "kind", "route", "env", "actor", "detail"])
    say("")
    finished = {"undo_ready": "done", "verified": "done", "failed": "failed"}
    for action_id, stage in log.last_stages().items():
        if args.action and action_id != args.action:
            continue
        state = finished.get(stage, "INTERRUPTED or unverified: re-run the same command")
        say(f"{action_id}: got as far as {stage!r} ({state})")
    return exit_codes.OK


def _verify(args: argparse.Namespace) -> int:
    from oncall_tui.actions import AuditLog

    report = AuditLog(_path(args)).verify()
    if args.json:
        emit_json(msgspec.to_builtins(report))
    elif report.ok:
        say(f"{report.path}: {report.records} records, chain intact")
    else:
        say(f"{report.path}: {len(report.problems)} problem(s) in {report.records} records")
        for problem in report.problems:
            say(f"  {problem.kind}: {problem.message}")
    return exit_codes.OK if report.ok else exit_codes.PROBLEM


def _repair(args: argparse.Namespace) -> int:
    from oncall_tui.actions import AuditLog
    from oncall_tui.actions.setup import default_actor
    from oncall_tui.config import Config

    log = AuditLog(_path(args))
    cfg = load_config(args) if not args.file and config_path(args).exists() else Config()
    result = log.repair(actor=default_actor(cfg))
    report = log.verify()
    if args.json:
        emit_json(
            {
                "path": str(log.path),
                "changed": result.changed,
                "removed": result.removed,
                "moved_to": result.sidecar,
                "truncated": result.truncated,
                "record": msgspec.to_builtins(result.record) if result.record else None,
                "ok": report.ok,
                "problems": [msgspec.to_builtins(p) for p in report.problems],
            }
        )
    elif not result.changed:
        say(f"{log.path}: nothing to repair; nothing changed")
    else:
        for item in result.removed:
            say(f"  removed line {item['line']} ({item['kind']}, {item['bytes']} bytes)")
        if result.sidecar:
            say(f"{log.path}: {len(result.removed)} line(s) moved to {result.sidecar}")
        if result.truncated:
            say(f"{log.path}: its end was lost ({result.truncated}); recorded")
        if result.record is not None:
            say(f"{log.path}: repair recorded as seq {result.record.seq} ({result.record.stage})")
    if not report.ok:
        say(f"{log.path}: other problems remain; see 'oncall-tui audit verify'")
    return exit_codes.OK if report.ok else exit_codes.PROBLEM
