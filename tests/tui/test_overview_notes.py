"""The overview says what no column shows, and fills a gateway's gaps from traces.

A LiteLLM-like gateway reports request rates but not which tier served; the
overview then derives tier mix, fallback and error rates from the trace
store's recent traces (the same ``fill_from_traces`` figures the CLI's
``gateway status`` prints) and says it did.
"""

from __future__ import annotations

import msgspec

from oncall_tui.core.gateway import StatusResponse
from oncall_tui.core.models import Trace
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.overview import OverviewScreen
from tests.builders import gateway_request, looping_agent
from tests.tui.fakes import CLOCK, FixedGateway, overview_painted


class NoTierGateway(FixedGateway):
    """Rates and quotas, but no tier mix or fallback rate (LiteLLM's shape)."""

    async def status(self, window_s: int = 300) -> StatusResponse:
        status = await super().status(window_s)
        routes = tuple(
            msgspec.structs.replace(r, tier_mix=(), fallback_rate=None, error_rate=None)
            for r in status.routes
        )
        return msgspec.structs.replace(status, routes=routes)


class WindowStore:
    """A store that reads a window of whole traces in one sweep (RecentTraces)."""

    def __init__(self, traces: list[Trace]) -> None:
        self.traces = traces
        self.reads = 0

    async def recent_traces(self, query: TraceQuery) -> list[Trace]:
        # Reads of the last minute (the sweep's); the hour's onset window
        # reads bucket by bucket on its own, slower schedule.
        if query.start_ns is None or query.end_ns is None or query.end_ns - query.start_ns <= 60e9:
            self.reads += 1
        return self.traces


def _traffic() -> list[Trace]:
    # support-chat: 3 of 4 requests fell back to its secondary, one failed.
    return [
        gateway_request(1, [("support-chat", "gpt-x", "error"), ("chat-backup", "c", "ok")]),
        gateway_request(2, [("support-chat", "gpt-x", "error"), ("chat-backup", "c", "ok")]),
        gateway_request(3, [("support-chat", "gpt-x", "error"), ("chat-backup", "c", "ok")]),
        gateway_request(4, [("support-chat", "gpt-x", "ok")]),
    ]


def _row(app: OncallApp, route: str) -> list[str]:
    table = app.screen.query_one("#routes")
    return [cell.plain.strip() for cell in table.get_row(route)]


async def test_overview_fills_tier_mix_from_traces_when_the_gateway_cannot() -> None:
    store = WindowStore(_traffic())
    app = OncallApp(
        gateway=NoTierGateway(), gateway_name="litellm", store=store, clock=lambda: CLOCK
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await overview_painted(pilot)
        for _ in range(40):
            screen = app.screen
            assert isinstance(screen, OverviewScreen)
            if screen.derived is not None and screen.derived.routes:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.7)  # one repaint
        row = _row(app, "support-chat")
        # tier: the primary served 1 of 4; fallback 75%, errors 0% (all recovered)
        assert row[2].startswith("25%/90%!"), row
        assert row[3] == "75%" and row[4] == "0%", row
        alerts = str(app.screen.query_one("#alerts").render())
        assert "from 4 trace(s) in the trace store" in alerts
        assert "support-chat" in alerts
        assert store.reads == 1  # one window read, not one per status


async def test_findings_of_recent_traces_show_with_their_runbook() -> None:
    """A gateway alerts on rates; a tool loop shows only in traces. The
    overview reads the store's recent traces and names the finding, the
    routes it hits and the runbook for it; `b` on that route weighs it with
    what the route's figures imply, though the gateway raises no alert for
    it. The gateway's own tier figures are kept (it reports them)."""
    store = WindowStore([looping_agent(n, "search-summary") for n in range(3)] + _traffic())
    app = OncallApp(gateway=FixedGateway(), gateway_name="sim", store=store, clock=lambda: CLOCK)
    async with app.run_test(size=(160, 48)) as pilot:
        await overview_painted(pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        for _ in range(60):
            if screen.finding_groups:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.7)
        alerts = str(screen.query_one("#alerts").render())
        assert (
            "reentrancy_cycle in 3 of 7 recent traces (search-summary)"
            "  → runbook tool-reentrancy-loop" in alerts
        ), alerts
        assert _row(app, "support-chat")[2].startswith("41%/90%")  # the gateway's, not traces'
        started: list[tuple[str, list[str], list[str]]] = []
        app.open_runbook = lambda route, kinds, findings=(): started.append(  # type: ignore[method-assign]
            (route, kinds, list(findings))
        )
        await pilot.press("down", "b")
        [(route, _, findings)] = started
        assert (route, findings) == ("search-summary", ["reentrancy_cycle"]), started


