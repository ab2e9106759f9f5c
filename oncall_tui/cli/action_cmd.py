"""``oncall-tui kill-switch|rollback|failover|undo`` and ``audit show|verify``.

Without ``--yes`` an action is only planned (exit 5). Exit 0 means applied
AND verified; 4 means refused, failed, or applied but not verified.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from pathlib import Path
from typing import Any

from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import adapters, add_json, environment
from oncall_tui.cli.output import emit_json, say, table
from oncall_tui.errors import ReadOnlyError, UnsupportedError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("route", help="the AI route (feature)")
        p.add_argument("--reason", required=True, help="why; sent to the target and audited")
        p.add_argument(
            "--yes", action="store_true", help="execute; without it the action is only planned"
        )
        p.add_argument("--gateway", help="gateway name from the config (default: first)")
        p.add_argument(
            "--idempotency-key", help="default: derived from the action and today's date"
        )
        p.add_argument("--verify-timeout", type=float, default=60.0, help="seconds (default 60)")
        add_json(p)

    ks = sub.add_parser("kill-switch", help="turn a route's AI off (or back on with --off)")
    common(ks)
    ks.add_argument("--off", action="store_true", help="turn the kill switch off: AI serves again")
    ks.set_defaults(func=_act, kind="kill_switch")
    rb = sub.add_parser("rollback", help="roll a route back to an earlier config version")
    common(rb)
    rb.add_argument("--to", required=True, dest="to_version", metavar="VERSION")
    rb.set_defaults(func=_act, kind="rollback")
    fo = sub.add_parser("failover", help="force a route onto a tier of its chain (or --restore)")
    common(fo)
    fo.add_argument("--to", dest="to_tier", metavar="TIER", help="provider/model from the chain")
    fo.add_argument("--restore", action="store_true", help="back to the configured primary")
    fo.set_defaults(func=_act, kind="failover")

    un = sub.add_parser("undo", help="run the recorded inverse of an action")
    un.add_argument("action_id")
    un.add_argument("--yes", action="store_true")
    un.add_argument("--gateway")
    un.add_argument("--verify-timeout", type=float, default=60.0)
    add_json(un)
    un.set_defaults(func=_undo)

    au = sub.add_parser("audit", help="the action audit log")
    acts = au.add_subparsers(dest="audit_command", metavar="ACTION")
    show = acts.add_parser("show", help="records, newest last")
    show.add_argument("--action", help="only this action id")
    show.add_argument("--limit", type=int, default=50)
    add_json(show)
    show.set_defaults(func=_audit_show)
    ver = acts.add_parser("verify", help="check the hash chain; exit 1 on any problem")
    add_json(ver)
    ver.set_defaults(func=_audit_verify)


def _actor() -> str:
    return os.environ.get("ONCALL_TUI_ACTOR") or getpass.getuser()


def audit_path(args: argparse.Namespace) -> Path:
    from oncall_tui.cli.common import load_config
    from oncall_tui.config import state_dir

    try:
        cfg = load_config(args)
    except Exception:  # audit commands work without a config
        cfg = None
    if cfg is not None and cfg.audit_log:
        return Path(cfg.audit_log).expanduser()
    return state_dir() / "audit.jsonl"


def _executor(args: argparse.Namespace) -> Any:
    from oncall_tui.actions.audit import AuditLog
    from oncall_tui.actions.executor import Executor
    from oncall_tui.actions.targets import GatewayTarget

    cfg, env_name, env = environment(args)
    if cfg.is_read_only(env, getattr(args, "read_only", False)):
        raise ReadOnlyError(f"environment {env_name} is read-only: no actions are offered")
    built = adapters(env, "gateways")
    for name, adapter in built.items():
        if args.gateway and name != args.gateway:
            continue
        target = GatewayTarget(adapter, f"gateway {name}")
        audit = AuditLog(Path(cfg.audit_log).expanduser() if cfg.audit_log else audit_path(args))
        return Executor(
            target, audit, verify_deadline_s=args.verify_timeout, key_scope=env_name
        ), adapter
    raise UnsupportedError(f"environment {env_name} names no gateway to act on")


def _act(args: argparse.Namespace) -> int:
    from oncall_tui.actions.models import ActionSpec

    kind = args.kind
    if kind == "failover" and args.restore:
        kind = "restore"
    spec = ActionSpec(
        kind=kind,
        route=args.route,
        reason=args.reason,
        actor=_actor(),
        idempotency_key=args.idempotency_key or "",
        enabled=(not args.off) if kind == "kill_switch" else None,
        to_version=getattr(args, "to_version", None),
        to_tier=getattr(args, "to_tier", None),
    )
    return _run(args, spec)


def _run(args: argparse.Namespace, spec: Any) -> int:
    executor, adapter = _executor(args)

    async def go() -> tuple[Any, Any]:
        try:
            if spec.kind == "restore" and spec.to_tier is None:
                plan = await executor.prepare(spec)
                spec2 = type(spec)(**{**_fields(plan.spec), "to_tier": plan.prior.get("primary")})
                plan = await executor.prepare(spec2)
            else:
                plan = await executor.prepare(spec)
            if not args.yes:
                return plan, None
            return plan, await executor.execute(plan, confirm=plan.confirm_phrase)
        finally:
            if hasattr(adapter, "aclose"):
                await adapter.aclose()

    plan, result = asyncio.run(go())
    if result is None:
        if args.json:
            emit_json({"planned": plan, "executed": False})
        else:
            say("PLAN (nothing changed; add --yes to execute)")
            say(plan.render())
        return exit_codes.PLANNED_ONLY
    if args.json:
        emit_json({"planned": plan, "executed": True, "result": result})
    else:
        say(plan.render())
        say(f"{result.outcome.upper()}: {result.detail}")
        say(f"action {result.action_id}  key {result.idempotency_key}")
        if result.resumed:
            say("(this key was used before: finished or reported that run; nothing applied twice)")
        if result.undo:
            say(f"undo: oncall-tui undo {result.action_id} --yes   ({result.undo})")
    return exit_codes.OK if result.outcome == "verified" else exit_codes.ACTION_FAILED


def _fields(spec: Any) -> dict[str, Any]:
    return {f: getattr(spec, f) for f in spec.__struct_fields__}


def _undo(args: argparse.Namespace) -> int:
    from oncall_tui.actions.executor import undo_spec_for

    executor, _ = _executor(args)
    spec = undo_spec_for(executor.audit, args.action_id)
    return _run(args, spec)


def _audit_show(args: argparse.Namespace) -> int:
    from oncall_tui.actions.audit import AuditLog

    log = AuditLog(audit_path(args))
    records = list(log.records())
    if args.action:
        records = [r for r in records if r.action_id == args.action]
    records = records[-args.limit :]
    if args.json:
        emit_json({"path": str(log.path), "records": records})
    else:
        say(f"audit log {log.path}")
        table(
            [[str(r.seq), r.at, r.action_id, r.stage, _summary(r)] for r in records],
            ["SEQ", "AT", "ACTION", "STAGE", "DETAIL"],
        )
    return exit_codes.OK


def _summary(r: Any) -> str:
    d = r.data
    if r.stage == "planned":
        spec = d.get("spec", {})
        return (
            f"{spec.get('kind')} {spec.get('route')} by {spec.get('actor')}: {spec.get('reason')}"
        )
    for key in ("detail", "error", "why"):
        if key in d:
            return str(d[key])
    return ""


def _audit_verify(args: argparse.Namespace) -> int:
    from oncall_tui.actions.audit import AuditLog

    log = AuditLog(audit_path(args))
    problems = log.verify()
    count = sum(1 for _ in log.records())
    if args.json:
        emit_json(
            {"path": str(log.path), "records": count, "ok": not problems, "problems": problems}
        )
    elif problems:
        for p in problems:
            say(f"{log.path}:{p.line}: {p.kind}: {p.detail}")
    else:
        say(f"{log.path}: {count} records, chain intact")
    return exit_codes.PROBLEM if problems else exit_codes.OK
