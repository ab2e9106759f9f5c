"""The runbook engine: one state machine the TUI and the headless CLI drive alike.

The engine holds no state of its own that the session's timeline does not:
it is rebuilt by replaying the events, which is how a killed session resumes
where it was. Steps that need a person (``manual``, a ``decision`` with a
question, every ``action``) make ``run()`` return a ``Wait`` saying what is
needed; the caller answers with ``mark_done``/``skip``/``answer``/``confirm``
and calls ``run()`` again. Checks, notes and question-less decisions run by
themselves. Every outcome is written to the timeline before the engine moves on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from oncall_tui.errors import ActionError, OncallError, UsageError
from oncall_tui.runbook import expr
from oncall_tui.runbook.acting import ActionResult, ActionRunner, ActionSpec
from oncall_tui.runbook.format import (
    CHECK_PLACEHOLDER,
    END,
    PLACEHOLDER,
    ActionStep,
    CheckStep,
    DecisionStep,
    Input,
    ManualStep,
    NoteStep,
    Runbook,
    Step,
    fill,
)
from oncall_tui.runbook.queries import Sources, evidence, run_query
from oncall_tui.runbook.session import Session

WaitKind = Literal["mark", "answer", "confirm"]


class Wait(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the current step needs from the responder."""

    kind: WaitKind  # mark: done or skip; answer: reply to a question; confirm: run an action
    step: str
    title: str
    prompt: str = ""
    choices: tuple[str, ...] = ()
    dangerous: bool = False
    plan: str | None = None  # for actions: what would change, in words


class CheckResult(msgspec.Struct, frozen=True, omit_defaults=True):
    status: Literal["pass", "fail", "error"]
    values: dict[str, Any] = {}  # the check's ``let`` values
    error: str | None = None
    attempts: int = 1

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def as_data(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "values": self.values,
            "error": self.error,
        }


def _convert(name: str, spec: Input, raw: Any) -> Any:
    if spec.type in ("int", "float") and isinstance(raw, str):
        try:
            value: Any = int(raw) if spec.type == "int" else float(raw)
        except ValueError:
            raise UsageError(f"input {name!r} must be {spec.type}, got {raw!r}") from None
    elif spec.type == "bool" and isinstance(raw, str):
        if raw.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise UsageError(f"input {name!r} must be true or false, got {raw!r}")
        value = raw.lower() in ("true", "yes", "1")
    else:
        value = raw if spec.type in ("int", "float", "bool") else str(raw)
    if spec.choices and str(value) not in spec.choices:
        raise UsageError(f"input {name!r} must be one of {', '.join(spec.choices)}, got {raw!r}")
    return value