async def test_flags_are_marked_in_text_not_colour_alone(monkeypatch) -> None:
    """With NO_COLOR (or 16 colours, or a colour-blind reader) a flagged cell
    still says so: '!' beside tier below SLO, lagging visible tokens, refusal
    drift and a nearly spent quota; the low quota also gets a sentence."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = OncallApp(gateway=FixedGateway(), gateway_name="sim", clock=lambda: CLOCK)
    async with app.run_test(size=(160, 48)) as pilot:
        await overview_painted(pilot)
        chat = _row(app, "support-chat")
        assert chat[2] == "41%/90%!"
        assert chat[10] == "5%!"  # 50 of 1000 left
        search = _row(app, "search-summary")
        assert search[2] == "97%/90%" and search[5] == "8%!"  # 8x its 1% baseline
        alerts = str(app.screen.query_one("#alerts").render())
        assert "quota openai: 50 of 1000 left (5%); resets 01:00 America/Los_Angeles" in alerts


def test_medium_findings_show_only_when_common() -> None:
    """A fallback in 4 of 100 traces is the gateway doing its job; in 40 it is
    the incident. High findings always show."""
    from oncall_tui.core.finding_digest import FindingGroup

    screen = OverviewScreen(FixedGateway(), "sim", "prod")
    screen.swept = 100
    screen.finding_groups = [
        FindingGroup("reentrancy_cycle", "high", 1, ("a",), "t1", "loop"),
        FindingGroup("tier_demotion", "medium", 4, ("b",), "t2", "demoted"),
        FindingGroup("stale_data", "medium", 40, ("c",), "t3", "old"),
    ]
    assert [g.kind for g in screen._telling_findings()] == ["reentrancy_cycle", "stale_data"]


class ManyAlertsGateway(FixedGateway):
    async def alerts(self):
        from oncall_tui.core.gateway import Alert

        return [
            Alert(
                id=f"a{n}",
                route="support-chat",
                kind="tier_mix_below_slo",
                severity="high",
                summary=f"alert number {n} on support-chat",
                started_at=CLOCK,
            )
            for n in range(14)
        ]


async def test_a_full_alert_panel_says_how_much_more_and_a_shows_all() -> None:
    """Fourteen alerts do not fit the panel at 80x24 (eleven rows at most,
    what the two routes leave): its last row says how many lines it hides,
    and `a` opens all of them (the quota note included)."""
    from oncall_tui.tui.trace_screen import TextModal

    app = OncallApp(gateway=ManyAlertsGateway(), gateway_name="sim", clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        panel = str(app.screen.query_one("#alerts").render())
        assert "alert number 9" in panel and "alert number 13" not in panel
        assert "more line(s): a shows all" in panel
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "alert number 13" in text and "quota openai: 50 of 1000 left" in text


def test_fit_rows_counts_wrapped_rows() -> None:
    from rich.text import Text

    from oncall_tui.tui.presenters import fit_rows

    short = Text("a\nb\nc")
    assert fit_rows(short, 80, 3, "x") is short
    wrapped = Text("a" * 100 + "\nb\nc")  # 2 + 1 + 1 rows at width 80
    cut = fit_rows(wrapped, 80, 3, "x").plain
    assert cut.startswith("a" * 100) and cut.endswith("… 2 more line(s): x")
