"""Fault tests: each asserts nothing is applied twice and nothing is missing from the log.

The target is a fake Unleash behind ``httpx.MockTransport`` that keeps real
state (the flag's on/off) and counts the changes it applied: the faults here
(a 500 then success, a timeout after the change landed, a connection dropped
mid-request) are ones a real server will not produce on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
import pytest

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor, RetryPolicy
from oncall_tui.errors import ActionError
from oncall_tui.plugins import PluginContext, build

FLAG = "ai-summarizer-kill"
ADMIN = f"/api/admin/projects/default/features/{FLAG}"


class FakeUnleash:
    """Just enough Unleash: admin GET, env on/off, client GET; faults on the write."""

    def __init__(self, fault: Callable[[int, FakeUnleash], httpx.Response | None] | None = None):
        self.enabled = True  # the AI path serves
        self.writes = 0  # write requests received
        self.applied = 0  # state changes actually made
        self.fault = fault
        self.auth_seen: list[str] = []

    def apply(self, enabled: bool) -> None:
        if self.enabled != enabled:
            self.applied += 1
        self.enabled = enabled

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.auth_seen.append(request.headers.get("authorization", ""))
        path = request.url.path
        if request.method == "GET" and path == ADMIN:
            return httpx.Response(
                200,
                json={
                    "name": FLAG,
                    "environments": [
                        {"name": "development", "enabled": self.enabled, "strategies": []}
                    ],
                },
            )
        if request.method == "GET" and path == f"/api/client/features/{FLAG}":
            return httpx.Response(
                200, json={"name": FLAG, "enabled": self.enabled, "strategies": []}
            )
        if request.method == "POST" and path.startswith(f"{ADMIN}/environments/development/"):
            self.writes += 1
            if self.fault is not None:
                response = self.fault(self.writes, self)
                if response is not None:
                    return response
            self.apply(path.endswith("/on"))
            return httpx.Response(200)
        return httpx.Response(404, json={"message": f"no {request.method} {path}"})


def make_executor(
    fake: FakeUnleash, tmp_path: Path, environ: dict[str, str] | None = None
) -> Executor:
    from oncall_tui.actions.redact import Redactor

    env = environ or {"UA": "admin-token", "UC": "client-token"}
    ctx = PluginContext(environ=env, transport=httpx.MockTransport(fake.handler))
    adapter = build(
        "unleash",
        {
            "url": "http://127.0.0.1:4242",
            "admin_token_env": "UA",
            "client_token_env": "UC",
            "routes": {"summarizer": {"kill_switch": FLAG}},
        },
        ctx,
    )
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    return Executor(
        audit=AuditLog(tmp_path / "audit.jsonl"),
        adapters={"flags": adapter},
        actor="tester@host",
        env="prod",
        redactor=Redactor(env.values()),
        retry=RetryPolicy(attempts=3, backoff_s=0.1),
        verify_every_s=0.01,
        verify_deadline_s=0.5,
        sleep=sleep,
    )


SPEC = ActionSpec(kind="kill_switch", route="summarizer", enabled=True, reason="INC-42 bad answers")


def stages(tmp_path: Path) -> list[str]:
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.verify().ok
    return [r.stage for r in log.records()]


async def run(ex: Executor) -> object:
    async with ex:
        plan = await ex.plan(SPEC)
        return await ex.execute(plan, confirm=Confirmation(assume_yes=True))


async def test_500_then_success_applies_once_and_logs_both_attempts(tmp_path: Path) -> None:
    fake = FakeUnleash(
        lambda n, f: httpx.Response(500, json={"message": "db hiccup"}) if n == 1 else None
    )
    result = await run(make_executor(fake, tmp_path))
    assert result.outcome == "verified"  # type: ignore[attr-defined]
    assert fake.enabled is False and fake.applied == 1 and fake.writes == 2
    assert stages(tmp_path) == [
        "captured",
        "planned",
        "confirmed",
        "attempt",
        "attempt_failed",
        "attempt",
        "executed",
        "verified",
        "undo_ready",
    ]


async def test_timeout_after_the_change_landed_is_not_sent_again(tmp_path: Path) -> None:
    def landed_then_timeout(n: int, f: FakeUnleash) -> httpx.Response | None:
        f.apply(False)  # the server did it ...
        raise httpx.ReadTimeout("read timed out")  # ... and the answer never came

    fake = FakeUnleash(landed_then_timeout)
    result = await run(make_executor(fake, tmp_path))
    assert result.outcome == "verified"  # type: ignore[attr-defined]
    assert fake.writes == 1 and fake.applied == 1
    log = AuditLog(tmp_path / "audit.jsonl").records()
    assert [r.stage for r in log][3:6] == ["attempt", "attempt_failed", "executed"]
    assert log[5].data["recovered"] is True


async def test_connection_dropped_mid_request_is_resent_once_and_applied_once(
    tmp_path: Path,
) -> None:
    def drop_first(n: int, f: FakeUnleash) -> httpx.Response | None:
        if n == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return None

    fake = FakeUnleash(drop_first)
    result = await run(make_executor(fake, tmp_path))
    assert result.outcome == "verified"  # type: ignore[attr-defined]
    assert fake.writes == 2 and fake.applied == 1
    assert stages(tmp_path).count("attempt") == 2
    assert stages(tmp_path)[-2:] == ["verified", "undo_ready"]


async def test_a_4xx_is_never_retried_and_says_nothing_was_applied(tmp_path: Path) -> None:
    fake = FakeUnleash(lambda n, f: httpx.Response(403, json={"message": "invalid token"}))
    result = await run(make_executor(fake, tmp_path))
    assert result.outcome == "failed" and not result.applied  # type: ignore[attr-defined]
    assert fake.writes == 1 and fake.applied == 0
    log = AuditLog(tmp_path / "audit.jsonl").records()
    assert [r.stage for r in log][-2:] == ["attempt_failed", "failed"]
    assert log[-1].data["applied"] is False


async def test_the_retry_budget_is_bounded_and_backs_off(tmp_path: Path) -> None:
    fake = FakeUnleash(lambda n, f: httpx.Response(503, json={"message": "down"}))
    ex = make_executor(fake, tmp_path)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    ex.sleep = sleep
    result = await run(ex)
    assert result.outcome == "failed"  # type: ignore[attr-defined]
    assert "outcome unknown" in result.detail  # type: ignore[attr-defined]
    assert fake.writes == 3 and fake.applied == 0
    assert slept == [0.1, 0.2]
    assert stages(tmp_path)[-1] == "failed"


async def test_rerun_after_success_reports_and_sends_nothing(tmp_path: Path) -> None:
    fake = FakeUnleash()
    await run(make_executor(fake, tmp_path))
    again = await run(make_executor(fake, tmp_path))
    assert again.outcome == "already_done" and again.verified  # type: ignore[attr-defined]
    assert fake.writes == 1 and fake.applied == 1


async def test_a_different_request_id_is_a_different_action(tmp_path: Path) -> None:
    a = msgspec.structs.replace(SPEC, request_id="INC-1")
    b = msgspec.structs.replace(SPEC, request_id="INC-2")
    assert a.idempotency_key() != b.idempotency_key()
    assert (
        a.idempotency_key() == msgspec.structs.replace(SPEC, request_id="INC-1").idempotency_key()
    )


async def test_crash_after_attempt_before_answer_resumes_without_resending(tmp_path: Path) -> None:
    """The log ends at 'attempt' (the process died mid-call) and the change had landed."""
    fake = FakeUnleash()
    ex = make_executor(fake, tmp_path)
    async with ex:
        plan = await ex.plan(SPEC)
        # What execute() writes before the call, then the call lands, then the crash.
        for stage, data in (
            ("captured", {}),
            ("planned", {"plan": msgspec.to_builtins(plan)}),
            ("confirmed", {}),
            ("attempt", {"n": 1}),
        ):
            ex._log(plan, stage, data)
        fake.apply(False)
    resumed = await run(make_executor(fake, tmp_path))
    assert resumed.outcome == "verified" and resumed.resumed  # type: ignore[attr-defined]
    assert fake.writes == 0 and fake.applied == 1
    assert stages(tmp_path)[4:] == ["confirmed", "executed", "verified", "undo_ready"]


async def test_typed_confirmation_must_be_the_route_name(tmp_path: Path) -> None:
    fake = FakeUnleash()
    async with make_executor(fake, tmp_path) as ex:
        plan = await ex.plan(SPEC)
        assert plan.confirm_phrase == "summarizer"
        with pytest.raises(ActionError, match="summarizer"):
            await ex.execute(plan, confirm=Confirmation(typed="summarize"))
        assert fake.writes == 0
        assert AuditLog(tmp_path / "audit.jsonl").records() == []
        result = await ex.execute(plan, confirm=Confirmation(typed="summarizer"))
    assert result.outcome == "verified"


async def test_not_verified_when_the_read_back_never_matches(tmp_path: Path) -> None:
    class Stuck(FakeUnleash):
        def apply(self, enabled: bool) -> None:  # the write is accepted and ignored
            pass

    fake = Stuck()
    result = await run(make_executor(fake, tmp_path))
    assert result.outcome == "not_verified" and result.applied and not result.verified  # type: ignore[attr-defined]
    assert result.verify_polls >= 2  # type: ignore[attr-defined]
    assert stages(tmp_path)[-1] == "not_verified"


async def test_a_second_console_on_the_same_key_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    fake = FakeUnleash()
    async with make_executor(fake, tmp_path) as ex:
        plan = await ex.plan(SPEC)
        # The other console holds the key while we try.
        with (
            ex.audit.key_lock(plan.idempotency_key),
            pytest.raises(ActionError, match="another console"),
        ):
            await ex.execute(plan, confirm=Confirmation(assume_yes=True))
        assert fake.writes == 0
        result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "verified" and fake.applied == 1


async def test_a_plan_made_before_another_console_finished_does_not_apply_again(
    tmp_path: Path,
) -> None:
    fake = FakeUnleash()
    async with make_executor(fake, tmp_path) as first, make_executor(fake, tmp_path) as second:
        stale = await second.plan(SPEC)  # planned while nothing had happened yet
        await first.execute(await first.plan(SPEC), confirm=Confirmation(assume_yes=True))
        result = await second.execute(stale, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "already_done"
    assert fake.writes == 1 and fake.applied == 1


async def test_rerun_after_undo_says_so_and_does_not_claim_the_state_holds(tmp_path: Path) -> None:
    fake = FakeUnleash()
    first = await run(make_executor(fake, tmp_path))
    async with make_executor(fake, tmp_path) as ex:
        undo = await ex.plan(ex.undo_spec(first.action_id))  # type: ignore[attr-defined]
        assert (await ex.execute(undo, confirm=Confirmation(assume_yes=True))).verified
    again = await run(make_executor(fake, tmp_path))
    assert again.outcome == "already_done" and not again.verified  # type: ignore[attr-defined]
    assert "undone by" in again.detail  # type: ignore[attr-defined]
    assert fake.enabled is True and fake.writes == 2  # nothing sent by the re-run
    async with make_executor(fake, tmp_path) as ex:
        spec = msgspec.structs.replace(SPEC, request_id="INC-42 second time")
        result = await ex.execute(await ex.plan(spec), confirm=Confirmation(assume_yes=True))
    assert result.outcome == "verified" and fake.enabled is False and fake.writes == 3


async def test_an_unreadable_answer_is_a_failure_of_unknown_outcome_not_a_crash(
    tmp_path: Path,
) -> None:
    from oncall_tui.sources.native import NativeGateway, Options

    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.url.path == "/v1/routes":
            return httpx.Response(
                200,
                json={
                    "gateway_time": "2026-11-24T08:00:00Z",
                    "routes": [
                        {
                            "name": "chat",
                            "version": "v2",
                            "primary": {"provider": "p", "model": "m"},
                        }
                    ],
                },
            )
        if request.method == "POST":
            posts += 1
            return httpx.Response(200, content=b"<html>proxy error page</html>")
        return httpx.Response(500, json={"error": {"code": "internal", "message": "down"}})

    gw = NativeGateway(
        Options(url="http://127.0.0.1:1"),
        PluginContext(environ={}, transport=httpx.MockTransport(handler)),
    )
    async with Executor(
        audit=AuditLog(tmp_path / "a.jsonl"), adapters={"gw": gw}, actor="me", env="prod"
    ) as ex:
        plan = await ex.plan(ActionSpec(kind="kill_switch", route="chat", enabled=True, reason="r"))
        result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "failed" and "outcome unknown" in result.detail
    assert posts == 1  # never resent blindly
    records = AuditLog(tmp_path / "a.jsonl").records()
    assert records[-1].stage == "failed" and records[-1].data["applied"] == "unknown"


async def test_specs_missing_their_target_are_usage_errors(tmp_path: Path) -> None:
    from oncall_tui.errors import UsageError

    async with make_executor(FakeUnleash(), tmp_path) as ex:
        with pytest.raises(UsageError):
            await ex.plan(ActionSpec(kind="kill_switch", route="summarizer", reason="r"))
        with pytest.raises(UsageError):
            await ex.plan(ActionSpec(kind="rollback", route="summarizer", reason="r"))
