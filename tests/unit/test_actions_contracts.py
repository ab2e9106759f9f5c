"""Contract tests: the requests we send and how we read answers, against the
documented LaunchDarkly API and LiteLLM's recorded responses (../shared/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor
from oncall_tui.errors import ActionError, RemoteError, UnsupportedError
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import (
    ActionIntent,
    Failover,
    GatewayStatus,
    KillSwitch,
    Rollback,
    Verifiable,
)

LD_FLAG = "/api/v2/flags/ai/summarizer-ai"


class FakeLD:
    """LaunchDarkly's REST API as documented: semantic patch needs its content type."""

    def __init__(self, *, approval_required: bool = False) -> None:
        self.on = True
        self.patches: list[httpx.Request] = []
        self.approval_required = approval_required

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == LD_FLAG:
            assert request.url.params["env"] == "production"
            return httpx.Response(
                200, json={"key": "summarizer-ai", "environments": {"production": {"on": self.on}}}
            )
        if request.method == "PATCH" and request.url.path == LD_FLAG:
            self.patches.append(request)
            if "domain-model=launchdarkly.semanticpatch" not in request.headers.get(
                "content-type", ""
            ):
                return httpx.Response(
                    400, json={"code": "invalid_request", "message": "unsupported json-patch op"}
                )
            if self.approval_required:
                return httpx.Response(
                    405,
                    json={
                        "code": "method_not_allowed",
                        "message": "This environment requires approval for changes",
                    },
                )
            body = json.loads(request.content)
            kinds = [i["kind"] for i in body["instructions"]]
            self.on = {"turnFlagOff": False, "turnFlagOn": True}[kinds[0]]
            return httpx.Response(200, json={"key": "summarizer-ai"})
        return httpx.Response(404, json={"code": "not_found", "message": "Unknown resource"})


def ld(fake: FakeLD) -> object:
    return build(
        "launchdarkly",
        {
            "token_env": "LDT",
            "project": "ai",
            "environment": "production",
            "url": "http://127.0.0.1:9",
            "routes": {"summarizer": "summarizer-ai"},
        },
        PluginContext(
            environ={"LDT": "api-0123-secret"}, transport=httpx.MockTransport(fake.handler)
        ),
    )


async def test_launchdarkly_kill_switch_sends_a_semantic_patch_with_reason_and_bare_token(
    tmp_path: Path,
) -> None:
    fake = FakeLD()
    async with Executor(
        audit=AuditLog(tmp_path / "a.jsonl"), adapters={"ld": ld(fake)}, actor="me@host", env="prod"
    ) as ex:
        plan = await ex.plan(
            ActionSpec(kind="kill_switch", route="summarizer", enabled=True, reason="INC-3")
        )
        result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "verified"
    (patch,) = fake.patches
    assert (
        patch.headers["content-type"] == "application/json; domain-model=launchdarkly.semanticpatch"
    )
    assert patch.headers["authorization"] == "api-0123-secret"  # bare, no Bearer
    body = json.loads(patch.content)
    assert body["environmentKey"] == "production"
    assert body["instructions"] == [{"kind": "turnFlagOff"}]
    assert "INC-3" in body["comment"] and "me@host" in body["comment"]
    assert plan.idempotency_key in body["comment"]
    assert result.undo is not None and result.undo.enabled is False


async def test_launchdarkly_approval_required_is_a_refusal_with_a_hint_not_a_retry() -> None:
    fake = FakeLD(approval_required=True)
    adapter = ld(fake)
    with pytest.raises(ActionError) as err:
        await adapter.set_kill_switch(  # type: ignore[attr-defined]
            "summarizer", enabled=True, reason="r", actor="a", idempotency_key="k"
        )
    assert "approval" in (err.value.hint or "")
    assert len(fake.patches) == 1
    await adapter.aclose()  # type: ignore[attr-defined]


async def test_launchdarkly_400_without_the_domain_model_is_reported_with_its_message() -> None:
    fake = FakeLD()
    transport = httpx.MockTransport(fake.handler)
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=transport) as c:
        from oncall_tui.sources import http

        with pytest.raises(RemoteError, match="unsupported json-patch op") as err:
            await http.request(c, "PATCH", LD_FLAG, "launchdarkly", json={"instructions": []})
    assert err.value.status == 400


def test_capabilities_are_what_each_system_has() -> None:
    def caps(name: str, options: dict[str, object]) -> set[str]:
        adapter = build(name, options, PluginContext(environ={}))
        return {
            p.__name__
            for p in (KillSwitch, Rollback, Failover, GatewayStatus, Verifiable)
            if isinstance(adapter, p)
        }

    assert caps("launchdarkly", {"token_env": "X", "project": "p", "environment": "e"}) == {
        "KillSwitch",
        "Verifiable",
    }
    assert caps(
        "unleash", {"url": "http://127.0.0.1:1", "admin_token_env": "A", "client_token_env": "C"}
    ) == {"KillSwitch", "Rollback", "Verifiable"}
    assert caps("litellm", {"url": "http://127.0.0.1:1", "master_key_env": "K"}) == {
        "KillSwitch",
        "Rollback",
        "GatewayStatus",
        "Verifiable",
    }
    assert caps("native", {"url": "http://127.0.0.1:1"}) == {
        "KillSwitch",
        "Rollback",
        "Failover",
        "GatewayStatus",
        "Verifiable",
    }


