"""What the console asks of the action lifecycle (``LifecycleActions``), against
the simulator: which kinds it may offer, the plan it shows (an unnamed rollback
resolved to the version before, from the gateway's history), and a wrong typed
phrase refused by the executor with nothing sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oncall_tui.errors import ActionError
from oncall_tui.runbook.acting import ActionSpec, LifecycleActions, previous_version
from oncall_tui.sim.server import SimServer
from oncall_tui.sim.thread import SimThread
from tests.integration.test_actions_native import applied_actions, executor

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimThread(speed=0.0, warmup_s=60.0) as server:
        yield server


def _spec(kind: str, route: str = "support-chat") -> ActionSpec:
    return ActionSpec(
        kind=kind,  # type: ignore[arg-type]
        route=route,
        reason="console test",
        actor="tester",
        idempotency_key="console-test-1",
    )


async def test_console_seam_plans_from_the_gateway_and_refuses_a_wrong_phrase(
    sim: SimServer, tmp_path: Path
) -> None:
    acting = LifecycleActions(executor(sim, tmp_path))
    try:
        assert all(acting.offers(k) for k in ("kill_switch", "rollback", "failover", "restore"))
        plan = await acting.dry_run(_spec("rollback"))
        assert plan.spec.to_version == "v2" and plan.confirm_phrase == "support-chat"
        [change] = plan.changes
        assert (change.what, change.before, change.after) == ("serving version", "v3", "v2")
        assert plan.undo is not None and plan.undo.to_version == "v3"
        gateway = acting.executor.adapters["sim"]
        with pytest.raises(ActionError, match="no earlier version"):
            await previous_version(gateway, "search-summary")  # type: ignore[arg-type]

        result = await acting.run(plan, typed="support")
        assert result.outcome == "refused" and "not confirmed" in result.detail
        assert applied_actions(sim, "rollback", "support-chat") == 0
        assert acting.executor.audit.records() == []
        assert acting.undo_spec(plan.action_id) is None
    finally:
        await acting.executor.aclose()
