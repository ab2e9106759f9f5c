"""What each screen looks like at 80x24 (the smallest jump-host terminal) and 160x48.

Each test's docstring says what a person must see; update the SVGs with
``pytest tests/tui/test_snapshots.py --snapshot-update`` after looking at them.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from oncall_tui.core.models import TraceSummary
from oncall_tui.tui.action_screen import ActionScreen, console_spec
from oncall_tui.tui.app import OncallApp
from tests.builders import TraceBuilder
from tests.tui.fakes import CLOCK, FixedGateway, lifecycle, overview_painted, trace_shown
from tests.tui.test_console import reentrant_trace

SIZES = [(80, 24), (160, 48)]


def plain_loop_trace():
    """An agent that calls its model and tool in turn: no reentrancy."""
    b = TraceBuilder()
    agent = b.agent("support", end=1000)
    b.model(agent, 0, 200)
    b.tool("search_kb", agent, 210, 400)
    b.model(agent, 410, 600)
    b.tool("search_kb", agent, 610, 800)
    return b.trace()


def fixed_overview(gateway: FixedGateway | None = None) -> OncallApp:
    """The overview at a pinned moment: figures received 3 s before 'now'.

    It acts through the real lifecycle; the audit log is ``audit.jsonl`` in the
    test's working directory (a tmp dir, see ``_utc``), its times pinned too."""
    gateway = gateway or FixedGateway(stamp=CLOCK)
    return OncallApp(
        gateway=gateway,
        gateway_name="fixed",
        env_name="prod",
        clock=lambda: CLOCK + timedelta(seconds=3),
        action_runner=lifecycle(gateway, Path(), clock=lambda: CLOCK + timedelta(seconds=4)),
    )


@pytest.fixture(autouse=True)
def _utc(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the audit log's path shows as a short, stable name
    # Quota reset times are shown in local time too; pin the zone for the image.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _settle(pilot) -> None:
    await overview_painted(pilot)
    await pilot.pause(0.1)


class FixedStore:
    async def search(self, query):
        rows = [
            TraceSummary(
                trace_id="ab" * 16,
                root_name="invoke_agent planner\x1b[2J[red]x[/red]",
                start_ns=1_795_000_000_000_000_000,
                duration_ns=900_000_000,
                span_count=5,
                error_count=1,
            ),
            TraceSummary(trace_id="cd" * 16, root_name="chat gpt-x", span_count=2),
        ]
        return [r for r in rows if r.error_count] if query.errors_only else rows

    async def get_trace(self, trace_id):
        return reentrant_trace()


@pytest.mark.parametrize("size", SIZES)
def test_trace_screen(snap_compare, size) -> None:
    """The call tree of a reentrant trace: the tool that calls the model that
    calls the same tool again is marked ⟲ (red) on both spans, the title says
    "1 ⟲", the findings panel names the cycle with its witness path, and the
    hostile tool name shows as visible \\x1b escapes and literal [bold] text,
    not as colour or a changed window title. At 80 durations and tokens at
    the right and "w Waterfall" and "/ Search" in the footer with "? Keys";
    at 160 the waterfall beside the tree (its axis header, each span's bar
    with its duration), the tokens kept beside the names."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()), terminal_size=size, run_before=trace_shown
    )


@pytest.mark.parametrize("size", SIZES)
def test_trace_screen_cycle_jump_and_span_detail(snap_compare, size) -> None:
    """After `c` the cursor sits on the span that closes the cycle and the
    detail panel shows its GenAI view (tool name, arguments) and attributes,
    the long tool result cut with "enter shows the full value"."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()),
        terminal_size=size,
        run_before=trace_shown,
        press=["c"],
    )


