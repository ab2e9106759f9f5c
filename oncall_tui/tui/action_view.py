"""Pure presenters for the action screen: plan -> dry-run diff, audit stages -> progress.

The diff is built from the executor's ``Plan`` (the state captured from the
target, each ``Change`` before -> after), never guessed from the request, so
what a person confirms is what the audit log records. Values that came from a
gateway pass ``safe`` (inert, cut to length); nothing here is markup.
"""

from __future__ import annotations

from rich.text import Text

from oncall_tui.actions.model import Change, Plan, describe_spec
from oncall_tui.tui.presenters import safe

#: How a value reads, per changed field: a tired person sees what it means.
_MEANING: dict[str, dict[object, str]] = {
    "kill switch": {
        True: "ON (AI path stopped; the non-AI fallback serves)",
        False: "off (AI serving)",
        None: "unknown (the target did not say)",
    },
    "forced tier": {None: "none (the route's own chain serves)"},
    "serving version": {None: "unknown (the target did not say)"},
}

STAGE_STYLE = {
    "attempt_failed": "yellow",
    "failed": "bold red",
    "not_verified": "bold yellow",
    "verified": "bold green",
    "undo_ready": "cyan",
}


def value_text(what: str, value: str | bool | None) -> str:
    meaning = _MEANING.get(what, {})
    if value in meaning:
        return meaning[value]
    if what == "forced tier":
        return f"{safe(str(value), 60)} (forced first)"
    return safe(str(value), 60)


def change_text(change: Change, target: str | None = None) -> Text:
    out = Text()
    out.append(f"{change.what}", style="bold")
    where = "" if change.where == target else f"on {safe(change.where, 60)}; "
    out.append(f"  ({where}affects {safe(change.who, 60)})\n", style="dim")
    if change.before == change.after:
        out.append(f"  = {value_text(change.what, change.after)}\n")
        out.append("    already so: nothing will be sent, the state is only verified\n", "dim")
        return out
    out.append(f"  - {value_text(change.what, change.before)}\n", style="red")
    out.append(f"  + {value_text(change.what, change.after)}\n", style="green")
    return out


def plan_diff(plan: Plan) -> Text:
    """The dry run: what the target holds now and what it will hold after."""
    out = Text()
    out.append(f"{plan.action_id}  ", style="bold")
    out.append(safe(describe_spec(plan.spec), 200) + "\n")
    out.append("where   ", style="dim")
    out.append(f"{safe(plan.target, 80)} (adapter {safe(plan.adapter, 30)}, ")
    out.append(f"env {safe(plan.spec.env, 30)})\n")
    for change in plan.changes:
        out.append_text(change_text(change, plan.target))
    out.append("reason  ", style="dim")
    out.append(safe(plan.spec.reason, 200) + "\n")
    out.append("undo    ", style="dim")
    if plan.undo is not None:
        out.append(safe(describe_spec(plan.undo), 200) + "\n")
    else:
        out.append("none recorded (nothing would change back)\n")
    out.append("actor   ", style="dim")
    out.append(f"{safe(plan.actor, 60)}   key {plan.idempotency_key}\n")
    if plan.drift is not None:
        out.append(
            f"drift   {safe(plan.spec.supersedes or '', 60)} was applied and verified, but no "
            f"longer holds: {safe(plan.drift.detail, 200)}\n"
            "        this is a NEW action (new key) applying it again\n",
            style="bold yellow",
        )
    for warning in plan.warnings:
        out.append(f"WARNING {safe(warning, 300)}\n", style="bold red")
    if plan.previous is not None:
        out.append(
            f"already in the audit log: {safe(plan.previous.detail, 200)}\n", style="bold yellow"
        )
    elif plan.resume_from is not None:
        out.append(
            f"the audit log has this action up to {plan.resume_from!r}: running resumes it\n",
            style="bold yellow",
        )
    return out


def stages_text(stages: list[str], *, running: bool) -> Text:
    """Progress through the lifecycle, as the audit log records it."""
    out = Text()
    for stage in stages:
        out.append("✓ " if stage not in ("failed", "attempt_failed", "not_verified") else "✗ ")
        out.append(stage, style=STAGE_STYLE.get(stage, ""))
        out.append("  ")
    if running:
        last = stages[-1] if stages else None
        step = "verifying against the target" if last in ("executed",) else "working"
        out.append(f"… {step}", style="bold")
    return out
