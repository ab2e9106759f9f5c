"""Text from stores and gateways is shown, never obeyed: escapes and markup stay visible."""

from __future__ import annotations

from oncall_tui.actions import ActionSpec, AuditRecord, Change, Plan
from oncall_tui.tui.action_view import plan_diff
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.audit_screen import record_detail, record_row
from oncall_tui.tui.overview import OverviewScreen
from tests.tui.fakes import EVIL, FixedGateway, overview_painted
from tests.tui.test_console import screen_text
from tests.tui.test_snapshots import FixedStore


async def test_trace_search_rows_show_markup_and_escapes_literally() -> None:
    app = OncallApp(store=FixedStore())
    async with app.run_test(size=(100, 24)) as pilot:
        for _ in range(40):
            await pilot.pause(0.05)
            if "trace(s)" in screen_text(app):
                break
        text = screen_text(app)
        assert "\\x1b[2J[red]x[/red]" in text
        assert "\x1b" not in text


async def test_gateway_alert_text_is_inert() -> None:
    app = OncallApp(gateway=FixedGateway(hostile=True), gateway_name="g", env_name="e")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await overview_painted(pilot)
        text = screen_text(app)
        assert "\\x1b]0;pwned\\x07\\x1b[31m[bold]boom[/bold]" in text
        assert "\x1b" not in text and "\x07" not in text


def test_plan_diff_and_audit_rows_are_inert() -> None:
    """A route, target, tier and actor from a hostile gateway or log: shown escaped."""
    spec = ActionSpec(kind="failover", route=EVIL, reason=EVIL, env="e", to_tier=EVIL)
    plan = Plan(
        action_id="act-1",
        idempotency_key="otui-1",
        spec=spec,
        actor=EVIL,
        adapter="g",
        target=EVIL,
        prior={"failover_to": EVIL},
        changes=[Change("forced tier", None, EVIL, EVIL, EVIL)],
        undo=None,
        confirm_phrase=EVIL,
    )
    record = AuditRecord(
        seq=0, ts="2026-11-24T08:00:00+00:00", action_id=EVIL, key="k", stage="failed",
        actor=EVIL, env="e", kind="failover", route=EVIL, data={"error": EVIL}, prev="0",
    )  # fmt: skip
    texts = [plan_diff(plan), *record_row(record), record_detail(record)]
    for text in texts:
        assert "\x1b" not in text.plain and "\x07" not in text.plain
    assert "\\x1b]0;pwned\\x07\\x1b[31m[bold]boom[/bold]" in plan_diff(plan).plain
    assert "\\x1b]0;pwned" in record_row(record)[1].plain
    assert "[bold]boom[/bold]" in record_detail(record).plain


def test_plan_diff_shows_drift_and_log_warnings_the_cli_plan_shows() -> None:
    """A re-run offered because a verified action no longer holds, on a damaged
    audit log: the console's dry run says both, as loudly as the CLI's plan."""
    from oncall_tui.sources.capabilities import Observation

    spec = ActionSpec(
        kind="kill_switch", route="r", reason="why", env="e", enabled=True, supersedes="act-0"
    )
    plan = Plan(
        action_id="act-1",
        idempotency_key="otui-1",
        spec=spec,
        actor="me",
        adapter="g",
        target="t",
        prior={},
        changes=[Change("kill switch", False, True, "t", "r")],
        undo=None,
        confirm_phrase="r",
        drift=Observation(holds=False, detail="kill switch is off \x1b[2J"),
        warnings=["audit log damaged at line 3: chain broken"],
    )
    text = plan_diff(plan).plain
    assert "act-0 was applied and verified, but no longer holds: kill switch is off" in text
    assert "NEW action" in text
    assert "WARNING audit log damaged at line 3" in text
    assert "\x1b" not in text
