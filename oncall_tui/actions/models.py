"""What an action is (``ActionSpec``), what it would do (``Plan``) and what it did
(``ActionResult``). Shared by the CLI, the runbook engine and the TUI."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

import msgspec

from oncall_tui.core.gateway import ActionRecord

ActionKindName = Literal["kill_switch", "rollback", "failover", "restore"]
Outcome = Literal["verified", "not_verified", "failed", "refused", "planned"]

#: Actions that take a feature's AI away from every user or change what
#: model answers them: typed confirmation (the route name) required.
DANGEROUS: frozenset[str] = frozenset({"kill_switch", "rollback", "failover", "restore"})


class ActionSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: ActionKindName
    route: str
    reason: str
    actor: str
    idempotency_key: str = ""  # derived by ``with_key`` when empty
    enabled: bool | None = None  # kill_switch: True = AI off
    to_version: str | None = None  # rollback
    to_tier: str | None = None  # failover (None: next in chain), restore

    def with_key(self, scope: str = "") -> ActionSpec:
        """A deterministic key: the same command re-run (after a crash, by a
        script, by a second responder) the same UTC day maps to the same key,
        so it finishes or reports the first run instead of applying twice."""
        if self.idempotency_key:
            return self
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        parts = [
            scope,
            day,
            self.kind,
            self.route,
            str(self.enabled),
            str(self.to_version),
            str(self.to_tier),
            self.reason,
            self.actor,
        ]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
        return msgspec.structs.replace(self, idempotency_key=f"otui-{digest}")

    @property
    def action_id(self) -> str:
        """Local id of this action in the audit log (stable per key)."""
        return "a-" + hashlib.sha256(self.idempotency_key.encode()).hexdigest()[:12]


class Change(msgspec.Struct, frozen=True):
    what: str  # "kill switch", "serving version", "forced tier"
    before: str | bool | None
    after: str | bool | None


class Plan(msgspec.Struct, frozen=True):
    spec: ActionSpec
    target: str  # which system and where: "native gateway http://... route support-chat"
    changes: tuple[Change, ...]
    who: str  # who is affected
    dangerous: bool
    confirm_phrase: str  # what a person types to confirm
    verify: str  # how it will be verified
    undo: ActionSpec | None  # the inverse, ready to run
    prior: dict[str, str | bool | None] = {}

    def render(self) -> str:
        lines = [f"{self.spec.kind} on {self.target}"]
        for c in self.changes:
            lines.append(f"  {c.what}: {c.before} -> {c.after}")
        lines.append(f"  affects: {self.who}")
        lines.append(f"  reason: {self.spec.reason} (actor {self.spec.actor})")
        lines.append(f"  verify: {self.verify}")
        if self.undo is not None:
            lines.append(f"  undo: {describe(self.undo)}")
        return "\n".join(lines)


class ActionResult(msgspec.Struct, frozen=True, omit_defaults=True):
    outcome: Outcome
    detail: str
    action_id: str = ""
    idempotency_key: str = ""
    record: ActionRecord | None = None
    verify_attempts: int = 0
    undo: str | None = None  # the inverse, in words
    undo_spec: ActionSpec | None = None
    resumed: bool = False  # a previous run with this key had got this far already
    stages: tuple[str, ...] = ()


def describe(spec: ActionSpec) -> str:
    if spec.kind == "kill_switch":
        what = (
            "ON (AI off; the non-AI fallback serves)" if spec.enabled else "OFF (AI serves again)"
        )
        return f"turn the kill switch of {spec.route} {what}"
    if spec.kind == "rollback":
        return f"roll {spec.route} back to version {spec.to_version}"
    if spec.kind == "failover":
        return f"fail {spec.route} over to {spec.to_tier or 'the next tier in its chain'}"
    return f"restore {spec.route} to its configured primary"
