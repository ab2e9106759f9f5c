"""A running runbook: its steps, check results with evidence, decisions, the timeline.

The runbook engine (runbook/engine.py) is the state machine; this screen only
drives it from keys and renders its session. ``engine.run()`` runs in a worker
(checks query the gateway and may repeat), and each stop arrives as a
``RunbookStopped`` message saying what the current step needs from a person:
``d`` done / ``x`` skip for manual steps, ``1``-``9`` for a decision's choices,
``a`` to act (the action confirmation screen, typed route name) or ``n`` to
decline; ``a`` is only offered when the audited action lifecycle here can do
the step's kind, else the step says why it cannot run here. ``p`` writes the
postmortem draft next to the incident's timeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from oncall_tui.actions import Plan
from oncall_tui.errors import OncallError
from oncall_tui.runbook.acting import ActionResult
from oncall_tui.runbook.engine import Engine, Wait
from oncall_tui.runbook.export import describe_event, to_markdown
from oncall_tui.runbook.format import ActionStep
from oncall_tui.tui.action_screen import ActionScreen
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.presenters import safe

STEP_MARK = {"done": ("✓ ", "green"), "failed": ("✗ ", "red"), "current": ("▶ ", "bold")}


class RunbookStopped(Message):
    def __init__(self, wait: Wait | None, error: str | None = None) -> None:
        super().__init__()
        self.wait = wait
        self.error = error


def engine_execute(engine: Engine) -> Callable[[Plan, str], Awaitable[ActionResult]]:
    """How a confirmed runbook action runs: through the engine, so the timeline
    records the plan, the action and its verification as the headless CLI does
    (the engine's yes; the screen has checked the typed route name)."""

    async def execute(plan: Plan, typed: str) -> ActionResult:
        result = await engine.confirm(True)
        return result or ActionResult("refused", "the engine ran no action (read-only?)")

    return execute


def cannot_act(engine: Engine) -> str | None:
    """Why the current action step cannot run from this console, or None."""
    if engine.read_only:
        return "not offered, read-only"
    step = engine.current
    kind = step.action if isinstance(step, ActionStep) else None
    if engine.actions is None:
        return "cannot run here: no adapter in this environment can act"
    offers = getattr(engine.actions, "offers", None)
    if kind is not None and (offers is None or not offers(kind)):
        return f"cannot run here: no adapter in this environment can {kind} with read-back"
    return None


def step_lines(engine: Engine) -> Text:
    """Every step with its state: done, failed check, current, or to come."""
    out = Text()
    finished = {e.step for e in engine.session.events if e.type == "advanced" and e.step}
    failed = {
        e.step
        for e in engine.session.events
        if e.type == "check" and e.step and e.data.get("status") != "pass"
    }
    for step in engine.runbook.steps:
        if step.id == engine.current_id:
            mark, style = STEP_MARK["current"]
        elif step.id in failed:
            mark, style = STEP_MARK["failed"]
        elif step.id in finished:
            mark, style = STEP_MARK["done"]
        else:
            mark, style = "· ", "dim"
        out.append(mark, style=style)
        out.append(safe(engine.text(step.title), 120) + "\n", style=style)
    return out


def timeline_lines(engine: Engine, last: int = 200) -> Text:
    titles = {s.id: engine.text(s.title) for s in engine.runbook.steps}
    out = Text()
    for event in engine.session.events[-last:]:
        if event.type in ("advanced", "step_started", "opened", "check_attempt"):
            continue
        out.append(f"{event.at[11:19]}  ", style="dim")
        out.append(safe(describe_event(event, titles), 300) + "\n")
    return out


def wait_text(wait: Wait | None, cannot: str | None) -> Text:
    if wait is None:
        return Text("runbook finished; p writes the postmortem draft", style="bold green")
    out = Text()
    out.append(safe(wait.title, 120) + "\n", style="bold")
    if wait.prompt:
        out.append(safe(wait.prompt, 400, single_line=False) + "\n")
    if wait.kind == "mark":
        out.append("d: done   x: skip", style="bold cyan")
    elif wait.kind == "answer":
        for i, choice in enumerate(wait.choices[:9], 1):
            out.append(f"{i}: {safe(choice, 40)}   ", style="bold cyan")
    elif cannot is not None:
        out.append(f"action ({cannot}): {safe(wait.plan or '', 200)}\n", style="dim")
        out.append("n: note it and go on", style="bold cyan")
    else:
        out.append(f"action: {safe(wait.plan or '', 200)}\n", style="yellow")
        out.append("a: act (typed confirmation)   n: decline", style="bold cyan")
    return out


class RunbookScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="runbook.back"),
        Binding("d", "done", "Done", id="runbook.done"),
        Binding("x", "skip", "Skip", id="runbook.skip"),
        Binding("a", "act", "Act", id="runbook.act"),
        Binding("n", "decline", "Decline", id="runbook.decline"),
        Binding("p", "postmortem", "Postmortem", id="runbook.postmortem"),
        *(
            Binding(str(i), f"choose({i})", f"Choice {i}", show=False, id=f"runbook.choice{i}")
            for i in range(1, 10)
        ),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.wait: Wait | None = None
        self.busy = True

    def compose(self) -> ComposeResult:
        rb = self.engine.runbook
        title = (
            f"runbook {rb.id}: {self.engine.text(rb.title)}  (incident {self.engine.session.id})"
        )
        yield Static(Text(safe(title, 200)), id="runbook-title")
        with VerticalScroll(id="runbook-steps"):
            yield Static("", id="steps", markup=False)
        yield Static("running checks…", id="runbook-wait", markup=False)
        with VerticalScroll(id="runbook-timeline"):
            yield Static("", id="timeline", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.advance()

    @work(exclusive=True, exit_on_error=False, group="runbook")
    async def advance(self) -> None:
        try:
            wait = await self.engine.run()
        except OncallError as exc:
            self.post_message(RunbookStopped(self.engine.waiting(), exc.message))
            return
        self.post_message(RunbookStopped(wait))

    def on_runbook_stopped(self, message: RunbookStopped) -> None:
        self.busy = False
        self.wait = message.wait
        self._show()
        if message.error:
            self.notify(safe(message.error, 200), severity="error")
        self.refresh_bindings()

    def _show(self) -> None:
        self.query_one("#steps", Static).update(step_lines(self.engine))
        step = self.engine.current
        if self.busy and step is not None:
            running = Text(f"running: {safe(self.engine.text(step.title), 120)}…", style="bold")
            self.query_one("#runbook-wait", Static).update(running)
        else:
            self.query_one("#runbook-wait", Static).update(
                wait_text(self.wait, cannot_act(self.engine))
            )
        self.query_one("#timeline", Static).update(timeline_lines(self.engine))
        self.query_one("#runbook-timeline", VerticalScroll).scroll_end(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        kind = None if self.busy or self.wait is None else self.wait.kind
        if action in ("done", "skip"):
            return kind == "mark"
        if action == "choose":
            return kind == "answer"
        if action == "act":
            return kind == "confirm" and cannot_act(self.engine) is None
        if action == "decline":
            return kind == "confirm"
        return True

    def _step(self, change: Any) -> None:
        try:
            change()
        except OncallError as exc:
            self.notify(safe(exc.message, 200), severity="error")
            return
        self.busy = True
        self.refresh_bindings()
        self._show()
        self.advance()

    def action_done(self) -> None:
        self._step(lambda: self.engine.mark_done("marked done in the console"))

    def action_skip(self) -> None:
        self._step(lambda: self.engine.skip("skipped in the console"))

    def action_choose(self, index: int) -> None:
        if self.wait is None or not 0 < index <= len(self.wait.choices):
            return
        choice = self.wait.choices[index - 1]
        self._step(lambda: self.engine.answer(choice))

    @work(exclusive=True, exit_on_error=False, group="runbook")
    async def action_decline(self) -> None:
        self.busy = True
        await self.engine.confirm(False)
        self.advance()

    def action_act(self) -> None:
        step = self.engine.current
        try:
            spec = self.engine.spec(step)  # type: ignore[arg-type]
        except OncallError as exc:
            self.notify(safe(exc.message, 200), severity="error")
            return
        # Undo (offered afterwards) is a new change through the lifecycle, not a step.
        lifecycle = self.engine.actions
        screen = ActionScreen(lifecycle, spec, execute=engine_execute(self.engine))  # type: ignore[arg-type]
        self.app.push_screen(screen, self._after_action)

    def _after_action(self, result: ActionResult | None) -> None:
        if result is not None:
            self.busy = True
            self.refresh_bindings()
            self._show()
            self.advance()

    def action_postmortem(self) -> None:
        path = self.engine.session.path.with_suffix(".md")
        try:
            path.write_text(to_markdown(self.engine.session))
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
            return
        self.notify(f"postmortem draft written to {path}")