@pytest.mark.parametrize("size", SIZES)
def test_graph_screen_reentrant(snap_compare, size) -> None:
    """`g` draws the call graph top-down: agent:planner in a plain box, a
    line down to a ▼ into the model with its count (1), the model and the
    hostile tool in heavy red boxes marked ⟲ (the tool's name as visible
    \\x1b escapes, cut with …), ▼ from model to tool counted 2 and the back
    edge going up (▲, counted 1) beside it. The title names the selected root
    agent (shown reversed); the legend line says what each mark means; the
    footer offers Back, Next lap and Spans."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()),
        terminal_size=size,
        run_before=trace_shown,
        press=["g"],
    )


def plain_trace():
    """An agent loop without reentrancy: wait, model, a failing tool, model again."""
    b = TraceBuilder()
    agent = b.agent("planner", end=1200)
    b.model(agent, 150, 450)
    b.tool("lookup_order", agent, 460, 700, status="error")
    b.model(agent, 710, 1150)
    return b.trace()


def _waterfall(*keys: str):
    """At 80 columns the waterfall is a toggle (w); at 160 it is already on."""

    async def before(pilot) -> None:
        await trace_shown(pilot)
        if pilot.app.size.width < 120:
            await pilot.press("w")
        await pilot.press(*keys)
        await pilot.pause(0.1)

    return before


@pytest.mark.parametrize("size", SIZES)
def test_waterfall_reentrant(snap_compare, size) -> None:
    """The reentrant trace as a waterfall: a time axis header (╷0 … 1s╷),
    each span a bar under its parent's, the inner tool and model nested
    inside the outer tool's bar, both marked ⟲ (red) beside the bar and in the
    tree; the root's duration written inside its full-width bar. At 80 the
    names get the left third and the bars the rest; at 160 the tree keeps
    the tokens (40tok) beside the names."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()), terminal_size=size, run_before=_waterfall()
    )


@pytest.mark.parametrize("size", SIZES)
def test_waterfall_plain(snap_compare, size) -> None:
    """A plain agent loop: the first model call's bar starts 150 ms after the
    agent's (the wait is blank space), the failing tool's bar red with "✗"
    beside its duration, the second model call after it; no ⟲ anywhere."""
    assert snap_compare(OncallApp(trace=plain_trace()), terminal_size=size, run_before=_waterfall())


@pytest.mark.parametrize("size", SIZES)
def test_waterfall_zoomed(snap_compare, size) -> None:
    """`z` on the outer tool of the reentrant trace: the title says "zoom:" and
    "3 of 5 spans", the axis header "zoom @10ms Z:out" and ╷0 … 880ms╷, the
    tool's bar fills the pane and the nested model and tool fill most of it."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()),
        terminal_size=size,
        run_before=_waterfall("down", "down", "z"),
    )


@pytest.mark.parametrize("size", SIZES)
def test_trace_search_hits(snap_compare, size) -> None:
    """`/` then "chat" and enter on the reentrant trace: the status line says
    "/chat  hit 1/2  n/N: next/previous", the cursor is on the first model
    call, and both model calls carry ◆ in the tree (and before their duration
    in the waterfall at 160)."""

    async def before(pilot) -> None:
        await trace_shown(pilot)
        await pilot.press("slash", *"chat", "enter")
        for _ in range(100):
            await pilot.pause(0.02)
            if "hit" in str(pilot.app.screen.query_one("#trace-search-status").render()):
                break
        await pilot.pause(0.1)

    assert snap_compare(OncallApp(trace=reentrant_trace()), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_graph_screen_lap(snap_compare, size) -> None:
    """After `g` then `c`: the title says "⟲ lap 1/2" with the lap's path
    (tool -> model -> tool), and the lap's boxes and edges are lit (yellow
    background); the agent's box and edge are not."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()),
        terminal_size=size,
        run_before=trace_shown,
        press=["g", "c"],
    )


@pytest.mark.parametrize("size", SIZES)
def test_graph_screen_plain(snap_compare, size) -> None:
    """A plain agent loop (model, tool, model, tool under one agent): the agent
    on top with two plain edges down to its model and its tool, each counted 2,
    no ⟲, no heavy box, no upward edge; the title says 0 ⟲."""
    assert snap_compare(
        OncallApp(trace=plain_loop_trace()),
        terminal_size=size,
        run_before=trace_shown,
        press=["g"],
    )


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size) -> None:
    """`?` on the trace screen lists that screen's keys, what each does and the
    id to remap it with (trace.graph, tree.next_cycle, ...), plus how to remap."""
    assert snap_compare(
        OncallApp(trace=reentrant_trace()),
        terminal_size=size,
        run_before=trace_shown,
        press=["question_mark"],
    )


