"""Kill switch and model rollback against a REAL Unleash 6.10.1 + PostgreSQL 15.

The server is provisioned by the suite (tests/integration/provision/unleash.py)
once per session. Each test makes its own flags, so tests do not share state.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provision.unleash import Unleash, UnleashUnavailable, start_unleash

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor
from oncall_tui.plugins import PluginContext, build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def unleash() -> Iterator[Unleash]:
    try:
        with start_unleash() as server:
            yield server
    except UnleashUnavailable as exc:
        pytest.skip(f"cannot provision Unleash here: {exc}")


def _admin(u: Unleash) -> httpx.Client:
    return httpx.Client(base_url=u.url, headers={"Authorization": u.admin_token}, timeout=10)


P = "/api/admin/projects/default/features"


def make_kill_switch(u: Unleash) -> str:
    name = f"ai-kill-{secrets.token_hex(4)}"
    with _admin(u) as c:
        c.post(P, json={"name": name, "type": "kill-switch"}).raise_for_status()
        c.post(
            f"{P}/{name}/environments/development/strategies",
            json={
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": name},
            },
        ).raise_for_status()
        c.post(f"{P}/{name}/environments/development/on").raise_for_status()
    return name


def make_model_flag(u: Unleash) -> str:
    name = f"model-{secrets.token_hex(4)}"
    variants = [
        {
            "name": v,
            "weight": 500,
            "weightType": "variable",
            "stickiness": "default",
            "payload": {"type": "json", "value": json.dumps({"model": v})},
        }
        for v in ("gpt-x-2026-09", "gpt-x-2026-11")
    ]
    with _admin(u) as c:
        c.post(P, json={"name": name, "type": "release"}).raise_for_status()
        c.post(
            f"{P}/{name}/environments/development/strategies",
            json={
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": name},
                "variants": variants,
            },
        ).raise_for_status()
        c.post(f"{P}/{name}/environments/development/on").raise_for_status()
    return name


def executor(u: Unleash, tmp_path: Path, routes: dict[str, dict[str, str]]) -> Executor:
    ctx = PluginContext(environ={"UA": u.admin_token, "UC": u.client_token})
    adapter = build(
        "unleash",
        {"url": u.url, "admin_token_env": "UA", "client_token_env": "UC", "routes": routes},
        ctx,
    )
    return Executor(
        audit=AuditLog(tmp_path / "audit.jsonl"),
        adapters={"flags": adapter},
        actor="tester@host",
        env="staging",
        verify_every_s=0.2,
        verify_deadline_s=15,
    )


def client_enabled(u: Unleash, flag: str) -> bool:
    r = httpx.get(f"{u.url}/api/client/features/{flag}", headers={"Authorization": u.client_token})
    return bool(r.json()["enabled"])


async def test_kill_switch_turns_the_flag_off_for_sdks_and_undo_turns_it_on(
    unleash: Unleash, tmp_path: Path
) -> None:
    flag = make_kill_switch(unleash)
    async with executor(unleash, tmp_path, {"summarizer": {"kill_switch": flag}}) as ex:
        await _kill_switch_flow(unleash, tmp_path, ex, flag)


async def _kill_switch_flow(unleash: Unleash, tmp_path: Path, ex: Executor, flag: str) -> None:
    spec = ActionSpec(
        kind="kill_switch", route="summarizer", enabled=True, reason="INC-1 bad answers"
    )
    plan = await ex.plan(spec)
    assert plan.prior["kill_switch"] is False
    assert client_enabled(unleash, flag) is True  # planning changes nothing

    result = await ex.execute(plan, confirm=Confirmation(typed="summarizer"))
    assert result.outcome == "verified", result.detail
    assert client_enabled(unleash, flag) is False
    assert [s.stage for s in result.stages] == [
        "captured",
        "planned",
        "confirmed",
        "attempt",
        "executed",
        "verified",
        "undo_ready",
    ]

    # The same command again: reported from the log, nothing sent.
    again = await ex.execute(await ex.plan(spec), confirm=Confirmation(assume_yes=True))
    assert again.outcome == "already_done"

    undo = ex.undo_spec(result.action_id)
    undone = await ex.execute(await ex.plan(undo), confirm=Confirmation(assume_yes=True))
    assert undone.outcome == "verified", undone.detail
    assert client_enabled(unleash, flag) is True
    assert AuditLog(tmp_path / "audit.jsonl").verify().ok


async def test_rollback_moves_all_weight_to_the_old_variant_and_undo_restores_the_split(
    unleash: Unleash, tmp_path: Path
) -> None:
    flag = make_model_flag(unleash)
    async with executor(unleash, tmp_path, {"summarizer": {"model": flag}}) as ex:
        await _rollback_flow(unleash, ex, flag)


async def _rollback_flow(unleash: Unleash, ex: Executor, flag: str) -> None:
    plan = await ex.plan(
        ActionSpec(kind="rollback", route="summarizer", to_version="gpt-x-2026-09", reason="INC-2")
    )
    assert plan.prior["version"] == "gpt-x-2026-09:500,gpt-x-2026-11:500"
    result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "verified", result.detail

    feature = httpx.get(
        f"{unleash.url}/api/client/features/{flag}", headers={"Authorization": unleash.client_token}
    ).json()
    weights = {v["name"]: v["weight"] for v in feature["strategies"][0]["variants"]}
    assert weights == {"gpt-x-2026-09": 1000, "gpt-x-2026-11": 0}
    payloads = {v["name"]: v["payload"]["value"] for v in feature["strategies"][0]["variants"]}
    assert json.loads(payloads["gpt-x-2026-11"]) == {"model": "gpt-x-2026-11"}  # kept

    undone = await ex.execute(
        await ex.plan(ex.undo_spec(result.action_id)), confirm=Confirmation(assume_yes=True)
    )
    assert undone.outcome == "verified", undone.detail
    feature = httpx.get(
        f"{unleash.url}/api/client/features/{flag}", headers={"Authorization": unleash.client_token}
    ).json()
    weights = {v["name"]: v["weight"] for v in feature["strategies"][0]["variants"]}
    assert weights == {"gpt-x-2026-09": 500, "gpt-x-2026-11": 500}


async def test_unknown_flag_is_a_clear_not_found_and_nothing_is_logged_as_applied(
    unleash: Unleash, tmp_path: Path
) -> None:
    from oncall_tui.errors import NotFoundError

    async with executor(unleash, tmp_path, {"summarizer": {"kill_switch": "no-such-flag"}}) as ex:
        with pytest.raises(NotFoundError, match="no-such-flag"):
            await ex.plan(
                ActionSpec(kind="kill_switch", route="summarizer", enabled=True, reason="x")
            )
    assert AuditLog(tmp_path / "audit.jsonl").records() == []


def test_cli_kill_switch_undo_and_audit_against_real_unleash(
    unleash: Unleash, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    import subprocess

    flag = make_kill_switch(unleash)
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_environment: staging\naudit_log: {audit}\nenvironments:\n  staging:\n"
        f"    flags:\n      unleash:\n        plugin: unleash\n        url: {unleash.url}\n"
        "        admin_token_env: UA\n        client_token_env: UC\n"
        f"        routes: {{summarizer: {{kill_switch: {flag}}}}}\n"
    )
    env = dict(
        cli_env, UA=unleash.admin_token, UC=unleash.client_token, ONCALL_TUI_CONFIG=str(config)
    )
    base = [sys.executable, "-m", "oncall_tui"]

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *argv], env=env, capture_output=True, text=True, timeout=120)

    act = run("kill-switch", "summarizer", "--reason", "INC-11", "--yes", "--json")
    assert act.returncode == 0, act.stderr
    action_id = json.loads(act.stdout)["result"]["action_id"]
    assert client_enabled(unleash, flag) is False

    undo = run("undo", action_id, "--yes", "--json")
    assert undo.returncode == 0, undo.stderr
    assert json.loads(undo.stdout)["plan"]["spec"]["undoes"] == action_id
    assert client_enabled(unleash, flag) is True

    show = run("audit", "show", "--json")
    stages = [(r["action_id"], r["stage"]) for r in json.loads(show.stdout)["records"]]
    assert (action_id, "undo_ready") in stages and len({a for a, _ in stages}) == 2
    assert run("audit", "verify").returncode == 0
    for out in (act.stdout, undo.stdout, show.stdout, act.stderr):
        assert unleash.admin_token not in out and unleash.client_token not in out
