"""A REAL LiteLLM proxy (offline, mock_response models, no database).

Status is read for real; a rollback or kill switch meets the proxy's real
"No DB Connected" 500 and must end as a clear, non-retried failure that the
audit log records as not applied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provision.litellm import LiteLLM, LiteLLMUnavailable, start_litellm

from oncall_tui.actions import ActionSpec, AuditLog, Confirmation, Executor
from oncall_tui.errors import UnsupportedError
from oncall_tui.plugins import PluginContext, build

pytestmark = pytest.mark.integration

CONFIG = """
model_list:
  - model_name: summarizer
    litellm_params: {model: openai/gpt-x-2026-09, api_key: sk-dummy, mock_response: "A"}
    model_info: {id: summarizer-dep-a}
  - model_name: summarizer
    litellm_params: {model: openai/gpt-x-2026-11, api_key: sk-dummy, mock_response: "B"}
    model_info: {id: summarizer-dep-b}
  - model_name: summarizer-ratelimited
    litellm_params:
      {model: openai/gpt-x-2026-09, api_key: sk-dummy, mock_response: "litellm.RateLimitError"}
    model_info: {id: ratelimited-dep}
  - model_name: summarizer-primary
    litellm_params:
      {model: openai/gpt-x-2026-09, api_key: sk-dummy, mock_response: "litellm.RateLimitError"}
    model_info: {id: primary-dep}
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 0
  fallbacks:
    - summarizer-primary: ["summarizer"]
general_settings:
  master_key: sk-test-master
litellm_settings:
  telemetry: false
"""


@pytest.fixture(scope="session")
def proxy() -> Iterator[LiteLLM]:
    try:
        with start_litellm(CONFIG) as server:
            yield server
    except LiteLLMUnavailable as exc:
        pytest.skip(f"cannot provision a LiteLLM proxy here: {exc}")


def adapter(proxy: LiteLLM, key: str = "sk-test-master") -> object:
    return build(
        "litellm",
        {"url": proxy.url, "master_key_env": "LK"},
        PluginContext(environ={"LK": key}),
    )


async def test_routes_and_health_come_from_the_real_proxy(proxy: LiteLLM) -> None:
    gw = adapter(proxy)
    try:
        routes = {r.name: r for r in (await gw.routes()).routes}  # type: ignore[attr-defined]
        assert set(routes) >= {"summarizer", "summarizer-ratelimited", "summarizer-primary"}
        assert routes["summarizer"].primary.key == "openai/gpt-x-2026-09"
        assert [f.key for f in routes["summarizer"].fallbacks] == ["openai/gpt-x-2026-11"]
        status = {r.route: r for r in (await gw.status()).routes}  # type: ignore[attr-defined]
        assert status["summarizer-ratelimited"].error_rate == 1.0
        assert status["summarizer"].error_rate == 0.0
    finally:
        await gw.aclose()  # type: ignore[attr-defined]


async def test_probe_reads_which_deployment_and_fallback_served(proxy: LiteLLM) -> None:
    gw = adapter(proxy)
    try:
        direct = await gw.probe("summarizer")  # type: ignore[attr-defined]
        assert direct.status == 200
        assert direct.model_id in ("summarizer-dep-a", "summarizer-dep-b")
        fell_back = await gw.probe("summarizer-primary")  # type: ignore[attr-defined]
        assert fell_back.status == 200 and fell_back.attempted_fallbacks == 1
        limited = await gw.probe("summarizer-ratelimited")  # type: ignore[attr-defined]
        assert limited.status == 429
    finally:
        await gw.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "spec",
    [
        ActionSpec(
            kind="rollback", route="summarizer", to_version="openai/gpt-x-2026-09", reason="INC-5"
        ),
        ActionSpec(kind="kill_switch", route="summarizer", enabled=True, reason="INC-5"),
    ],
    ids=["rollback-model-update", "kill-switch-model-block"],
)
async def test_model_changes_without_a_db_fail_clearly_once_and_are_logged_not_applied(
    proxy: LiteLLM, tmp_path: Path, spec: ActionSpec
) -> None:
    async with Executor(
        audit=AuditLog(tmp_path / "audit.jsonl"),
        adapters={"litellm": adapter(proxy)},
        actor="tester",
        env="staging",
    ) as ex:
        plan = await ex.plan(spec)
        result = await ex.execute(plan, confirm=Confirmation(assume_yes=True))
    assert result.outcome == "failed" and not result.applied
    assert "no database" in result.detail and "DATABASE_URL" in result.detail  # with the hint
    records = AuditLog(tmp_path / "audit.jsonl").records()
    assert [r.stage for r in records].count("attempt") == 1  # a 500 that is not a retry case
    assert records[-1].stage == "failed" and records[-1].data["applied"] is False


async def test_the_no_db_error_is_an_unsupported_error_with_a_hint(proxy: LiteLLM) -> None:
    gw = adapter(proxy)
    try:
        with pytest.raises(UnsupportedError) as err:
            await gw.rollback(  # type: ignore[attr-defined]
                "summarizer", to_version="openai/x", reason="r", actor="a", idempotency_key="k"
            )
        assert err.value.exit_code == 2
        assert err.value.hint is not None and "DATABASE_URL" in err.value.hint
        assert "sk-test-master" not in str(err.value)
    finally:
        await gw.aclose()  # type: ignore[attr-defined]
