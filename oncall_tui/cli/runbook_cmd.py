"""``oncall-tui runbook list|show|lint|suggest|run`` (docs/cli.md, docs/runbooks.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import socket
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import yaml

from oncall_tui import config as config_mod
from oncall_tui.cli import exit_codes
from oncall_tui.cli.common import adapters, add_json, config_path, load_config
from oncall_tui.cli.output import emit_json, say, say_block, table
from oncall_tui.config import Config
from oncall_tui.errors import DataError, UsageError

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: Sub) -> None:
    parser = sub.add_parser("runbook", help="list, check, suggest and run runbooks")
    cmds = parser.add_subparsers(dest="runbook_command", metavar="ACTION")

    lst = cmds.add_parser("list", help="every runbook the console knows")
    add_json(lst)
    lst.set_defaults(func=_list)

    show = cmds.add_parser("show", help="one runbook, step by step")
    show.add_argument("id")
    add_json(show)
    show.set_defaults(func=_show)

    lint = cmds.add_parser("lint", aliases=["validate"], help="check runbook files; every problem")
    lint.add_argument("files", nargs="*", help="files (default: every runbook the console knows)")
    add_json(lint)
    lint.set_defaults(func=_lint)

    suggest = cmds.add_parser("suggest", help="runbooks matching current alerts and findings")
    suggest.add_argument("--alert", action="append", default=[], metavar="KIND")
    suggest.add_argument("--finding", action="append", default=[], metavar="KIND")
    suggest.add_argument(
        "--trace", action="append", default=[], metavar="FILE", help="analyse a trace file"
    )
    suggest.add_argument(
        "--live",
        action="store_true",
        help="read the environment's gateways for alert kinds (the default when no "
        "--alert, --finding or --trace is given)",
    )
    suggest.add_argument("--env", default=argparse.SUPPRESS, help="environment from the config")
    add_json(suggest)
    suggest.set_defaults(func=_suggest)

    run = cmds.add_parser("run", help="run a runbook headless (answers from a file)")
    run.add_argument("id", nargs="?", help="runbook id (omit with --resume)")
    run.add_argument("--env", default=argparse.SUPPRESS, help="environment from the config")
    run.add_argument("--answers", metavar="FILE", help="YAML/JSON: inputs and step answers")
    run.add_argument(
        "--answer", action="append", default=[], metavar="KEY=VALUE", help="one input or answer"
    )
    run.add_argument("--yes", action="store_true", help="execute actions (else only plan them)")
    run.add_argument("--resume", metavar="INCIDENT", help="continue an incident session")
    add_json(run)
    run.set_defaults(func=_run)


# ------------------------------------------------------------------ helpers


def _config_or_none(args: argparse.Namespace) -> Config | None:
    """The config if there is one: list/show/lint work without any."""
    if not config_path(args).exists():
        return None
    return load_config(args)


def _extra_paths(cfg: Config | None) -> list[Path]:
    return [Path(p) for p in cfg.runbook_paths] if cfg else []


def _library(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    from oncall_tui.runbook.library import load_all

    return load_all(_extra_paths(_config_or_none(args)))


def incidents_dir() -> Path:
    from oncall_tui.runbook.session import incidents_dir as under

    return under(config_mod.state_dir())


def _actor(cfg: Config) -> str:
    if cfg.actor:
        return cfg.actor
    try:
        user = getpass.getuser()
    except OSError:  # no login name in some containers
        user = os.environ.get("USER", "unknown")
    return f"{user}@{socket.gethostname()}"


def _read_answers(args: argparse.Namespace) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if args.answers:
        path = Path(args.answers)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise DataError(f"{where}: not valid YAML or JSON") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a mapping of input names and step ids to answers")
        answers.update({str(k): v for k, v in data.items()})
    for item in args.answer:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--answer takes KEY=VALUE, got {item!r}")
        answers[key] = value
    return answers


# ------------------------------------------------------------------ commands


def _list(args: argparse.Namespace) -> int:
    runbooks, problems = _library(args)
    rows = [
        {
            "id": rb.id,
            "title": rb.title,
            "summary": rb.summary,
            "severity": rb.severity,
            "steps": len(rb.steps),
            "match": msgspec.to_builtins(rb.match),
            "source": rb.source,
        }
        for rb in sorted(runbooks.values(), key=lambda r: r.id)
    ]
    if args.json:
        emit_json({"runbooks": rows, "problems": [p.to_dict() for p in problems]})
    else:
        table([[r["id"], r["severity"], str(r["steps"]), r["summary"]] for r in rows],
              ["ID", "SEVERITY", "STEPS", "SUMMARY"])  # fmt: skip
        for problem in problems:
            say(f"invalid: {problem}")
    return exit_codes.USAGE if problems else exit_codes.OK


def _show(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.format import ActionStep, CheckStep, DecisionStep, ManualStep
    from oncall_tui.runbook.library import get

    runbooks, _ = _library(args)
    rb = get(runbooks, args.id)
    if args.json:
        emit_json({"runbook": msgspec.to_builtins(rb)})
        return exit_codes.OK
    say(f"{rb.id}: {rb.title}")
    say_block(rb.summary)
    if rb.match.symptoms:
        say("symptoms: " + "; ".join(rb.match.symptoms))
    if rb.lookalikes:
        say("look-alikes: " + ", ".join(rb.lookalikes))
    if rb.inputs:
        say("inputs: " + ", ".join(
            f"{n} ({i.type}{', optional' if not i.required or i.default is not None else ''})"
            for n, i in rb.inputs.items()
        ))  # fmt: skip
    for number, step in enumerate(rb.steps, 1):
        kind = type(step).__struct_config__.tag
        danger = " [DANGEROUS]" if isinstance(step, ActionStep) and step.dangerous else ""
        say()
        say(f"{number:2}. [{kind}] {step.id}: {step.title}{danger}")
        if step.guidance:
            say("    " + " ".join(step.guidance.split()))
        if isinstance(step, ManualStep):
            for item in step.checklist:
                say(f"    - [ ] {item}")
        if isinstance(step, CheckStep):
            say(f"    query: {step.query.source}; pass: {step.passes}")
        if isinstance(step, DecisionStep):
            if step.question:
                say(f"    asks: {step.question}")
            for branch in step.branches:
                say(f"    if {branch.when} -> {branch.goto}")
            say(f"    otherwise -> {step.otherwise or 'next step'}")
        if isinstance(step, ActionStep):
            say(f"    {step.action} on {step.route}")
        if step.diagnosis:
            say(f"    diagnosis: {step.diagnosis}")
    if rb.postmortem:
        say()
        say("postmortem questions:")
        for q in rb.postmortem:
            say(f"  - {q}")
    return exit_codes.OK


def _lint(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.format import check_file
    from oncall_tui.runbook.library import files

    paths = (
        [Path(f) for f in args.files] if args.files else files(_extra_paths(_config_or_none(args)))
    )
    results = []
    for path in paths:
        checked = check_file(path)
        results.append((path, checked))
    problems = [p for _, c in results for p in c.problems]
    if args.json:
        emit_json(
            {
                "valid": not problems,
                "files": [
                    {
                        "file": str(path),
                        "id": c.runbook.id if c.runbook else None,
                        "valid": c.runbook is not None,
                        "problems": [p.to_dict() for p in c.problems],
                    }
                    for path, c in results
                ],
            }
        )
    else:
        for problem in problems:
            say(str(problem))
        bad = sum(1 for _, c in results if c.runbook is None)
        say(
            f"{len(results) - bad} of {len(results)} runbook file"
            f"{'s' if len(results) != 1 else ''} valid"
            + (f"; {len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "")
        )
    return exit_codes.USAGE if problems else exit_codes.OK


def _suggest(args: argparse.Namespace) -> int:
    from oncall_tui.runbook.library import suggest

    runbooks, _ = _library(args)
    alerts: set[str] = set(args.alert)
    findings: set[str] = set(args.finding)
    for path in args.trace:
        from oncall_tui.cli.trace_cmd import load_traces
        from oncall_tui.core.analysis import analyze

        for trace in load_traces(path, None):
            findings.update(f.kind for f in analyze(trace).findings)
    # Asked with nothing to go on, the responder means "what fires now".
    if args.live or not (args.alert or args.finding or args.trace):
        alerts.update(asyncio.run(_live_alerts(args)))
    found = suggest(runbooks.values(), alerts=alerts, findings=findings)
    if args.json:
        emit_json(
            {
                "alerts": sorted(alerts),
                "findings": sorted(findings),
                "suggestions": [
                    {"id": s.runbook.id, "title": s.runbook.title, "score": s.score,
                     "reasons": list(s.reasons)}
                    for s in found
                ],
            }
        )  # fmt: skip
    else:
        if not found:
            say(
                f"no runbook matches (alerts: {', '.join(sorted(alerts)) or 'none'}; "
                f"findings: {', '.join(sorted(findings)) or 'none'})"
            )
        for s in found:
            say(f"{s.runbook.id}  ({', '.join(s.reasons)})  {s.runbook.summary}")
    return exit_codes.OK


async def _live_alerts(args: argparse.Namespace) -> set[str]:
    """Alert kinds now: the gateway's own alerts where it has them, else
    kinds implied by its status figures (runbook/signals.py)."""
    from oncall_tui.runbook.signals import implied_alerts
    from oncall_tui.sources.capabilities import GatewayAlerts, GatewayStatus

    cfg = load_config(args)
    _, env = cfg.environment(getattr(args, "env", None))
    kinds: set[str] = set()
    for adapter in adapters(env, "gateways").values():
        if isinstance(adapter, GatewayAlerts):
            kinds.update(a.kind for a in await adapter.alerts() if a.resolved_at is None)
        elif isinstance(adapter, GatewayStatus):
            routes = {r.name: r for r in (await adapter.routes()).routes}
            for rs in (await adapter.status()).routes:
                kinds.update(implied_alerts(rs, routes.get(rs.route)))
        close = getattr(adapter, "aclose", None)
        if close is not None:
            await close()
    return kinds


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_run_async(args))


async def _run_async(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        return await _run_held(args, stack)


async def _run_held(args: argparse.Namespace, stack: contextlib.ExitStack[bool | None]) -> int:
    from oncall_tui.runbook.acting import LifecycleActions
    from oncall_tui.runbook.engine import Engine, resolve_inputs
    from oncall_tui.runbook.headless import drive, split_answers
    from oncall_tui.runbook.library import get
    from oncall_tui.runbook.queries import Sources
    from oncall_tui.runbook.session import Event, Session, find, hold, new_id, utcnow

    cfg = load_config(args)
    answers = _read_answers(args)
    if args.resume:
        path = find(incidents_dir(), args.resume)
        stack.enter_context(hold(path))
        session = Session.open(path, config_mod.redactor(cfg))
        env_name = session.environment
        if getattr(args, "env", None) and args.env != env_name:
            raise UsageError(
                f"incident {session.id} ran in environment {env_name!r}, not {args.env!r}"
            )
    elif args.id:
        runbooks, _ = _library(args)
        rb = get(runbooks, args.id)
        env_name, _ = cfg.environment(getattr(args, "env", None))
        inputs, _steps = split_answers(rb, answers)
        incident_id = new_id(utcnow())
        stack.enter_context(hold(incidents_dir() / f"{incident_id}.jsonl"))
        session = Session.create(
            incidents_dir(),
            rb,
            resolve_inputs(rb, inputs),
            environment=env_name,
            incident_id=incident_id,
            redactor=config_mod.redactor(cfg),
        )
    else:
        raise UsageError("name a runbook to run, or --resume INCIDENT")
    env_name, env = cfg.environment(env_name)
    sources = Sources(
        gateways=adapters(env, "gateways"), trace_stores=adapters(env, "trace_stores")
    )
    read_only = cfg.is_read_only(env, getattr(args, "read_only", False))
    executor = None
    if not read_only:
        from oncall_tui.actions import open_executor

        # The audited lifecycle: every stage in the audit log, verified by read-back.
        executor = open_executor(cfg, env_name, cli_read_only=False)
    engine = Engine(
        session,
        sources=sources,
        actions=LifecycleActions(executor) if executor is not None else None,
        read_only=read_only,
        actor=executor.actor if executor is not None else _actor(cfg),
    )
    _, step_answers = split_answers(engine.runbook, answers)

    def show(event: Event) -> None:
        if args.json or event.type in ("advanced", "step_started", "opened"):
            return
        from oncall_tui.runbook.export import describe_event

        titles = {s.id: engine.text(s.title) for s in engine.runbook.steps}
        say(f"{event.at[11:19]}  {describe_event(event, titles)}")

    if not args.json:
        say(f"incident {session.id}: {engine.text(engine.runbook.title)}")
        if session.torn:
            say(f"note: {session.torn}")
        interrupted = engine.interrupted_action()
        if interrupted:
            say(
                f"note: action {interrupted} started before a crash and recorded no result; "
                "confirming it again reuses its idempotency key (applied at most once)"
            )
    try:
        result = await drive(engine, step_answers, yes=args.yes, on_event=show)
    finally:
        acting = list(executor.adapters.values()) if executor is not None else []
        for adapter in [*sources.gateways.values(), *sources.trace_stores.values(), *acting]:
            close = getattr(adapter, "aclose", None)
            if close is not None:
                await close()
    code = exit_codes.OK
    if result.status == "planned":
        code = exit_codes.PLANNED_ONLY
    elif result.status == "needs_answer":
        code = exit_codes.USAGE
    elif result.action_failed:
        code = exit_codes.ACTION_FAILED
    if args.json:
        emit_json({**msgspec.to_builtins(result), "exit_code": code})
    else:
        if result.status == "needs_answer" and result.waiting:
            step = result.waiting["step"]
            say(f"step {step} needs an answer: {result.waiting.get('prompt', '')}")
            say(f"  answer with: --resume {session.id} --answer {step}=VALUE")
        if result.status == "planned":
            say(f"planned only (no --yes): {result.plan}")
            for line in (result.diff or "").splitlines():
                say(f"  {line}")
            say(f"  execute with: --resume {session.id} --yes")
        say(f"diagnosis: {', '.join(result.diagnoses) or 'none reached'}; status: {result.status}")
    return code
