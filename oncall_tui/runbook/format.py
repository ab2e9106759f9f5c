"""The runbook file format (docs/runbooks.md): Structs, loading, and ``lint``.

A runbook is strict YAML: unknown keys are errors naming file, line and the
closest valid key (the same walk as the config file, ``yamlcheck``). On top of
the shape, ``lint`` checks what the type system cannot: every expression
parses, every ``goto`` names a step, every ``checks.X`` names a check step
that comes earlier, every ``{input}`` placeholder names a declared input.

Who calls it: the engine (load), ``oncall-tui runbook lint|list|show``, and
the library's tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from oncall_tui.errors import DataError
from oncall_tui.runbook import expr
from oncall_tui.yamlcheck import (
    Path_,
    Problem,
    StructChecker,
    closest,
    line_for,
    line_map,
    load,
    yaml_problem,
)

InputType = Literal["string", "int", "float", "bool", "route", "provider", "tier", "version"]
QuerySource = Literal["gateway_status", "routes", "traces", "onset"]
ActionKind = Literal["kill_switch", "rollback", "failover", "restore"]
Severity = Literal["info", "low", "medium", "high", "critical"]

END = "end"  # goto target that finishes the runbook


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    type: InputType = "string"
    description: str = ""
    required: bool = True
    default: str | int | float | bool | None = None
    choices: tuple[str, ...] = ()


class Match(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What makes the console suggest this runbook."""

    alerts: tuple[str, ...] = ()  # Alert.kind values from the gateway
    findings: tuple[str, ...] = ()  # Finding.kind values from the trace engine
    symptoms: tuple[str, ...] = ()  # what a person reports, shown as-is