def resolve_inputs(runbook: Runbook, given: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs: typed, defaults applied; every missing one named at once."""
    unknown = sorted(set(given) - set(runbook.inputs))
    if unknown:
        raise UsageError(
            f"runbook {runbook.id} has no input {', '.join(unknown)}",
            hint=f"inputs: {', '.join(runbook.inputs) or 'none'}",
        )
    out: dict[str, Any] = {}
    missing = []
    for name, spec in runbook.inputs.items():
        if name in given:
            out[name] = _convert(name, spec, given[name])
        elif spec.default is not None:
            out[name] = spec.default
        elif spec.required:
            missing.append(name)
    if missing:
        raise UsageError(
            f"runbook {runbook.id} needs input {', '.join(missing)}",
            hint="pass --answer NAME=VALUE or put it in the answers file",
        )
    return out


class Engine:
    def __init__(
        self,
        session: Session,
        *,
        sources: Sources,
        actions: ActionRunner | None = None,
        read_only: bool = False,
        actor: str = "oncall-tui",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.session = session
        self.runbook = session.runbook()
        self.sources = sources
        self.actions = actions
        self.read_only = read_only
        self.actor = actor
        self.sleep = sleep
        self.monotonic = monotonic
        self._replay()

    # ------------------------------------------------------------ state

    def _replay(self) -> None:
        self.current_id: str | None = self.runbook.steps[0].id if self.runbook.steps else None
        self.checks: dict[str, CheckResult] = {}
        self.answers: dict[str, Any] = {}
        self.started: set[str] = set()
        self.diagnoses: list[str] = []
        for event in self.session.events:
            data = event.data
            if event.type == "advanced":
                self.current_id = data.get("to")
            elif event.type == "step_started" and event.step:
                self.started.add(event.step)
            elif event.type == "check" and event.step:
                self.checks[event.step] = CheckResult(
                    data["status"],
                    data.get("values", {}),
                    data.get("error"),
                    data.get("attempts", 1),
                )
            elif event.type == "answer" and event.step:
                self.answers[event.step] = data.get("value")
            elif event.type == "diagnosis":
                self.diagnoses.append(str(data.get("name")))
            elif event.type == "closed":
                self.current_id = None

    def interrupted_action(self) -> str | None:
        """The action step that started and never recorded a result (a crash
        mid-action). Confirming it again reuses its idempotency key, so the
        gateway returns the first result instead of applying it twice."""
        started = {e.step for e in self.session.of_type("action_started")}
        finished = {e.step for e in self.session.of_type("action")}
        pending = started - finished
        return self.current_id if self.current_id in pending else None

    @property
    def current(self) -> Step | None:
        return None if self.current_id is None else self.runbook.step(self.current_id)

    @property
    def finished(self) -> bool:
        return self.current_id is None

    @property
    def inputs(self) -> dict[str, Any]:
        return self.session.inputs

    def context(self) -> dict[str, Any]:
        return {
            "inputs": dict(self.inputs),
            "checks": {k: v.as_data() for k, v in self.checks.items()},
            "answers": dict(self.answers),
        }

    def text(self, template: str) -> str:
        return fill(template, self.inputs, {k: v.values for k, v in self.checks.items()})

    def waiting(self) -> Wait | None:
        """What the current step needs from a person; None if it runs itself."""
        step = self.current
        if step is None:
            return None
        title = self.text(step.title)
        if isinstance(step, ManualStep):
            return Wait("mark", step.id, title, self.text(step.guidance))
        if isinstance(step, DecisionStep) and step.question is not None:
            if step.id in self.answers:
                return None
            return Wait("answer", step.id, title, self.text(step.question), step.choices)
        if isinstance(step, ActionStep):
            return Wait(
                "confirm",
                step.id,
                title,
                self.text(step.guidance),
                dangerous=step.dangerous,
                plan=self.describe(step),
            )
        return None

    # ------------------------------------------------------------ driving

    async def run(self) -> Wait | None:
        """Run every step that needs nobody; stop at the first that needs a person."""
        while not self.finished:
            self._enter()
            wait = self.waiting()
            if wait is not None:
                return wait
            step = self.current
            if isinstance(step, CheckStep):
                await self._check(step)
            elif isinstance(step, NoteStep):
                self.session.append(
                    "note", step.id, text=self.text(step.text or step.title).strip()
                )
                self._advance(step)
            elif isinstance(step, DecisionStep):
                self._decide(step)
        return None

    def _enter(self) -> None:
        step = self.current
        if step is None or step.id in self.started:
            return
        self.started.add(step.id)
        self.session.append("step_started", step.id, kind=type(step).__struct_config__.tag)
        if step.diagnosis is not None:
            self.session.append("diagnosis", step.id, name=step.diagnosis)
            self.diagnoses.append(step.diagnosis)

    def _require(self, kind: type[Step]) -> Any:
        step = self.current
        if not isinstance(step, kind):
            raise UsageError(
                f"the current step is {step.id if step else 'none (finished)'}, "
                f"not a {kind.__struct_config__.tag} step"
            )
        self._enter()
        return step

    def mark_done(self, note: str = "") -> None:
        step = self._require(ManualStep)
        self.session.append("manual", step.id, outcome="done", note=note)
        self._mitigated(step)
        self._advance(step)

    def skip(self, reason: str) -> None:
        """Skip the current manual or action step; a reason is required."""
        step = self.current
        if not reason.strip():
            raise UsageError("skipping a step needs a reason")
        if not isinstance(step, ManualStep | ActionStep):
            raise UsageError("only manual and action steps can be skipped")
        self._enter()
        self.session.append("manual", step.id, outcome="skipped", reason=reason)
        self._advance(step)

    def answer(self, value: str) -> None:
        step = self._require(DecisionStep)
        if step.question is None:
            raise UsageError(f"step {step.id} asks no question")
        if step.choices and value not in step.choices:
            raise UsageError(f"answer must be one of {', '.join(step.choices)}, got {value!r}")
        self.answers[step.id] = value
        self.session.append("answer", step.id, value=value)
        self._decide(step)

    def spec(self, step: ActionStep) -> ActionSpec:
        for field in (step.route, step.to_version or "", step.to_tier or ""):
            filled = self.text(field)
            if PLACEHOLDER.search(filled) or CHECK_PLACEHOLDER.search(filled):
                raise ActionError(
                    f"step {step.id}: {field!r} has no value yet "
                    "(an input is missing or the check that finds it did not answer)"
                )
        return ActionSpec(
            kind=step.action,
            route=self.text(step.route),
            reason=f"{self.text(step.reason)} (incident {self.session.id})",
            actor=self.actor,
            # Derived, not random: a resumed run repeating this action is a no-op.
            idempotency_key=f"{self.session.id}:{step.id}",
            enabled=step.enabled,
            to_version=self.text(step.to_version) if step.to_version else None,
            to_tier=self.text(step.to_tier) if step.to_tier else None,
        )

    def describe(self, step: ActionStep) -> str:
        try:
            spec = self.spec(step)
        except ActionError as exc:
            return f"cannot act yet: {exc}"
        target = {
            "kill_switch": f"kill switch {'ON' if spec.enabled else 'OFF'}",
            "rollback": f"rollback to {spec.to_version}",
            "failover": f"failover to {spec.to_tier or 'the next tier'}",
            "restore": "restore the configured primary",
        }[spec.kind]
        return f"{target} on route {spec.route} ({'dangerous' if step.dangerous else 'safe'})"

    async def record_plan(self) -> tuple[str, str | None]:
        """Headless without --yes: write the plan to the timeline, change nothing.

        Returns the one-line plan and, when an action runner is configured, its
        dry-run diff (prior state captured from the target, what would change)."""
        step = self._require(ActionStep)
        plan = self.describe(step)
        diff: str | None = None
        if self.actions is not None and not self.read_only:
            try:
                diff = await self.actions.plan(self.spec(step))
            except OncallError as exc:
                diff = f"cannot plan: {exc}"
        self.session.append(
            "action_planned",
            step.id,
            plan=plan,
            diff=diff,
            spec=msgspec.to_builtins(self.spec(step)),
        )
        return plan, diff

    async def confirm(self, yes: bool) -> ActionResult | None:
        step = self._require(ActionStep)
        if self.read_only:
            self.session.append(
                "manual", step.id, outcome="skipped", reason="read-only environment: no actions"
            )
            self._advance(step)
            return None
        if not yes:
            self.session.append(
                "manual", step.id, outcome="skipped", reason="declined by responder"
            )
            self._advance(step)
            return None
        if self.actions is None:
            raise UsageError("this console has no action executor configured")
        spec = self.spec(step)
        self.session.append(
            "action_started", step.id, spec=msgspec.to_builtins(spec), plan=self.describe(step)
        )
        try:
            result = await self.actions.execute(spec)
        except OncallError as exc:
            result = ActionResult("failed", str(exc))
        self.session.append("action", step.id, **msgspec.to_builtins(result))
        if result.outcome == "verified":
            self._mitigated(step)
        self._advance(step)
        return result

    # ------------------------------------------------------------ automatic steps

    async def _check(self, step: CheckStep) -> None:
        # No route named: the whole gateway (or every trace), never an implicit input.
        route = self.text(step.query.route) if step.query.route else None
        repeat = step.repeat
        deadline = self.monotonic() + (repeat.deadline_s if repeat else 0)
        attempts = 0
        while True:
            attempts += 1
            result, kept, done = await self._attempt(step, route, attempts)
            if repeat is None or done or self.monotonic() >= deadline:
                break
            self.session.append(
                "check_attempt", step.id, attempt=attempts, status=result.status,
                values=result.values, error=result.error,
            )  # fmt: skip
            await self.sleep(repeat.every_s)
        self.checks[step.id] = result
        self.session.append(
            "check",
            step.id,
            status=result.status,
            values=result.values,
            error=result.error,
            attempts=attempts,
            route=route,
            source=step.query.source,
            evidence=kept,
            message=self.text(step.on_pass if result.passed else step.on_fail),
        )
        if result.passed:
            self._mitigated(step)
        self._advance(step)

    async def _attempt(
        self, step: CheckStep, route: str | None, attempt: int
    ) -> tuple[CheckResult, dict[str, Any], bool]:
        try:
            data = await run_query(self.sources, step.query, route)
        except OncallError as exc:
            return CheckResult("error", error=str(exc), attempts=attempt), {}, False
        env = {**data, **self.context()}
        values: dict[str, Any] = {}
        try:
            for name, text in step.let.items():
                values[name] = expr.run(text, env)
                env[name] = values[name]
            passed = bool(expr.run(step.passes, env))
            status: Literal["pass", "fail"] = "pass" if passed else "fail"
            until = step.repeat.until if step.repeat and step.repeat.until else None
            done = passed if until is None else bool(expr.run(until, env))
        except expr.ExprError as exc:
            return (
                CheckResult("error", values, error=str(exc), attempts=attempt),
                evidence(step.query.source, data),
                False,
            )
        return (
            CheckResult(status, values, attempts=attempt),
            evidence(step.query.source, data),
            done,
        )

    def _decide(self, step: DecisionStep) -> None:
        env = self.context()
        if step.question is not None:
            env["answer"] = self.answers.get(step.id)
        errors = []
        chosen = None
        for branch in step.branches:
            try:
                if expr.run(branch.when, env):
                    chosen = branch
                    break
            except expr.ExprError as exc:
                errors.append(f"{branch.when}: {exc}")
        goto = chosen.goto if chosen else step.otherwise
        self.session.append(
            "decision",
            step.id,
            branch=(chosen.label or chosen.when) if chosen else "otherwise",
            goto=goto,
            errors=errors,
        )
        self._advance(step, goto)

    # ------------------------------------------------------------ moving on

    def _mitigated(self, step: Step) -> None:
        if step.mitigates and not self.session.of_type("mitigated"):
            self.session.append("mitigated", step.id)

    def _advance(self, step: Step, goto: str | None = None) -> None:
        if goto is not None:
            target: str | None = None if goto == END else goto
        elif step.end:
            target = None
        elif step.next is not None:
            target = None if step.next == END else step.next
        else:
            i = self.runbook.index(step.id)
            target = self.runbook.steps[i + 1].id if i + 1 < len(self.runbook.steps) else None
        self.session.append("advanced", step.id, to=target)
        self.current_id = target
        if target is None:
            self.session.append("closed", status="finished", diagnoses=self.diagnoses)