@pytest.mark.parametrize("size", SIZES)
def test_overview(snap_compare, size) -> None:
    """Two routes: support-chat's tier mix 41%/90%! in bold red (below SLO),
    both with error/fallback/refusal/429, ttft/ttfv, cache, retry and quota
    5%! (red); every flagged cell carries "!" (429 at 5%, search-summary's
    refusal 8%!), so it reads without colour; the age line shows the gateway
    clock and "3s old"; the alert panel shows the high alert with "→ runbook
    fallback-became-default" and the quota line with the reset time in the
    provider's zone and local."""
    app = fixed_overview()
    assert snap_compare(app, terminal_size=size, run_before=_settle)


async def _planned(pilot) -> None:
    for _ in range(60):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, ActionScreen) and pilot.app.screen.plan is not None:
            await pilot.pause(0.1)
            return
    raise AssertionError("the action screen never showed its plan")


def _action_on_key(key: str):
    async def before(pilot) -> None:
        await _settle(pilot)
        await pilot.press(key)
        await _planned(pilot)

    return before


@pytest.mark.parametrize("size", SIZES)
def test_kill_switch_confirmation(snap_compare, size) -> None:
    """`k` on support-chat: the action id and what it does in words, where
    (fixed gateway, adapter, env), the kill switch diff from the captured state
    (red "- off (AI serving)", green "+ ON (AI path stopped; ...)"), reason,
    the undo the plan records, actor and key, and the prompt to type the route
    name; nothing has run yet."""
    assert snap_compare(fixed_overview(), terminal_size=size, run_before=_action_on_key("k"))


@pytest.mark.parametrize("size", SIZES)
def test_rollback_confirmation(snap_compare, size) -> None:
    """`v` on support-chat: roll to the version before the current one, read
    from the gateway's history: "serving version  - v3  + v2", undo rolls to v3."""
    assert snap_compare(fixed_overview(), terminal_size=size, run_before=_action_on_key("v"))


@pytest.mark.parametrize("size", SIZES)
def test_failover_confirmation(snap_compare, size) -> None:
    """`f` on support-chat: force the next tier of its chain: "forced tier
    - none (the route's own chain serves)  + anthropic/c (forced first)", and
    the undo clears the forced tier again."""
    assert snap_compare(fixed_overview(), terminal_size=size, run_before=_action_on_key("f"))


