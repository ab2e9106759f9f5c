"""``kill-switch``, ``rollback``, ``failover``, ``undo``: the action lifecycle, headless.

Without ``--yes`` a command only plans (exit 5): the dry run is the default.
Exit codes tell a script whether the action applied AND verified (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import add_json, load_config
from oncall_tui.cli.output import emit_json, say


def _common(p: argparse.ArgumentParser, *, route: bool = True) -> None:
    if route:
        p.add_argument("route", metavar="ROUTE", help="the route (AI feature) to act on")
        p.add_argument("--reason", required=True, help="why: goes to the audit log and the target")
        p.add_argument(
            "--id",
            dest="request_id",
            metavar="ID",
            help="user-visible id (e.g. the incident) the idempotency key is derived from; "
            "default: the reason",
        )
        p.add_argument("--via", metavar="ADAPTER", help="which configured adapter acts")
    p.add_argument("--env", dest="cmd_env", metavar="NAME", help="environment from the config")
    p.add_argument("--yes", action="store_true", help="execute; without it only the plan is shown")
    p.add_argument(
        "--read-only", dest="cmd_read_only", action="store_true", help="refuse to act (policy)"
    )
    p.add_argument(
        "--deadline", type=float, default=60.0, metavar="S", help="verification deadline (60)"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="re-run of an action that ended not verified: poll the read-back for the whole "
        "--deadline again (default: look once and say what to do)",
    )
    add_json(p)


def register(sub: Any) -> None:
    p = sub.add_parser("kill-switch", help="stop a route's AI path (plan; --yes to execute)")
    _common(p)
    p.add_argument("--off", action="store_true", help="turn the kill switch off (AI resumes)")
    p.set_defaults(func=_run, kind="kill_switch")

    p = sub.add_parser("rollback", help="roll a route back to a model version")
    _common(p)
    p.add_argument("--to", dest="to", required=True, metavar="VERSION")
    p.set_defaults(func=_run, kind="rollback")

    p = sub.add_parser("failover", help="force a route onto one tier of its chain")
    _common(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--to", dest="to", metavar="TIER", help="provider/model from the chain")
    group.add_argument("--clear", action="store_true", help="stop forcing a tier")
    p.set_defaults(func=_run, kind="failover")

    p = sub.add_parser("undo", help="run the recorded inverse of an applied action")
    p.add_argument("action_id", metavar="ACTION_ID")
    p.add_argument("--reason", help="why (default: 'undo: <the original reason>')")
    _common(p, route=False)
    p.set_defaults(func=_run, kind="undo")


def _spec(args: argparse.Namespace, env: str) -> Any:
    from oncall_tui.actions import ActionSpec

    base = {
        "route": args.route,
        "reason": args.reason,
        "env": env,
        "request_id": args.request_id,
        "via": args.via,
    }
    if args.kind == "kill_switch":
        return ActionSpec(kind="kill_switch", enabled=not args.off, **base)
    if args.kind == "rollback":
        return ActionSpec(kind="rollback", to_version=args.to, **base)
    return ActionSpec(kind="failover", to_tier=None if args.clear else args.to, **base)


def _exit_code(result: Any) -> int:
    if result.outcome in ("verified", "already_done") and result.verified:
        return exit_codes.OK
    return exit_codes.ACTION_FAILED


async def _act(args: argparse.Namespace) -> int:
    from oncall_tui.actions import Confirmation, open_executor
    from oncall_tui.actions.setup import audit_path

    cfg = load_config(args)
    executor = open_executor(
        cfg,
        args.cmd_env or args.env,
        cli_read_only=bool(args.read_only or args.cmd_read_only),
        verify_deadline_s=args.deadline,
    )
    async with executor:
        if args.kind == "undo":
            spec = executor.undo_spec(args.action_id, args.reason)
        else:
            spec = _spec(args, executor.env)
        plan = await executor.plan(spec)
        for warning in plan.warnings:
            # Loud, and on stderr so --json output stays a document.
            say(f"WARNING: {warning}", sys.stderr)
        result = None
        if plan.previous is not None or args.yes:
            result = await executor.execute(
                plan, confirm=Confirmation(assume_yes=True), wait=args.wait
            )
    log = str(audit_path(cfg))
    if args.json:
        emit_json(
            {
                "plan": msgspec.to_builtins(msgspec.structs.replace(plan, previous=None)),
                "executed": result is not None,
                "result": msgspec.to_builtins(result) if result is not None else None,
                "audit_log": log,
            }
        )
    else:
        for line in plan.describe():
            say(line)
        if result is None:
            say("")
            if plan.drift is not None:
                say(
                    f"{plan.spec.supersedes} no longer holds: re-run with --yes to apply it "
                    f"again as the new action {plan.action_id}."
                )
            else:
                say("planned only: nothing was changed. Re-run with --yes to execute.")
        else:
            _say_result(result, log)
    if result is None:
        return exit_codes.PLANNED_ONLY
    return _exit_code(result)


def _say_result(result: Any, log: str) -> None:
    say("")
    for stage in result.stages:
        detail = f"  {stage.detail}" if stage.detail else ""
        say(f"  {stage.at}  {stage.stage}{detail}")
    verdict = {
        "verified": "APPLIED and VERIFIED",
        "already_done": "ALREADY DONE earlier (nothing sent again)",
        "not_verified": "APPLIED but NOT VERIFIED by the deadline",
        "failed": "FAILED",
    }.get(result.outcome, result.outcome)
    say(f"{result.action_id}: {verdict}: {result.detail}")
    if result.hint:
        say(f"hint: {result.hint}")
    if result.undo is not None:
        say(f"undo with: oncall-tui undo {result.action_id} --yes")
    say(f"audit log: {log}")


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_act(args))