class Query(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A read-only question to a gateway or a trace store."""

    source: QuerySource
    route: str | None = None  # may be a "{route}" placeholder
    window_s: int = 300
    limit: int = 20  # traces: how many recent traces of the route to analyse
    gateway: str | None = None  # adapter name; default: the first that can answer
    trace_store: str | None = None


class Repeat(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    every_s: float = 5.0
    until: str | None = None  # expression; default: the check's ``pass``
    deadline_s: float = 120.0


class Branch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    when: str  # expression over inputs, checks, answer
    goto: str
    label: str = ""


class _Step(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True, tag_field="kind"
):
    id: str
    title: str
    guidance: str = ""
    diagnosis: str | None = None  # reaching this step concludes this diagnosis
    mitigates: bool = False  # completing this step counts as mitigation (time to mitigate)
    next: str | None = None  # default: the following step
    end: bool = False  # finish the runbook after this step


class ManualStep(_Step, tag="manual", frozen=True, kw_only=True, forbid_unknown_fields=True):
    checklist: tuple[str, ...] = ()


class CheckStep(_Step, tag="check", frozen=True, kw_only=True, forbid_unknown_fields=True):
    query: Query
    passes: str = msgspec.field(name="pass")  # expression; true = healthy / as expected
    let: dict[str, str] = {}  # named expressions kept as evidence, usable in ``pass``
    repeat: Repeat | None = None
    on_pass: str = ""  # what it means, shown with the result
    on_fail: str = ""


class DecisionStep(_Step, tag="decision", frozen=True, kw_only=True, forbid_unknown_fields=True):
    question: str | None = None  # set: the responder answers; the answer is ``answer``
    choices: tuple[str, ...] = ()
    branches: tuple[Branch, ...]
    otherwise: str | None = None  # goto when no branch matches; None: the next step


class ActionStep(_Step, tag="action", frozen=True, kw_only=True, forbid_unknown_fields=True):
    action: ActionKind
    route: str
    reason: str
    dangerous: bool = True
    enabled: bool | None = None  # kill_switch
    to_version: str | None = None  # rollback
    to_tier: str | None = None  # failover


class NoteStep(_Step, tag="note", frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str = ""


Step = ManualStep | CheckStep | DecisionStep | ActionStep | NoteStep


class Runbook(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    id: str
    title: str
    summary: str
    severity: Severity = "high"
    match: Match = Match()
    lookalikes: tuple[str, ...] = ()  # ids of runbooks for failures that look the same
    inputs: dict[str, Input] = {}
    steps: tuple[Step, ...]
    postmortem: tuple[str, ...] = ()  # questions the postmortem draft must answer
    source: str | None = None  # the file it came from; set by the loader

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: ``{checks.ID.NAME}``: a ``let`` value of an earlier check, e.g. a version it found.
CHECK_PLACEHOLDER = re.compile(r"\{checks\.([A-Za-z0-9_-]+)\.([A-Za-z_][A-Za-z0-9_]*)\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_STEP_ID = re.compile(r"^[a-z][a-z0-9_]*$")  # readable as checks.ID in expressions


def fill(
    template: str, inputs: dict[str, Any], checks: dict[str, dict[str, Any]] | None = None
) -> str:
    """Replace ``{name}`` with the input's value and ``{checks.ID.NAME}`` with a
    check's ``let`` value; anything unknown stays as it is."""

    def check_value(m: re.Match[str]) -> str:
        value = (checks or {}).get(m.group(1), {}).get(m.group(2))
        return m.group(0) if value is None else show_value(value)

    text = CHECK_PLACEHOLDER.sub(check_value, template)
    return PLACEHOLDER.sub(
        lambda m: show_value(inputs[m.group(1)]) if m.group(1) in inputs else m.group(0), text
    )


def show_value(value: Any) -> str:
    """A value as a person reads it: 0.0761, not 0.07611798287345385."""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


# ---------------------------------------------------------------- lint


@dataclass
class Checked:
    runbook: Runbook | None
    problems: list[Problem]


def _expressions(step: Step) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(step, CheckStep):
        yield ("pass",), step.passes
        for name, text in step.let.items():
            yield ("let", name), text
        if step.repeat is not None and step.repeat.until is not None:
            yield ("repeat", "until"), step.repeat.until
    elif isinstance(step, DecisionStep):
        for i, branch in enumerate(step.branches):
            yield ("branches", i, "when"), branch.when


def _semantics(rb: Runbook, file: str, lines: dict[Path_, int]) -> list[Problem]:
    problems: list[Problem] = []

    def add(path: Path_, message: str, suggestion: str | None = None) -> None:
        problems.append(
            Problem(file, line_for(lines, path), ".".join(map(str, path)), message, suggestion)
        )

    if not _ID.match(rb.id):
        add(("id",), "must be lowercase letters, digits, '-' or '_'")
    ids = [s.id for s in rb.steps]
    if not rb.steps:
        add(("steps",), "a runbook needs at least one step")
    seen: set[str] = set()
    checks_before: dict[str, set[str]] = {}
    for i, step in enumerate(rb.steps):
        base: Path_ = ("steps", i)
        if not _STEP_ID.match(step.id):
            add((*base, "id"), "step ids are lowercase letters, digits and '_' (no '-')")
        if step.id in seen:
            add((*base, "id"), f"duplicate step id {step.id!r}")
        if step.id == END:
            add((*base, "id"), f"{END!r} is reserved (goto target that finishes the runbook)")
        seen.add(step.id)
        targets: list[tuple[Path_, str]] = []
        if step.next is not None:
            targets.append(((*base, "next"), step.next))
        if isinstance(step, DecisionStep):
            targets += [
                ((*base, "branches", j, "goto"), b.goto) for j, b in enumerate(step.branches)
            ]
            if step.otherwise is not None:
                targets.append(((*base, "otherwise"), step.otherwise))
            if step.question is None and any("answer" in b.when for b in step.branches):
                add((*base, "branches"), "a branch reads 'answer' but the step asks no question")
        for path, target in targets:
            if target != END and target not in ids:
                add(path, f"goto names no step {target!r}", closest(target, ids))
        texts: list[tuple[Path_, str]] = [(("title",), step.title), (("guidance",), step.guidance)]
        if isinstance(step, CheckStep) and step.query.route is not None:
            texts.append((("query", "route"), step.query.route))
        if isinstance(step, ActionStep):
            texts += [(("route",), step.route), (("reason",), step.reason)]
            texts += [(("to_version",), step.to_version or ""), (("to_tier",), step.to_tier or "")]
        if isinstance(step, NoteStep):
            texts.append((("text",), step.text))
        for sub, text in texts:
            for check_id, let_name in CHECK_PLACEHOLDER.findall(text):
                known = checks_before.get(check_id)
                if known is None:
                    hint = closest(check_id, sorted(checks_before))
                    add((*base, *sub), f"{{checks.{check_id}...}} names no earlier check", hint)
                elif let_name not in known:
                    hint = closest(let_name, sorted(known))
                    add((*base, *sub), f"check {check_id} has no let value {let_name!r}", hint)
            for name in PLACEHOLDER.findall(text):
                if name not in rb.inputs:
                    add((*base, *sub), f"{{{name}}} names no input", closest(name, list(rb.inputs)))
        for sub, text in _expressions(step):
            try:
                tree = expr.parse(text)
            except expr.ExprError as exc:
                add((*base, *sub), f"expression: {exc}")
                continue
            for ref in expr.references(tree, "checks"):
                if ref not in checks_before and ref != step.id:
                    hint = closest(ref, sorted(checks_before))
                    add((*base, *sub), f"checks.{ref} names no earlier check step", hint)
            for ref in expr.references(tree, "inputs"):
                if ref not in rb.inputs:
                    add(
                        (*base, *sub), f"inputs.{ref} names no input", closest(ref, list(rb.inputs))
                    )
        if isinstance(step, CheckStep):
            checks_before[step.id] = set(step.let)
        if isinstance(step, ActionStep):
            if step.action == "rollback" and not step.to_version:
                add((*base, "to_version"), "a rollback needs to_version")
            if step.action == "kill_switch" and step.enabled is None:
                add((*base, "enabled"), "a kill switch step says enabled: true (AI off) or false")
    for name, spec in rb.inputs.items():
        if spec.choices and spec.default is not None and str(spec.default) not in spec.choices:
            add(("inputs", name, "default"), "default is not one of the choices")
    return problems


def check_text(text: str, file: str) -> Checked:
    """Validate one runbook document; every problem, not just the first."""
    try:
        # Alias bombs and duplicate keys are refused here as in the config.
        data = load(text)
    except yaml.YAMLError as exc:
        return Checked(None, [yaml_problem(exc, file)])
    lines = line_map(text)
    checker = StructChecker(file, lines)
    checker.struct(data, Runbook, ())
    if checker.problems:
        return Checked(None, sorted(checker.problems, key=lambda p: (p.line or 0, p.key)))
    try:
        rb = msgspec.convert(data, Runbook)
    except msgspec.ValidationError as exc:  # the walk should have caught it; never lose it
        return Checked(None, [Problem(file, None, "", str(exc))])
    rb = msgspec.structs.replace(rb, source=file)
    problems = _semantics(rb, file, lines)
    if problems:
        return Checked(None, sorted(problems, key=lambda p: (p.line or 0, p.key)))
    return Checked(rb, [])


def check_file(path: Path) -> Checked:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Checked(None, [Problem(str(path), None, "", f"cannot read: {exc.strerror}")])
    return check_text(text, str(path))


def load_file(path: Path) -> Runbook:
    checked = check_file(path)
    if checked.runbook is None:
        first = checked.problems[0]
        more = f" (+{len(checked.problems) - 1} more)" if len(checked.problems) > 1 else ""
        raise DataError(f"{first}{more}", hint="run 'oncall-tui runbook lint FILE'")
    return checked.runbook
