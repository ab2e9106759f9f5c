"""At 80 columns every column of the overview stays readable, whatever the values.

The busiest state: thousands of requests a second, long version names, more
routes than the screen holds (so a scrollbar takes its share of the width),
a kill switch pulled, flags on every rate.
"""

from __future__ import annotations

import msgspec

from oncall_tui.core.gateway import StatusResponse
from oncall_tui.tui.app import OncallApp
from oncall_tui.tui.presenters import ROUTE_COLUMNS, compact_number, route_row
from tests.tui.fakes import FixedGateway, overview_painted
from tests.tui.test_console import screen_text

NAMES = [
    "support-chat", "search-summary", "agent-assist", "doc-extract", "billing-faq",
    "triage-bot", "translate-ui", "code-review", "onboarding", "search-rerank",
    "voice-notes", "sql-helper", "email-drafts", "ticket-tags", "image-alt-text",
    "summarise-call", "policy-check", "lead-scoring", "faq-deflect", "contract-diff",
]  # fmt: skip


class BusyGateway(FixedGateway):
    async def status(self, window_s: int = 300) -> StatusResponse:
        base = self._route("support-chat", 0.41, 0.3)
        routes = tuple(
            msgspec.structs.replace(
                base,
                route=name,
                requests_per_s=1234.5 * (i + 1),
                serving_version=f"v2026.11.{i:02d}-canary-build",
                kill_switch=i == 1,
                fallback_rate=1.0 if i == 2 else base.fallback_rate,
                retry_amplification=12.5 if i == 3 else base.retry_amplification,
            )
            for i, name in enumerate(NAMES)
        )
        return StatusResponse(
            gateway_time=base.quotas[0].resets_at, window_s=window_s, routes=routes
        )


def test_compact_numbers() -> None:
    assert compact_number(12.25) == "12.2"
    assert compact_number(512) == "512"
    assert compact_number(1234.5) == "1.2k"
    assert compact_number(98_765) == "99k"
    assert compact_number(2_500_000) == "2.5M"


async def test_every_column_is_whole_at_80_columns() -> None:
    app = OncallApp(gateway=BusyGateway(), gateway_name="g", env_name="e")
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "route" in line and "AI" in line)
        # The last column's header is there in full: nothing cut at the edge.
        assert header.rstrip().split()[-len(ROUTE_COLUMNS) :] == list(ROUTE_COLUMNS)
        table = app.screen.query_one("#routes")
        shown = 0
        for status in app.screen.status.routes:  # type: ignore[union-attr]
            row = table.get_row(status.route)
            cells = [str(cell.plain).strip() for cell in row]
            line = next((ln for ln in lines if ln.startswith(cells[0] + " ")), None)
            if line is None:
                continue  # scrolled below the fold: the scrollbar says so
            shown += 1
            at = 0
            for cell in cells:  # in order, each whole, left to right
                found = line.find(cell, at)
                assert found >= 0, f"{cell!r} cut in {line!r}"
                at = found + len(cell)
        assert shown >= 5
        # Compact values: rps 1234.5 as 1.2k; the long names cut, with an
        # ellipsis, the version first; the pulled kill switch still reads OFF.
        first = [c.plain for c in table.get_row("support-chat")]
        assert first[-2].strip() == "1.2k" and first[-1].strip().endswith("…")
        assert first[0].startswith("support") and first[0].endswith("…")
        assert "OFF" in table.get_row("search-summary")[1].plain


async def test_a_long_version_keeps_its_start_when_there_is_room() -> None:
    """Two routes and one long version: the version is cut, the routes stay whole."""
    gateway = FixedGateway()
    gateway.version["support-chat"] = "v2026.11.30-canary-build-7"
    app = OncallApp(gateway=gateway, gateway_name="g", env_name="e")
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_painted(pilot)
        text = screen_text(app)
        assert "support-chat " in text and "search-summary " in text
        line = next(ln for ln in text.splitlines() if ln.startswith("support-chat "))
        version = line.split()[-1]
        assert version.startswith("v2") and version.endswith("…")
        assert route_row(app.screen.status.routes[0])[-2].plain == "12.5"  # type: ignore[union-attr]
