"""Drive a runbook without a person: answers from a mapping, actions only with ``yes``.

``oncall-tui runbook run`` and the library's tests call ``drive``. Manual
steps with no answer are skipped with the reason "headless run" (recorded on
the timeline, so the postmortem shows what nobody did). A question with no
answer stops the run (``needs_answer``); an action without ``yes`` is only
planned (``planned``). Either way the session stays open and can be resumed.

Answers file (YAML or JSON)::

    route: checkout            # inputs by name
    confirm: "yes"             # a decision's answer, by step id
    ack: done                  # a manual step: done, or "skip: <reason>"
    rollback: "no"             # an action: "no" declines it even with --yes
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from oncall_tui.runbook.engine import Engine
from oncall_tui.runbook.format import Runbook
from oncall_tui.runbook.session import Event

RunStatus = Literal["finished", "needs_answer", "planned"]


class RunResult(msgspec.Struct, omit_defaults=True):
    incident: str
    runbook: str
    status: RunStatus
    diagnoses: list[str]
    checks: dict[str, dict[str, Any]]
    actions: list[dict[str, Any]]
    current_step: str | None = None
    waiting: dict[str, Any] | None = None
    plan: str | None = None
    diff: str | None = None  # the action lifecycle's dry-run plan, when planned
    mitigated: bool = False

    @property
    def action_failed(self) -> bool:
        return any(a.get("outcome") not in ("verified",) for a in self.actions)


def split_answers(
    runbook: Runbook, answers: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, step answers) from one mapping; keys are input names or step ids."""
    step_ids = {s.id for s in runbook.steps}
    inputs = {k: v for k, v in answers.items() if k not in step_ids}
    steps = {k: v for k, v in answers.items() if k in step_ids}
    return inputs, steps


async def drive(
    engine: Engine,
    answers: dict[str, Any],
    *,
    yes: bool,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    seen = len(engine.session.events)

    def flush() -> None:
        nonlocal seen
        if on_event is not None:
            for event in engine.session.events[seen:]:
                on_event(event)
        seen = len(engine.session.events)

    status: RunStatus = "finished"
    plan: str | None = None
    diff: str | None = None
    waiting: dict[str, Any] | None = None
    while True:
        wait = await engine.run()
        flush()
        if wait is None:
            break
        given = answers.get(wait.step)
        if wait.kind == "mark":
            text = "" if given is None else str(given).strip()
            if text.lower().startswith("skip"):
                engine.skip(text.partition(":")[2].strip() or "skipped in the answers file")
            elif text.lower() == "done":
                engine.mark_done("headless run: marked done by the answers file")
            else:
                engine.skip("headless run: nobody did this step")
        elif wait.kind == "answer":
            if given is None:
                status, waiting = "needs_answer", msgspec.to_builtins(wait)
                break
            engine.answer(str(given))
        else:
            declined = given is not None and str(given).lower() in ("no", "false", "skip")
            if declined:
                await engine.confirm(yes=False)
            elif yes or engine.read_only:
                await engine.confirm(yes=True)
            else:
                plan, diff = await engine.record_plan()
                status, waiting = "planned", msgspec.to_builtins(wait)
                flush()
                break
        flush()
    result = summarize(engine, status, waiting=waiting, plan=plan)
    result.diff = diff
    return result


def summarize(
    engine: Engine,
    status: RunStatus,
    *,
    waiting: dict[str, Any] | None = None,
    plan: str | None = None,
) -> RunResult:
    actions = [
        {"step": e.step, **{k: v for k, v in e.data.items() if k != "record"}}
        for e in engine.session.of_type("action")
    ]
    return RunResult(
        incident=engine.session.id,
        runbook=engine.runbook.id,
        status=status,
        diagnoses=list(engine.diagnoses),
        checks={k: v.as_data() for k, v in engine.checks.items()},
        actions=actions,
        current_step=engine.current_id,
        waiting=waiting,
        plan=plan,
        mitigated=bool(engine.session.of_type("mitigated")),
    )
