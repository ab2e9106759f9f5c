"""The action lifecycle's data: what was asked, the plan, and the result.

``ActionSpec`` is what a person (or a runbook) asks for. Its idempotency key
is derived from the spec and a user-visible request id, never random, so the
same command run twice after a crash finds its first run in the audit log.
"""

from __future__ import annotations

import hashlib
import shlex
from typing import Any, Literal

import msgspec

from oncall_tui.core.gateway import ActionRecord
from oncall_tui.sources.capabilities import ActionIntent, Observation

Kind = Literal["kill_switch", "rollback", "failover"]
Outcome = Literal["verified", "not_verified", "failed", "planned", "already_done"]

#: Stages written to the audit log, in lifecycle order.
STAGES = (
    "captured",
    "planned",
    "confirmed",
    "attempt",
    "attempt_failed",
    "executed",
    "failed",
    "verified",
    "not_verified",
    "undo_ready",
)


class ActionSpec(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    kind: Kind
    route: str
    reason: str
    env: str = ""
    enabled: bool | None = None  # kill_switch: True turns the switch on (AI off)
    to_version: str | None = None
    to_tier: str | None = None
    #: The user-visible id the key is derived from (an incident id, a runbook
    #: step); defaults to the reason, so re-running the same command matches.
    request_id: str | None = None
    via: str | None = None  # adapter name from the config; None: the first capable
    undoes: str | None = None  # action id this one takes back
    #: Action id of a finished action whose state no longer holds (changed
    #: outside the tool), which this one applies again under a new key.
    supersedes: str | None = None

    @property
    def intent(self) -> ActionIntent:
        return ActionIntent(
            kind=self.kind,
            route=self.route,
            enabled=self.enabled,
            to_version=self.to_version,
            to_tier=self.to_tier,
        )

    def idempotency_key(self) -> str:
        if self.undoes is not None:
            basis: list[Any] = ["undo", self.undoes]
        else:
            target = {
                "kill_switch": self.enabled,
                "rollback": self.to_version,
                "failover": self.to_tier,
            }[self.kind]
            basis = [
                self.kind,
                self.env,
                self.route,
                target,
                self.request_id if self.request_id is not None else self.reason,
            ]
            if self.supersedes is not None:
                # Appended only when set, so every earlier key stays the same.
                basis.append({"supersedes": self.supersedes})
        digest = hashlib.sha256(msgspec.json.encode(basis)).hexdigest()
        return f"otui-{digest[:32]}"

    def action_id(self) -> str:
        return "act-" + self.idempotency_key()[5:17]


class Change(msgspec.Struct, frozen=True, omit_defaults=True):
    """One line of the dry-run diff."""

    what: str  # "kill switch", "serving version", "forced tier"
    before: str | bool | None
    after: str | bool | None
    where: str  # the system and object touched
    who: str  # whose traffic is affected


class Plan(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    action_id: str
    idempotency_key: str
    spec: ActionSpec
    actor: str
    adapter: str  # the config name of the adapter that will act
    target: str  # where, in words
    prior: dict[str, str | bool | None]
    changes: list[Change]
    undo: ActionSpec | None
    #: What a person must type to confirm (the route name) when the action is
    #: irreversible or high-blast; None: a plain yes will do.
    confirm_phrase: str | None
    #: Set when the audit log already holds this action: how far it got.
    resume_from: str | None = None
    previous: ActionResult | None = None
    #: Set on a new action offered because a finished one (``spec.supersedes``)
    #: no longer holds: the fresh read-back that shows it.
    drift: Observation | None = None
    #: Loud warnings for the person acting (a damaged audit log).
    warnings: list[str] = []

    def describe(self) -> list[str]:
        lines = [f"{self.action_id}: {describe_spec(self.spec)}"]
        lines.append(f"  where:  {self.target} (adapter {self.adapter!r}, env {self.spec.env!r})")
        for change in self.changes:
            if change.before == change.after:
                lines.append(
                    f"  change: none: {change.what} is already {_fmt(change.after)} "
                    "(nothing will be sent; the state is only verified)"
                )
                continue
            lines.append(
                f"  change: {change.what}: {_fmt(change.before)} -> {_fmt(change.after)}"
                f"  [{change.where}; affects {change.who}]"
            )
        lines.append(f"  reason: {self.spec.reason}")
        lines.append(f"  actor:  {self.actor}   key: {self.idempotency_key}")
        if self.undo is not None:
            lines.append(f"  undo:   {describe_spec(self.undo)}")
        if self.drift is not None:
            lines.append(
                f"  drift:  {self.spec.supersedes} was applied and verified, but it no longer "
                f"holds now: {self.drift.detail}"
            )
            lines.append(
                "          this is a NEW action (new key) applying it again; "
                f"its records name {self.spec.supersedes}"
            )
        if self.resume_from is not None:
            lines.append(
                f"  resume: the audit log has this action up to stage {self.resume_from!r}"
            )
        for warning in self.warnings:
            lines.append(f"  WARNING: {warning}")
        return lines


class Stage(msgspec.Struct, frozen=True, omit_defaults=True):
    stage: str
    at: str
    detail: str = ""


class ActionResult(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    action_id: str
    idempotency_key: str
    outcome: Outcome
    applied: bool
    verified: bool
    detail: str
    stages: list[Stage] = []
    record: ActionRecord | None = None
    observation: Observation | None = None
    verify_polls: int = 0
    attempts: int = 0
    undo: ActionSpec | None = None
    resumed: bool = False
    #: True when a re-run read the target again (``observation`` is that read).
    rechecked: bool = False
    #: What to do next, naming the command (e.g. after ``not_verified``).
    hint: str = ""
    warnings: list[str] = []


def _fmt(value: object) -> str:
    if value is None:
        return "(none)"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def describe_spec(spec: ActionSpec) -> str:
    if spec.kind == "kill_switch":
        if spec.enabled:
            return f"turn ON the kill switch of route {spec.route!r} (its AI path stops)"
        return f"turn OFF the kill switch of route {spec.route!r} (AI serving resumes)"
    if spec.kind == "rollback":
        return f"roll route {spec.route!r} to model version {spec.to_version!r}"
    if spec.to_tier is None:
        return f"clear the forced tier of route {spec.route!r} (its chain serves again)"
    return f"force route {spec.route!r} onto tier {spec.to_tier!r}"


def cli_command(spec: ActionSpec, *, request_id: str | None = None, extra: str = "") -> str:
    """The headless command that asks for ``spec`` (for hints), quoted for a shell."""
    q = shlex.quote
    if spec.undoes is not None:
        words = ["oncall-tui", "undo", spec.undoes]
    else:
        name = spec.kind.replace("_", "-")
        words = ["oncall-tui", name, spec.route]
        if spec.kind == "kill_switch" and not spec.enabled:
            words.append("--off")
        elif spec.kind == "rollback":
            words += ["--to", str(spec.to_version)]
        elif spec.kind == "failover":
            words += ["--to", spec.to_tier] if spec.to_tier else ["--clear"]
        words += ["--reason", spec.reason]
        rid = request_id if request_id is not None else spec.request_id
        if rid is not None:
            words += ["--id", rid]
        if spec.via:
            words += ["--via", spec.via]
    if spec.env:
        words += ["--env", spec.env]
    command = " ".join(q(w) for w in words)
    return f"{command} {extra}".rstrip()