@pytest.mark.parametrize("size", SIZES)
def test_restore_confirmation(snap_compare, size) -> None:
    """A runbook's restore on a route forced onto anthropic/c: the plan clears
    the forced tier: "- anthropic/c (forced first)  + none (the route's own
    chain serves)", undo forces anthropic/c again."""
    gateway = FixedGateway(stamp=CLOCK)
    gateway.forced["support-chat"] = "anthropic/c"
    app = fixed_overview(gateway)

    async def before(pilot) -> None:
        await _settle(pilot)
        spec = console_spec(
            "restore", "support-chat", actor="me@here", reason="runbook: primary is back",
            request_id="inc-20261124-080000-ab12:restore",
        )  # fmt: skip
        pilot.app.push_screen(ActionScreen(pilot.app.action_runner, spec))
        await _planned(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


async def _kill_switch_run(pilot) -> None:
    await _action_on_key("k")(pilot)
    screen = pilot.app.screen
    await pilot.press(*"support-chat", "enter")
    for _ in range(100):
        await pilot.pause(0.05)
        if screen.result is not None:
            break
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_kill_switch_verified(snap_compare, size) -> None:
    """After typing support-chat and enter: the stages the audit log holds
    (✓ captured, planned, confirmed, attempt, executed, verified, undo_ready),
    VERIFIED in green with the read-back count and action id, "u: undo (turn
    OFF the kill switch ...)" in cyan, the read-back detail, and Undo in the
    footer."""
    assert snap_compare(fixed_overview(), terminal_size=size, run_before=_kill_switch_run)


@pytest.mark.parametrize("size", SIZES)
def test_audit_screen(snap_compare, size) -> None:
    """`l` after a verified kill switch: the banner "hash chain intact: 7
    records verified  audit.jsonl" in green, then the records newest first
    (undo_ready at the top, captured at the bottom), each with its time,
    actor me@here, action id, stage (verified green), route and outcome."""

    async def before(pilot) -> None:
        await _kill_switch_run(pilot)
        await pilot.press("escape", "l")
        for _ in range(60):
            await pilot.pause(0.05)
            if getattr(pilot.app.screen, "report", None) is not None:
                break
        await pilot.pause(0.1)

    assert snap_compare(fixed_overview(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_runbook_screen(snap_compare, size, tmp_path, monkeypatch) -> None:
    """`b` on support-chat (no alert; the figures imply 429s and a low quota):
    the quota-exhaustion runbook with its steps, the checks it ran by itself
    marked ✗/✓, the manual step it waits on (▶) with "d: done   x: skip",
    and the timeline underneath with each check's evidence (rate_429=0.05)
    at 08:00:03, the pinned clock."""
    # The incident id ends in random hex (two incidents in one second differ).
    monkeypatch.setattr("oncall_tui.runbook.session.secrets.token_hex", lambda n: "beef")
    gateway = FixedGateway(alerting=False, primary_share=0.95)
    app = OncallApp(
        gateway=gateway,
        gateway_name="fixed",
        env_name="prod",
        state_dir=tmp_path,
        clock=lambda: CLOCK + timedelta(seconds=3),
        action_runner=lifecycle(gateway, tmp_path),
    )

    async def before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("b")
        for _ in range(100):
            await pilot.pause(0.05)
            screen = pilot.app.screen
            if type(screen).__name__ == "RunbookScreen" and not screen.busy:
                break
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_traces_screen(snap_compare, size) -> None:
    """Recent traces ("traces: all" in the title): one with an error count in
    red, its hostile root name shown with its escape as text; under the title
    the empty search line shows its words (route:NAME errors finding:KIND
    id:HEX file:PATH all); the status line says enter opens one and / searches,
    and the footer shows "/ Search"."""
    app = OncallApp(store=FixedStore())
    assert snap_compare(app, terminal_size=size, run_before=lambda p: p.pause(0.3))


async def _search(pilot, text: str) -> None:
    """Wait for the first list, then type ``text`` into the search line and enter."""

    async def until(*needles: str) -> None:
        for _ in range(200):  # generous: a loaded CI machine is slow, not wrong
            await pilot.pause(0.05)
            status = str(pilot.app.screen.query_one("#traces-status").render())
            if any(n in status for n in needles):
                return

    await until("trace(s)")
    await pilot.press("slash", *text, "enter")
    await until("matching", "bad query")
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", SIZES)
def test_traces_screen_finding_search(snap_compare, size) -> None:
    """After typing "errors finding:cycle": the title reads "traces: errors
    finding:cycle", the search line keeps the query, the one trace with an
    error is left, with a finding column naming reentrancy_cycle (red: high)
    before its root name (at 160 columns in full, its escape shown as text; at
    80 cut by the edge, with the table's horizontal scrollbar); the status line
    says "1 trace(s) matching errors finding:cycle"."""
    app = OncallApp(store=FixedStore())
    assert snap_compare(
        app, terminal_size=size, run_before=lambda p: _search(p, "errors finding:cycle")
    )


@pytest.mark.parametrize("size", SIZES)
def test_traces_screen_bad_query(snap_compare, size) -> None:
    """A typo in the search line: the status line says in red "bad query:
    unknown word 'eror'" and lists the words that work; the line keeps the
    text and the focus (footer: esc Cancel) so it can be fixed; the list and
    the title ("traces: all") are unchanged."""
    app = OncallApp(store=FixedStore())
    assert snap_compare(app, terminal_size=size, run_before=lambda p: _search(p, "eror"))


def test_problem_screen(snap_compare) -> None:
    """Without a usable config the console says why and what to try instead."""
    app = OncallApp(problem="no config file at ~/.config/oncall-tui/config.yaml")
    assert snap_compare(app, terminal_size=(80, 24))


def onset_overview() -> OncallApp:
    """The fixed overview over a store whose support-chat traces loop from
    07:40, after a tool description change at 07:37:30 (tests/tui/onset_fleet.py)."""
    from tests.tui.onset_fleet import OnsetStore, fleet

    app = fixed_overview()
    app.store = OnsetStore(fleet())
    return app


async def _onset_settled(pilot) -> None:
    from oncall_tui.tui.overview import OverviewScreen

    await overview_painted(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, OverviewScreen)
    for _ in range(200):
        if screen.onset is not None and screen.finding_groups:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.7)  # one repaint


async def _timeline_open(pilot) -> None:
    await _onset_settled(pilot)
    await pilot.press("o")
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", SIZES)
def test_overview_with_onset(snap_compare, size) -> None:
    """Under the gateway's alert, the finding line starts with its last-hour
    trend (seven low bars, then four full ones), then "reentrancy_cycle in 16
    of 88 recent traces (support-chat), since 07:40 (after tool lookup_order's
    description changed ..." (cut at 80 columns so the line takes two rows)
    and "→ runbook tool-reentrancy-loop"; the quota note follows."""
    assert snap_compare(onset_overview(), terminal_size=size, run_before=_onset_settled)


@pytest.mark.parametrize("size", SIZES)
def test_timeline_screen(snap_compare, size) -> None:
    """`o` on support-chat: the title names the route, 07:05-08:05 UTC and 5
    min buckets; the next line says the traces were sampled (20 per route per
    bucket, 88 analysed). reentrancy_cycle's row: low bars to 07:35, a yellow
    │ before the 07:35 bar, full red-marked bars from 07:40 and "50%" at the
    right; under it "↑ onset 07:40: 0% -> 50%" starting at the 07:40 bar. The
    changes row has ▲ under the │, the axis shows HH:MM every other bucket,
    and the legend reads "▲ 07:37  tool_definition  tool lookup_order's
    description changed (hash eb26 -> 1911)" and the onset's full line."""
    assert snap_compare(onset_overview(), terminal_size=size, run_before=_timeline_open)


def fixed_live():
    """A live store at a pinned moment (a fake clock): five traces settled,
    one of them re-settled by a late span, one with a hostile agent name, one
    still waiting for quiet, and one evicted by the bound of six traces."""
    import msgspec

    from oncall_tui.sources.live_traces import LiveTraces
    from tests.tui.fakes import EVIL
    from tests.tui.test_live_screen import Clock, agent_trace, live_app

    clock = Clock()
    live = LiveTraces(quiet_s=2.0, max_traces=6, clock=clock)
    for n in range(1, 7):
        clock.now += 1
        trace = agent_trace(n, name=EVIL if n == 5 else "planner", reentrant=n % 2 == 1)
        live.add([trace if n != 3 else msgspec.structs.replace(trace, spans=trace.spans[:-1])])
    clock.now += 3
    live.tick()
    late = agent_trace(3)
    live.add([msgspec.structs.replace(late, spans=late.spans[-1:])])
    clock.now += 3
    live.tick()
    live.add([agent_trace(7, reentrant=False)])  # evicts trace 1, the quietest
    clock.now += 1
    return live_app(live)


@pytest.mark.parametrize("size", SIZES)
def test_live_screen(snap_compare, size) -> None:
    """`trace listen --tui`: the header names the listening URL and the quiet
    period, then received/held counts and "pending 1" (yellow), then on a red
    line of its own "evicted 1 trace 5 spans" with the bounds. Rows newest
    first: trace 03030303 marked ↻1 (a late span re-settled it) with
    "⟲ reentrancy_cycle high"; the hostile agent name of 05050505 shown with
    its escapes as text (\\x1b), not obeyed; trace ids, root, spans and
    duration legible at 80 columns (requests only at 160); the evicted trace
    01010101 absent. Footer: ? Keys, q Quit, no Back."""
    assert snap_compare(fixed_live(), terminal_size=size, run_before=lambda p: p.pause(0.5))
