"""An action, from plan to undo: dry-run diff, typed confirmation, execute, verify.

The screen only renders; the change and its verification run through the
headless ``ActionRunner`` (runbook/acting.py, the same seam the runbook
engine and the CLI use) in a worker, and the outcome arrives as a message.
Nothing runs until the responder types the route's name: a tired person's
stray ``enter`` must not pull a kill switch. Undo opens the inverse action
on this same screen, confirmed the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from oncall_tui.runbook.acting import ActionResult, ActionRunner, ActionSpec
from oncall_tui.tui.presenters import safe

OUTCOME_STYLE = {
    "verified": "bold green",
    "not_verified": "bold yellow",
    "failed": "bold red",
    "refused": "bold red",
}


def kill_switch_spec(route: str, *, enabled: bool, actor: str, reason: str) -> ActionSpec:
    return ActionSpec(
        kind="kill_switch",
        route=route,
        reason=reason,
        actor=actor,
        idempotency_key=f"tui-{uuid.uuid4().hex}",
        enabled=enabled,
    )


def inverse(spec: ActionSpec) -> ActionSpec | None:
    """The action that takes ``spec`` back, when the screen can say it exactly."""
    if spec.kind != "kill_switch":
        return None
    return msgspec.structs.replace(
        spec,
        enabled=not spec.enabled,
        reason=f"undo: {spec.reason}",
        idempotency_key=f"tui-{uuid.uuid4().hex}",
    )


def diff_text(spec: ActionSpec) -> Text:
    """The dry run: what the gateway holds now and what it will hold after."""
    out = Text()
    if spec.kind == "kill_switch":
        before = "on (AI serving)" if spec.enabled else "OFF (non-AI fallback)"
        after = "OFF (non-AI fallback)" if spec.enabled else "on (AI serving)"
        out.append(f"route {safe(spec.route, 40)}  AI path\n")
        out.append(f"- {before}\n", style="red")
        out.append(f"+ {after}\n", style="green")
    else:
        out.append(f"{spec.kind} on route {safe(spec.route, 40)}\n")
    return out


class ActionFinished(Message):
    def __init__(self, result: ActionResult) -> None:
        super().__init__()
        self.result = result


class ActionScreen(ModalScreen[ActionResult | None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="action.close"),
        Binding("u", "undo", "Undo", id="action.undo"),
    ]

    def __init__(
        self, runner: ActionRunner, spec: ActionSpec, *, undo_runner: ActionRunner | None = None
    ) -> None:
        super().__init__()
        self.runner = runner
        # Undo goes straight to the gateway when the action ran through a runbook.
        self.undo_runner = undo_runner or runner
        self.spec = spec
        self.result: ActionResult | None = None
        self.running = False

    @property
    def confirm_word(self) -> str:
        return self.spec.route

    def compose(self) -> ComposeResult:
        # Scrolls: an audited plan is long, and 80x24 must still show the outcome.
        with VerticalScroll(id="modal-body"):
            yield Static(
                Text(f"{self.spec.kind.replace('_', ' ')}: {safe(self.spec.route, 40)}"),
                classes="modal-title",
            )
            yield Static("planning…", id="action-plan", markup=False)
            yield Static(diff_text(self.spec), id="action-diff", markup=False)
            yield Static(
                Text(f"type the route name ({safe(self.confirm_word, 40)}) and enter to run it"),
                id="action-prompt",
            )
            yield Input(placeholder=safe(self.confirm_word, 40), id="action-confirm")
            yield Static("", id="action-progress", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#action-confirm", Input).focus()
        self.plan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return (
                self.result is not None
                and self.result.outcome in ("verified", "not_verified")
                and inverse(self.spec) is not None
            )
        return True

    @work(exclusive=True, exit_on_error=False, group="plan")
    async def plan(self) -> None:
        text = await self.runner.plan(self.spec)
        self.query_one("#action-plan", Static).update(Text(safe(text, 400, single_line=False)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.running or self.result is not None:
            return
        if event.value.strip() != self.confirm_word:
            self.query_one("#action-progress", Static).update(
                Text("not run: the name does not match", style="yellow")
            )
            return
        self.running = True
        event.input.disabled = True
        self.query_one("#action-progress", Static).update(
            Text("executing, then verifying against the gateway's status…", style="bold")
        )
        self.query_one("#modal-body").scroll_end(animate=False)
        self.execute()

    @work(exclusive=True, exit_on_error=False, group="execute")
    async def execute(self) -> None:
        try:
            result = await self.runner.execute(self.spec)
        except Exception as exc:  # the screen must say what broke, never vanish
            result = ActionResult("failed", f"{type(exc).__name__}: {exc}")
        self.post_message(ActionFinished(result))

    def on_action_finished(self, message: ActionFinished) -> None:
        self.running = False
        self.result = message.result
        r = message.result
        out = Text()
        out.append(r.outcome.upper().replace("_", " "), style=OUTCOME_STYLE.get(r.outcome, ""))
        if r.verify_attempts:
            out.append(f"  ({r.verify_attempts} status read(s))", style="dim")
        # The undo offer comes before the detail: at 80x24 the detail may be cut.
        if r.outcome in ("verified", "not_verified") and inverse(self.spec) is not None:
            how = safe(r.undo or "the inverse action", 100)
            out.append(f"\nu: undo ({how})", style="bold cyan")
        out.append(f"\n{safe(r.detail, 300)}")
        self.query_one("#action-progress", Static).update(out)
        self.call_after_refresh(self.query_one("#modal-body").scroll_end, animate=False)
        self.refresh_bindings()

    def action_undo(self) -> None:
        back = inverse(self.spec)
        if back is None or self.result is None:
            return
        self.dismiss(self.result)
        self.app.push_screen(ActionScreen(self.undo_runner, back))

    def action_close(self) -> None:
        if self.running:
            self.notify("still running; the result will show here", severity="warning")
            return
        self.dismiss(self.result)


def direct_runner(gateway_name: str, gateway: Any) -> ActionRunner:
    from oncall_tui.runbook.acting import DirectActions
    from oncall_tui.runbook.queries import Sources

    return DirectActions(
        Sources(gateways={gateway_name or "gateway": gateway}),
        verify_every_s=1.0,
        verify_deadline_s=30.0,
    )
