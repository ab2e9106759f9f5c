"""The action lifecycle: capture -> plan -> confirm -> execute once -> verify -> undo.

Called by the CLI, the runbook engine and the TUI::

    executor = Executor(audit=AuditLog(path), adapters=adapters, actor="me@host", env="prod")
    plan = await executor.plan(ActionSpec(kind="kill_switch", route="summarizer",
                                          enabled=True, reason="INC-7 bad answers"))
    result = await executor.execute(plan, confirm=Confirmation(typed="summarizer"))

Every stage is written to the audit log (fsynced) before the next starts. A
re-run with the same idempotency key reads the log first: a finished action
is reported, never applied again; an interrupted one resumes where it stopped,
reading the target's state back before deciding whether a call is still owed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from oncall_tui.actions.audit import AuditLog, AuditRecord
from oncall_tui.actions.model import (
    ActionResult,
    ActionSpec,
    Change,
    Plan,
    Stage,
    cli_command,
)
from oncall_tui.actions.redact import Redactor
from oncall_tui.core.gateway import ActionRecord
from oncall_tui.errors import (
    ActionError,
    NotFoundError,
    OncallError,
    RemoteError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from oncall_tui.sources.capabilities import (
    Failover,
    KillSwitch,
    Observation,
    Rollback,
    Verifiable,
)

_CAPABILITY: dict[str, type[Any]] = {
    "kill_switch": KillSwitch,
    "rollback": Rollback,
    "failover": Failover,
}

#: Stages after which a call may have reached the target.
_SENT = ("attempt", "attempt_failed", "executed", "failed")
#: Last stages a re-run continues from (the plan in the log is kept).
_RESUMES = (*_SENT, "verified", "not_verified")


class Confirmation(msgspec.Struct, frozen=True):
    """How the person said yes: the typed phrase, or ``--yes`` in a script."""

    typed: str | None = None
    assume_yes: bool = False

    @property
    def how(self) -> str:
        return "--yes (headless)" if self.assume_yes else "typed confirmation"


class RetryPolicy(msgspec.Struct, frozen=True):
    attempts: int = 3  # total calls, first included
    backoff_s: float = 0.5
    factor: float = 2.0


def _retryable(exc: OncallError) -> bool:
    """Only failures that say nothing about the request itself: never a 4xx."""
    if isinstance(exc, UnreachableError):
        return True
    return isinstance(exc, RemoteError) and exc.status is not None and exc.status >= 500


class Executor:
    def __init__(
        self,
        *,
        audit: AuditLog,
        adapters: Mapping[str, object],
        actor: str,
        env: str,
        redactor: Redactor | None = None,
        retry: RetryPolicy | None = None,
        verify_deadline_s: float = 60.0,
        verify_every_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self.adapters = dict(adapters)
        self.actor = actor
        self.env = env
        self.redactor = redactor or Redactor()
        self.retry = retry or RetryPolicy()
        self.verify_deadline_s = verify_deadline_s
        self.verify_every_s = verify_every_s
        self.sleep = sleep
        self.clock = clock

    async def aclose(self) -> None:
        """Close every adapter's connections (adapters that hold any)."""
        for adapter in self.adapters.values():
            close = getattr(adapter, "aclose", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> Executor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ choosing

    def capable(self, kind: str) -> dict[str, object]:
        """Adapters that can do ``kind`` and read it back: what a UI may offer."""
        cap = _CAPABILITY[kind]
        return {
            name: a
            for name, a in self.adapters.items()
            if isinstance(a, cap) and isinstance(a, Verifiable)
        }

    def _choose(self, spec: ActionSpec) -> tuple[str, Any]:
        found = self.capable(spec.kind)
        if spec.via is not None:
            if spec.via not in self.adapters:
                raise UnsupportedError(
                    f"no adapter named {spec.via!r} in environment {self.env!r}",
                    hint=f"have: {', '.join(self.adapters) or 'none'}",
                )
            if spec.via not in found:
                raise UnsupportedError(f"adapter {spec.via!r} cannot {spec.kind} with read-back")
            return spec.via, found[spec.via]
        if not found:
            raise UnsupportedError(
                f"no adapter in environment {self.env!r} can {spec.kind} with read-back",
                hint=f"have: {', '.join(self.adapters) or 'none configured'}",
            )
        name = next(iter(found))
        return name, found[name]

    # ------------------------------------------------------------ audit

    def _log(self, plan: Plan, stage: str, data: dict[str, Any] | None = None) -> AuditRecord:
        return self.audit.append(
            action_id=plan.action_id,
            key=plan.idempotency_key,
            stage=stage,
            actor=plan.actor,
            env=plan.spec.env,
            kind=plan.spec.kind,
            route=plan.spec.route,
            data=self.redactor.scrub(data or {}),
        )

    async def _guard(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except OncallError as exc:
            raise self.redactor.error(exc) from exc.__cause__

    # ------------------------------------------------------------ plan

    async def plan(self, spec: ActionSpec) -> Plan:
        if not spec.reason.strip():
            raise ActionError("an action needs a reason (it goes to the audit log and the target)")
        if spec.kind == "kill_switch" and spec.enabled is None:
            raise UsageError("a kill switch action needs enabled=True (on) or False (off)")
        if spec.kind == "rollback" and not spec.to_version:
            raise UsageError("a rollback needs the version to roll back to")
        spec = msgspec.structs.replace(spec, env=spec.env or self.env)
        warnings = self._log_damage()
        followed: set[str] = set()
        while True:
            key = spec.idempotency_key()
            history = self.audit.for_key(key)
            stages = [r.stage for r in history]
            if not any(s in _SENT for s in stages):
                plan = await self._fresh_plan(spec, stages)
                return msgspec.structs.replace(plan, warnings=warnings)
            plan = _stored_plan(history)
            plan = msgspec.structs.replace(plan, resume_from=stages[-1], warnings=warnings)
            done = stages[-1] == "undo_ready" or (stages[-1] == "verified" and plan.undo is None)
            if not done:
                return plan
            undone_by = self._undone_by(plan.action_id)
            if undone_by is not None:
                # Reporting "done" here would tell a script the state holds; it does not.
                previous = msgspec.structs.replace(
                    _result_from(history),
                    verified=False,
                    detail=f"applied earlier as {plan.action_id}, then undone by "
                    f"{undone_by}; nothing sent. Pass a new --id to apply it again",
                )
                return msgspec.structs.replace(plan, previous=previous)
            # A later action may already have re-applied this one (its state
            # was lost once before): that one speaks for the command now.
            newer = self._superseded_by(plan.action_id)
            if newer is None or newer.idempotency_key() in followed:
                return await self._recheck(plan, history)
            followed.add(key)
            spec = newer

    async def _fresh_plan(self, spec: ActionSpec, stages: list[str]) -> Plan:
        name, adapter = self._choose(spec)
        prior = await self._guard(adapter.capture(spec.intent))
        return Plan(
            action_id=spec.action_id(),
            idempotency_key=spec.idempotency_key(),
            spec=spec,
            actor=self.actor,
            adapter=name,
            target=self.redactor.text(adapter.target),
            prior=prior,
            changes=_changes(spec, prior, adapter.target),
            undo=_inverse(spec, prior),
            confirm_phrase=spec.route,
            resume_from=stages[-1] if stages else None,
        )

    async def _recheck(self, plan: Plan, history: list[AuditRecord]) -> Plan:
        """A finished action, re-run: the log says what was done; the target says
        whether it still holds (read the way verification reads it)."""
        previous = _result_from(history)
        adapter: Any = self.adapters.get(plan.adapter)
        if adapter is None:
            previous = msgspec.structs.replace(
                previous,
                verified=False,
                detail=f"applied and verified earlier as {plan.action_id}; cannot check it "
                f"now: adapter {plan.adapter!r} is not in environment {self.env!r}; nothing sent",
            )
            return msgspec.structs.replace(plan, previous=previous)
        try:
            seen: Observation = await self._guard(adapter.observe(plan.spec.intent))
        except OncallError as exc:
            previous = msgspec.structs.replace(
                previous,
                verified=False,
                rechecked=True,
                detail=f"applied and verified earlier as {plan.action_id}; cannot read the "
                f"target now ({exc}); nothing sent",
            )
            return msgspec.structs.replace(plan, previous=previous)
        if seen.holds:
            previous = msgspec.structs.replace(
                previous,
                observation=seen,
                rechecked=True,
                detail=f"applied and verified earlier as {plan.action_id}, and it still holds "
                f"now: {seen.detail}; nothing sent",
            )
            return msgspec.structs.replace(plan, previous=previous)
        # Changed outside the tool. The old key is spent (its log is complete),
        # so applying the state again is a new action with its own key that
        # names the old one: offered, and done only when confirmed.
        again = msgspec.structs.replace(plan.spec, supersedes=plan.action_id)
        fresh = await self._fresh_plan(
            again, [r.stage for r in self.audit.for_key(again.idempotency_key())]
        )
        return msgspec.structs.replace(
            fresh, drift=_scrubbed(self.redactor, seen), warnings=plan.warnings
        )

    def _superseded_by(self, action_id: str) -> ActionSpec | None:
        """The spec of the last action planned to re-apply ``action_id``."""
        found = None
        for r in self.audit.records():
            if r.stage != "planned":
                continue
            spec = (r.data.get("plan") or {}).get("spec") or {}
            if spec.get("supersedes") == action_id:
                found = spec
        return msgspec.convert(found, ActionSpec) if found is not None else None

    def _log_damage(self) -> list[str]:
        """What is wrong with the audit log, as warnings: acting goes on (a person
        may need to act now), but loudly, and the action's records say so."""
        report = self.audit.verify()
        if report.ok:
            return []
        shown = [f"{p.kind}: {p.message}" for p in report.problems[:5]]
        more = len(report.problems) - len(shown)
        head = (
            f"the audit log {self.audit.path} is damaged ({len(report.problems)} problem(s)"
            + (f", {more} not shown" if more else "")
            + "); 'oncall-tui audit verify' shows them, 'oncall-tui audit repair' mends it"
        )
        return [head, *shown]

    def _undone_by(self, action_id: str) -> str | None:
        """The id of a finished undo of ``action_id``, if the log holds one."""
        undo_keys: dict[str, str] = {}
        finished: set[str] = set()
        for r in self.audit.records():
            if r.stage == "planned":
                spec = (r.data.get("plan") or {}).get("spec") or {}
                if spec.get("undoes") == action_id:
                    undo_keys[r.key] = r.action_id
            elif r.stage in ("verified", "undo_ready"):
                finished.add(r.key)
        done = [aid for key, aid in undo_keys.items() if key in finished]
        return done[-1] if done else None

    # ------------------------------------------------------------ execute

    async def execute(
        self, plan: Plan, *, confirm: Confirmation, wait: bool = False
    ) -> ActionResult:
        """Run the plan once; a second console running the same key is refused.

        ``wait``: on a re-run of an action the log says ended ``not_verified``,
        poll the read-back for the whole deadline again (default: look once).
        """
        with self.audit.key_lock(plan.idempotency_key):
            if plan.previous is None and plan.resume_from not in _SENT:
                stages = [r.stage for r in self.audit.for_key(plan.idempotency_key)]
                if any(s in _SENT for s in stages):
                    # Another console acted between our plan and now: go by its log.
                    plan = await self.plan(plan.spec)
            result = await self._execute(plan, confirm, wait)
            return msgspec.structs.replace(result, warnings=plan.warnings)

    async def _execute(self, plan: Plan, confirm: Confirmation, wait: bool) -> ActionResult:
        if plan.previous is not None:
            return msgspec.structs.replace(plan.previous, outcome="already_done", resumed=True)
        resuming = plan.resume_from in _RESUMES
        self._check_confirmation(plan, confirm)
        if not resuming:
            captured: dict[str, Any] = {"prior": plan.prior, "adapter": plan.adapter}
            if plan.spec.supersedes is not None:
                captured["supersedes"] = plan.spec.supersedes
                if plan.drift is not None:
                    captured["drift"] = msgspec.to_builtins(plan.drift)
                captured["detail"] = (
                    f"re-applies {plan.spec.supersedes}, whose state no longer held"
                )
            self._log(plan, "captured", captured)
            self._log(
                plan, "planned", {"plan": msgspec.to_builtins(plan), "detail": plan.describe()[0]}
            )
        confirmed: dict[str, Any] = {"how": confirm.how, "resume": resuming}
        if plan.warnings:
            # The damage this action was taken on, in the action's own record.
            confirmed["log_damaged"] = plan.warnings
        self._log(plan, "confirmed", confirmed)
        adapter = self.adapters.get(plan.adapter)
        if adapter is None:
            raise UnsupportedError(
                f"{plan.action_id} was planned with adapter {plan.adapter!r}, "
                "which this environment no longer has"
            )
        stages = [r.stage for r in self.audit.for_key(plan.idempotency_key)]
        record: ActionRecord | None = None
        attempts = stages.count("attempt")
        if "executed" not in stages:
            outcome = await self._apply(plan, adapter, attempts, resuming)
            if isinstance(outcome, ActionResult):
                return outcome
            record, attempts = outcome
        else:
            record = _record_from(self.audit.for_key(plan.idempotency_key))
        if plan.resume_from == "not_verified" and not wait:
            # It already waited a whole deadline once: look once, and say what to do.
            observation, polls = await self._observe(adapter, plan.spec), 1
        else:
            observation, polls = await self._verify(plan, adapter)
        if observation.holds:
            self._log(
                plan,
                "verified",
                {
                    "observation": msgspec.to_builtins(observation),
                    "polls": polls,
                    "detail": observation.detail,
                },
            )
            if plan.undo is not None:
                self._log(
                    plan,
                    "undo_ready",
                    {"undo": msgspec.to_builtins(plan.undo), "detail": "inverse call ready"},
                )
        else:
            hint = _not_verified_hint(plan)
            self._log(
                plan,
                "not_verified",
                {
                    "observation": msgspec.to_builtins(observation),
                    "polls": polls,
                    "detail": observation.detail,
                    "hint": hint,
                },
            )
        return self._result(
            plan,
            outcome="verified" if observation.holds else "not_verified",
            applied=True,
            verified=observation.holds,
            detail=observation.detail,
            record=record,
            observation=observation,
            polls=polls,
            attempts=attempts,
            resumed=resuming,
            hint="" if observation.holds else _not_verified_hint(plan),
        )

    def _check_confirmation(self, plan: Plan, confirm: Confirmation) -> None:
        if confirm.assume_yes:
            return
        if plan.confirm_phrase is not None and confirm.typed != plan.confirm_phrase:
            raise ActionError(
                f"not confirmed: type the route name {plan.confirm_phrase!r} to confirm "
                f"{plan.action_id}"
            )

    async def _apply(
        self, plan: Plan, adapter: Any, attempts: int, resuming: bool
    ) -> tuple[ActionRecord, int] | ActionResult:
        spec = plan.spec
        if resuming or _already(plan):
            # A call may have landed before the crash (or the target already
            # is as asked): look before sending anything.
            seen = await self._observe(adapter, spec)
            if seen.holds:
                record = _synth(plan, "found in the intended state; nothing sent")
                self._log(
                    plan,
                    "executed",
                    {
                        "record": msgspec.to_builtins(record),
                        "recovered": True,
                        "detail": seen.detail,
                    },
                )
                return record, attempts
            if resuming and not adapter.repeat_safe(spec.kind):
                return self._fail(
                    plan,
                    "an earlier call may have landed and a repeat is not safe on this target; "
                    "check it by hand",
                    attempts,
                    applied_unknown=True,
                )
        delay = self.retry.backoff_s
        budget = self.retry.attempts
        for n in range(1, budget + 1):
            attempts += 1
            self._log(plan, "attempt", {"n": attempts, "idempotency_key": plan.idempotency_key})
            try:
                record = await self._guard(self._call(adapter, plan))
            except OncallError as exc:
                retry = _retryable(exc) and adapter.repeat_safe(spec.kind) and n < budget
                self._log(
                    plan, "attempt_failed", {"n": attempts, "error": str(exc), "retry": retry}
                )
                if not _retryable(exc):
                    return self._fail(plan, str(exc), attempts, applied_unknown=False)
                if not retry:
                    return self._fail(plan, str(exc), attempts, applied_unknown=True)
                await self.sleep(delay)
                delay *= self.retry.factor
                # The failed call may have landed (a timeout after the change):
                # read back before resending, so a repeat is only ever a no-op.
                seen = await self._observe(adapter, spec)
                if seen.holds:
                    record = _synth(plan, "the failed call had landed; not sent again")
                    self._log(
                        plan,
                        "executed",
                        {
                            "record": msgspec.to_builtins(record),
                            "recovered": True,
                            "detail": seen.detail,
                        },
                    )
                    return record, attempts
                continue
            except Exception as exc:  # an adapter bug, or an answer we cannot read
                # The call may have landed: say so, and never resend blindly.
                error = f"{type(exc).__name__} while calling the target: {exc}"
                self._log(plan, "attempt_failed", {"n": attempts, "error": error, "retry": False})
                return self._fail(plan, self.redactor.text(error), attempts, applied_unknown=True)
            self._log(
                plan,
                "executed",
                {"record": msgspec.to_builtins(record), "detail": record.detail or record.state},
            )
            return record, attempts
        raise AssertionError(
            "unreachable: the loop returns on its last attempt"
        )  # pragma: no cover

    def _fail(
        self, plan: Plan, error: str, attempts: int, *, applied_unknown: bool
    ) -> ActionResult:
        self._log(
            plan,
            "failed",
            {"error": error, "applied": "unknown" if applied_unknown else False, "detail": error},
        )
        return self._result(
            plan,
            outcome="failed",
            applied=False,
            verified=False,
            detail=("outcome unknown: " if applied_unknown else "not applied: ") + error,
            attempts=attempts,
        )

    async def _call(self, adapter: Any, plan: Plan) -> ActionRecord:
        spec = plan.spec
        common = {
            "reason": spec.reason,
            "actor": plan.actor,
            "idempotency_key": plan.idempotency_key,
        }
        if spec.kind == "kill_switch":
            result: ActionRecord = await adapter.set_kill_switch(
                spec.route, enabled=bool(spec.enabled), **common
            )
        elif spec.kind == "rollback":
            assert spec.to_version is not None
            result = await adapter.rollback(spec.route, to_version=spec.to_version, **common)
        else:
            result = await adapter.failover(spec.route, to_tier=spec.to_tier, **common)
        return result

    async def _observe(self, adapter: Any, spec: ActionSpec) -> Observation:
        try:
            seen: Observation = await self._guard(adapter.observe(spec.intent))
        except OncallError as exc:
            return Observation(holds=False, detail=f"read-back failed: {exc}")
        except Exception as exc:  # an answer the adapter could not read
            return Observation(holds=False, detail=f"read-back failed: {type(exc).__name__}")
        return seen

    async def _verify(self, plan: Plan, adapter: Any) -> tuple[Observation, int]:
        deadline = self.clock() + self.verify_deadline_s
        polls = 0
        while True:
            polls += 1
            seen = await self._observe(adapter, plan.spec)
            if seen.holds or self.clock() >= deadline:
                return seen, polls
            await self.sleep(self.verify_every_s)

    def _result(self, plan: Plan, **kw: Any) -> ActionResult:
        records = self.audit.for_key(plan.idempotency_key)
        return ActionResult(
            action_id=plan.action_id,
            idempotency_key=plan.idempotency_key,
            outcome=kw["outcome"],
            applied=kw["applied"],
            verified=kw["verified"],
            detail=self.redactor.text(kw["detail"]),
            stages=[Stage(r.stage, r.ts, str(r.data.get("detail", ""))) for r in records],
            record=kw.get("record"),
            observation=kw.get("observation"),
            verify_polls=kw.get("polls", 0),
            attempts=kw.get("attempts", 0),
            undo=plan.undo if kw["verified"] else None,
            resumed=kw.get("resumed", False),
            hint=self.redactor.text(kw.get("hint", "")),
        )

    # ------------------------------------------------------------ undo

    def undo_spec(self, action_id: str, reason: str | None = None) -> ActionSpec:
        """The inverse of a finished action, as recorded when it verified."""
        records = self.audit.for_action(action_id)
        if not records:
            raise NotFoundError(f"no action {action_id!r} in the audit log {self.audit.path}")
        ready = [r for r in records if r.stage == "undo_ready"]
        if not ready:
            last = records[-1].stage
            raise ActionError(
                f"{action_id} has no undo ready (it got as far as {last!r}); "
                "only an applied and verified action keeps its inverse"
            )
        spec = msgspec.convert(ready[-1].data["undo"], ActionSpec)
        if reason:
            spec = msgspec.structs.replace(spec, reason=reason)
        return spec


# ---------------------------------------------------------------- helpers


def _stored_plan(history: list[AuditRecord]) -> Plan:
    stored = next((r for r in reversed(history) if r.stage == "planned"), None)
    if stored is None:
        raise ActionError(
            f"the audit log holds calls for {history[0].action_id} but not its plan",
            hint="'oncall-tui audit verify' shows what is damaged; a new --id starts a new action",
        )
    return msgspec.convert(stored.data["plan"], Plan)


def _scrubbed(redactor: Redactor, seen: Observation) -> Observation:
    return msgspec.convert(redactor.scrub(msgspec.to_builtins(seen)), Observation)


def _not_verified_hint(plan: Plan) -> str:
    """What to do about an action applied but not seen to hold, naming the commands."""
    wait = cli_command(plan.spec, extra="--yes --wait")
    if plan.spec.undoes is not None:
        return f"to poll the read-back for the whole deadline again: {wait}"
    rid = plan.spec.request_id if plan.spec.request_id is not None else plan.spec.reason
    again = cli_command(plan.spec, request_id=f"{rid} after {plan.action_id}", extra="--yes")
    return (
        "the target does not show the state asked for. If it lost it (a restart, or a "
        f"change made elsewhere), apply it again as a new action: {again}; if traffic "
        f"has yet to move, poll the read-back for the whole deadline again: {wait}"
    )


def _already(plan: Plan) -> bool:
    return bool(plan.changes) and all(c.before == c.after for c in plan.changes)


def _changes(spec: ActionSpec, prior: Mapping[str, Any], target: str) -> list[Change]:
    who = f"all traffic of route {spec.route!r}"
    if spec.kind == "kill_switch":
        return [Change("kill switch", prior.get("kill_switch"), bool(spec.enabled), target, who)]
    if spec.kind == "rollback":
        return [Change("serving version", prior.get("version"), spec.to_version, target, who)]
    return [Change("forced tier", prior.get("failover_to"), spec.to_tier, target, who)]


def _inverse(spec: ActionSpec, prior: Mapping[str, Any]) -> ActionSpec | None:
    """The call that puts back what the action replaces; None when nothing would change."""
    base = ActionSpec(
        kind=spec.kind,
        route=spec.route,
        env=spec.env,
        via=spec.via,
        reason=f"undo: {spec.reason}",
        undoes=spec.action_id(),
    )
    replace = msgspec.structs.replace
    if spec.kind == "kill_switch":
        before = prior.get("kill_switch")
        if before is None or bool(before) == bool(spec.enabled):
            return None
        return replace(base, enabled=bool(before))
    if spec.kind == "rollback":
        before = prior.get("version")
        if not isinstance(before, str) or before == spec.to_version:
            return None
        return replace(base, to_version=before)
    before_tier = prior.get("failover_to")
    if before_tier == spec.to_tier:
        return None
    return replace(base, to_tier=before_tier if isinstance(before_tier, str) else None)


def _synth(plan: Plan, detail: str) -> ActionRecord:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return ActionRecord(
        id=plan.action_id,
        kind=plan.spec.kind,
        route=plan.spec.route,
        state="applied",
        actor=plan.actor,
        reason=plan.spec.reason,
        idempotency_key=plan.idempotency_key,
        requested_at=now,
        applied_at=now,
        before=dict(plan.prior),
        detail=detail,
    )


def _record_from(records: list[AuditRecord]) -> ActionRecord | None:
    for r in reversed(records):
        if r.stage == "executed" and "record" in r.data:
            return msgspec.convert(r.data["record"], ActionRecord)
    return None


def _result_from(records: list[AuditRecord]) -> ActionResult:
    """What a finished action's log says, for a re-run that must not re-apply."""
    first = records[0]
    observation = None
    undo = None
    for r in records:
        if r.stage == "verified":
            observation = msgspec.convert(r.data.get("observation"), Observation)
        if r.stage == "undo_ready":
            undo = msgspec.convert(r.data["undo"], ActionSpec)
    return ActionResult(
        action_id=first.action_id,
        idempotency_key=first.key,
        outcome="verified",
        applied=True,
        verified=True,
        detail=f"already applied and verified as {first.action_id}; nothing sent again",
        stages=[Stage(r.stage, r.ts, str(r.data.get("detail", ""))) for r in records],
        record=_record_from(records),
        observation=observation,
        attempts=sum(1 for r in records if r.stage == "attempt"),
        undo=undo,
    )