# ------------------------------------------------------------------ litellm


def litellm(shared: Path, routes: dict[str, tuple[int, str]]) -> object:
    def handler(request: httpx.Request) -> httpx.Response:
        status, name = routes.get(f"{request.method} {request.url.path}", (404, ""))
        if not name:
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(status, content=(shared / "litellm" / name).read_bytes())

    return build(
        "litellm",
        {"url": "http://127.0.0.1:4000", "master_key_env": "LK"},
        PluginContext(environ={"LK": "sk-test-master"}, transport=httpx.MockTransport(handler)),
    )


async def test_litellm_routes_from_recorded_model_info_skip_alias_duplicates(
    shared_fixtures: Path,
) -> None:
    gw = litellm(
        shared_fixtures,
        {"GET /model/info": (200, "model-info.json"), "GET /health": (200, "health.json")},
    )
    routes = {r.name: r for r in (await gw.routes()).routes}  # type: ignore[attr-defined]
    assert set(routes) == {"summarizer", "summarizer-ratelimited", "summarizer-primary"}
    assert routes["summarizer"].primary.key == "openai/gpt-x-2026-09"
    status = {r.route: r.error_rate for r in (await gw.status()).routes}  # type: ignore[attr-defined]
    assert status["summarizer-ratelimited"] == 1.0 and status["summarizer"] == 0.0
    prior = await gw.capture(ActionIntent(kind="rollback", route="summarizer", to_version="x"))  # type: ignore[attr-defined]
    assert prior["version"] == "openai/gpt-x-2026-09,openai/gpt-x-2026-11"  # per deployment
    await gw.aclose()  # type: ignore[attr-defined]


async def test_litellm_recorded_no_db_500_becomes_unsupported(shared_fixtures: Path) -> None:
    gw = litellm(
        shared_fixtures,
        {
            "GET /model/info": (200, "model-info.json"),
            # recorded from POST /model/update; the PATCH endpoint says the same
            "PATCH /model/summarizer-dep-a/update": (500, "error-500-model-update-no-db.json"),
            "PATCH /model/summarizer-dep-b/update": (500, "error-500-model-update-no-db.json"),
        },
    )
    with pytest.raises(UnsupportedError, match="no database"):
        await gw.rollback(
            "summarizer",
            to_version="openai/gpt-x-2026-09",
            reason="r",
            actor="a",
            idempotency_key="k",
        )  # type: ignore[attr-defined]
    await gw.aclose()  # type: ignore[attr-defined]


async def test_litellm_rollback_patches_each_deployment_and_its_undo_restores_each(
    shared_fixtures: Path,
) -> None:
    from oncall_tui.errors import UsageError

    patches: list[tuple[str, dict[str, object]]] = []
    info = json.loads((shared_fixtures / "litellm" / "model-info.json").read_text())

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/model/info":
            return httpx.Response(200, json=info)
        if request.method == "PATCH":
            patches.append((request.url.path, json.loads(request.content)))
            assert request.headers["litellm-changed-by"] == "me@host"
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"detail": "Not Found"})

    gw = build(
        "litellm",
        {"url": "http://127.0.0.1:4000", "master_key_env": "LK"},
        PluginContext(environ={"LK": "k"}, transport=httpx.MockTransport(handler)),
    )
    common = {"reason": "r", "actor": "me@host", "idempotency_key": "k"}
    await gw.rollback("summarizer", to_version="openai/old", **common)  # type: ignore[attr-defined]
    await gw.rollback(
        "summarizer", to_version="openai/gpt-x-2026-09,openai/gpt-x-2026-11", **common
    )  # type: ignore[attr-defined]
    assert patches == [
        ("/model/summarizer-dep-a/update", {"litellm_params": {"model": "openai/old"}}),
        ("/model/summarizer-dep-b/update", {"litellm_params": {"model": "openai/old"}}),
        ("/model/summarizer-dep-a/update", {"litellm_params": {"model": "openai/gpt-x-2026-09"}}),
        ("/model/summarizer-dep-b/update", {"litellm_params": {"model": "openai/gpt-x-2026-11"}}),
    ]
    with pytest.raises(UsageError, match="one per deployment"):
        await gw.rollback("summarizer", to_version="a,b,c", **common)  # type: ignore[attr-defined]
    await gw.aclose()  # type: ignore[attr-defined]
