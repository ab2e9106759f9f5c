"""An action, from plan to undo: dry-run diff, typed confirmation, execute, verify.

The screen only renders; everything runs through the audited action
lifecycle (``LifecycleActions`` over ``oncall_tui.actions.Executor``) in
workers, and results arrive as messages. The diff is the executor's own
``Plan``, captured from the target. Nothing runs until the responder types
the route's name: a tired person's stray ``enter`` must not pull a kill
switch. Progress is read from the audit log as the executor writes it; undo
opens the inverse the log recorded (``Executor.undo_spec``) on this same
screen, confirmed the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from oncall_tui.actions import ActionSpec as LifecycleSpec
from oncall_tui.actions import Plan
from oncall_tui.errors import OncallError
from oncall_tui.runbook.acting import ActionResult, ActionSpec, LifecycleActions
from oncall_tui.tui.action_view import plan_diff, stages_text
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.presenters import safe

OUTCOME_STYLE = {
    "verified": "bold green",
    "not_verified": "bold yellow",
    "failed": "bold red",
    "refused": "bold red",
}
PROGRESS_S = 0.2

#: How a confirmed plan runs: the lifecycle itself, or a runbook's engine (so
#: the incident timeline records it). Gets the plan and the typed phrase.
Execute = Callable[[Plan, str], Awaitable[ActionResult]]


def console_spec(
    kind: str, route: str, *, actor: str, reason: str, request_id: str, **target: object
) -> ActionSpec:
    """An action asked for from the console (overview keys)."""
    return ActionSpec(
        kind=kind,  # type: ignore[arg-type]
        route=route,
        reason=reason,
        actor=actor,
        idempotency_key=request_id,
        **target,  # type: ignore[arg-type]
    )


class PlanReady(Message):
    def __init__(self, plan: Plan | None, error: str | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.error = error


class ActionProgress(Message):
    """The stages the audit log holds for this action so far; replaces its predecessor."""

    def __init__(self, stages: list[str]) -> None:
        super().__init__()
        self.stages = stages

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ActionProgress)


class ActionFinished(Message):
    def __init__(self, result: ActionResult, undo: LifecycleSpec | None) -> None:
        super().__init__()
        self.result = result
        self.undo = undo


class ActionScreen(ModalScreen[ActionResult | None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="action.close"),
        Binding("u", "undo", "Undo", id="action.undo"),
    ]

    def __init__(
        self,
        lifecycle: LifecycleActions,
        spec: ActionSpec | LifecycleSpec,
        *,
        execute: Execute | None = None,
    ) -> None:
        super().__init__()
        self.lifecycle = lifecycle
        self.spec = spec
        self._execute: Execute = execute or self._run
        self.plan: Plan | None = None
        self.result: ActionResult | None = None
        self.undo_spec: LifecycleSpec | None = None
        self.stages: list[str] = []
        self.running = False
        self._ticker: Timer | None = None

    async def _run(self, plan: Plan, typed: str) -> ActionResult:
        return await self.lifecycle.run(plan, typed=typed)

    @property
    def confirm_word(self) -> str:
        phrase = self.plan.confirm_phrase if self.plan is not None else None
        return phrase or self.spec.route

    def compose(self) -> ComposeResult:
        undo = isinstance(self.spec, LifecycleSpec) and self.spec.undoes is not None
        title = f"{'undo: ' if undo else ''}{self.spec.kind.replace('_', ' ')}"
        # Scrolls: an audited plan is long, and 80x24 must still show the outcome.
        with VerticalScroll(id="modal-body"):
            yield Static(Text(f"{title}: {safe(self.spec.route, 40)}"), classes="modal-title")
            yield Static(
                "dry run: reading the target's current state…", id="action-diff", markup=False
            )
            yield Static(
                Text(f"type the route name ({safe(self.confirm_word, 40)}) and enter to run it"),
                id="action-prompt",
            )
            yield Input(placeholder=safe(self.confirm_word, 40), id="action-confirm")
            yield Static("", id="action-stages", markup=False)
            yield Static("", id="action-progress", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#action-confirm", Input).focus()
        self.make_plan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return self.undo_spec is not None and not self.running
        return True

    # ------------------------------------------------------------ plan

    @work(exclusive=True, exit_on_error=False, group="plan")
    async def make_plan(self) -> None:
        try:
            plan = await self.lifecycle.dry_run(self.spec)
        except OncallError as exc:
            self.post_message(PlanReady(None, str(exc)))
            return
        except Exception as exc:  # the screen must say what broke, never vanish
            self.post_message(PlanReady(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(PlanReady(plan))

    def on_plan_ready(self, message: PlanReady) -> None:
        diff = self.query_one("#action-diff", Static)
        if message.plan is None:
            diff.update(Text(f"cannot plan: {safe(message.error, 300)}", style="bold red"))
            self.query_one("#action-confirm", Input).disabled = True
            return
        self.plan = message.plan
        diff.update(plan_diff(message.plan))

    # ------------------------------------------------------------ run

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.running or self.result is not None:
            return
        progress = self.query_one("#action-progress", Static)
        if self.plan is None:
            progress.update(Text("not run: there is no plan yet", style="yellow"))
            return
        if event.value.strip() != self.confirm_word:
            progress.update(Text("not run: the name does not match", style="yellow"))
            return
        self.running = True
        event.input.disabled = True
        progress.update(Text("executing, then verifying against the target…", style="bold"))
        self.query_one("#modal-body").scroll_end(animate=False)
        self._ticker = self.set_interval(PROGRESS_S, self.read_progress)
        self.execute(self.plan, event.value.strip())

    @work(exclusive=True, exit_on_error=False, group="execute")
    async def execute(self, plan: Plan, typed: str) -> None:
        try:
            result = await self._execute(plan, typed)
        except Exception as exc:  # the screen must say what broke, never vanish
            result = ActionResult("failed", f"{type(exc).__name__}: {exc}")
        undo = None
        if result.action_id and result.outcome in ("verified", "not_verified"):
            undo = await asyncio.to_thread(self.lifecycle.undo_spec, result.action_id)
        self.post_message(ActionProgress(await asyncio.to_thread(self._stages, plan)))
        self.post_message(ActionFinished(result, undo))

    def _stages(self, plan: Plan) -> list[str]:
        try:
            records = self.lifecycle.executor.audit.for_key(plan.idempotency_key)
        except OncallError:
            return self.stages
        return [r.stage for r in records]

    @work(exclusive=True, exit_on_error=False, group="progress", thread=True)
    def read_progress(self) -> None:
        if self.plan is not None:
            self.post_message(ActionProgress(self._stages(self.plan)))

    def on_action_progress(self, message: ActionProgress) -> None:
        if len(message.stages) < len(self.stages):
            return  # a read that started before the last one: stages only grow
        self.stages = message.stages
        self.query_one("#action-stages", Static).update(
            stages_text(self.stages, running=self.running)
        )

    def on_action_finished(self, message: ActionFinished) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self.running = False
        self.result = message.result
        self.undo_spec = message.undo
        r = message.result
        self.query_one("#action-stages", Static).update(stages_text(self.stages, running=False))
        out = Text()
        out.append(r.outcome.upper().replace("_", " "), style=OUTCOME_STYLE.get(r.outcome, ""))
        if r.verify_attempts:
            out.append(f"  ({r.verify_attempts} read-back(s))", style="dim")
        if r.action_id:
            out.append(f"  {r.action_id}", style="dim")
        # The undo offer comes before the detail: at 80x24 the detail may be cut.
        if message.undo is not None:
            out.append(f"\nu: undo ({safe(r.undo or 'the recorded inverse', 100)})", "bold cyan")
        out.append(f"\n{safe(r.detail, 300)}")
        self.query_one("#action-progress", Static).update(out)
        self.call_after_refresh(self.query_one("#modal-body").scroll_end, animate=False)
        self.refresh_bindings()

    # ------------------------------------------------------------ after

    def action_undo(self) -> None:
        if self.undo_spec is None or self.running:
            return
        self.dismiss(self.result)
        self.app.push_screen(ActionScreen(self.lifecycle, self.undo_spec))

    def action_close(self) -> None:
        if self.running:
            self.notify("still running; the result will show here", severity="warning")
            return
        self.dismiss(self.result)
