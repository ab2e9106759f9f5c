"""Flag changes from Unleash's event log (``UnleashFlags.flag_events``),
replayed from answers recorded on a real Unleash 6.10.1
(tests/fixtures/unleash/README.md), and lined up by ``trace onset``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncall_tui.core.onset import describe_change
from oncall_tui.errors import AuthError, TraceFormatError
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources import unleash
from oncall_tui.sources.capabilities import FlagEvents
from oncall_tui.sources.unleash_events import event_ns

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "unleash"
SEARCH = json.loads((FIXTURES / "search_events.json").read_text())
OLD = json.loads((FIXTURES / "events_deprecated.json").read_text())
ADMIN_TOKEN = "*:*.admin-secret-0123456789"
ROUTES = {"summarizer": {"kill_switch": "ai-kill-summarizer", "model": "summarizer-model"}}
DAY_NS = 86_400 * 10**9


def _at(doc: dict[str, Any], kind: str, flag: str) -> int:
    [stamp] = [
        e["createdAt"] for e in doc["events"] if (e["type"], e["featureName"]) == (kind, flag)
    ]
    at = event_ns(stamp)
    assert at is not None
    return at


DISABLED_NS = _at(SEARCH, "feature-environment-disabled", "ai-kill-summarizer")


class FakeUnleash:
    """Serves the recorded pages; ``search`` False: a server without the event search."""

    def __init__(self, *, search: bool = True, doc: dict[str, Any] = SEARCH) -> None:
        self.search = search
        self.doc = doc
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == unleash.SEARCH_PATH and self.search:
            offset = int(request.url.params.get("offset", "0"))
            limit = int(request.url.params.get("limit", "50"))
            events = self.doc["events"][offset : offset + limit]
            return httpx.Response(200, json={"events": events, "total": self.doc["total"]})
        if request.url.path == unleash.EVENTS_PATH and not self.search:
            return httpx.Response(200, json=OLD)
        return httpx.Response(404, json={"message": "Could not find the requested resource"})


def adapter(handler: Any, routes: dict[str, Any] = ROUTES) -> Any:
    ctx = PluginContext(
        environ={"UA": ADMIN_TOKEN, "UC": "client"}, transport=httpx.MockTransport(handler)
    )
    options = {"url": "http://127.0.0.1:4242", "admin_token_env": "UA", "client_token_env": "UC"}
    return build("unleash", {**options, "routes": routes}, ctx)


def _rows(changes: list[Any]) -> list[tuple[Any, ...]]:
    return [(c.subject, c.route, c.before, c.after) for c in changes]


EXPECTED = [
    ("ai-kill-summarizer", "summarizer", None, "strategy flexibleRollout added"),
    ("ai-kill-summarizer", "summarizer", "off", "on"),
    ("ai-kill-summarizer", "summarizer", "on", "off"),
    ("ai-kill-summarizer", "summarizer", "off", "on"),
    ("ai-kill-summarizer", "summarizer", "flexibleRollout rollout 100%",
     "flexibleRollout rollout 50%"),
    ("summarizer-model", "summarizer", None, "strategy flexibleRollout added"),
    ("summarizer-model", "summarizer", "off", "on"),
    ("summarizer-model", "summarizer", "gpt-x-2026-09:500,gpt-x-2026-11:500", "gpt-x-2026-09"),
]  # fmt: skip


async def test_recorded_events_become_flag_changes_on_the_routes_that_name_the_flags() -> None:
    fake = FakeUnleash()
    flags = adapter(fake.handler)
    assert isinstance(flags, FlagEvents)
    changes = await flags.flag_events(DISABLED_NS - DAY_NS, DISABLED_NS + DAY_NS)
    await flags.aclose()
    # Oldest first; "feature-created" changes nothing an SDK is served.
    assert _rows(changes) == EXPECTED
    assert {(c.kind, c.source) for c in changes} == {("flag", "unleash")}
    killed = changes[2]
    assert killed.at_ns == DISABLED_NS
    assert killed.detail == "kill switch on: AI stopped; by admin in development"
    assert describe_change(killed) == "flag ai-kill-summarizer changed (on -> off)"
    assert describe_change(changes[0]) == "flag ai-kill-summarizer: strategy flexibleRollout added"
    # One request: Unleash 6's search, by whole UTC day, the project and the
    # types that change what SDKs get; the admin token sent bare.
    [req] = fake.requests
    day = SEARCH["events"][0]["createdAt"][:10]
    params = req.url.params
    assert req.url.path == "/api/admin/search/events"
    assert (params["from"], params["project"]) == ("IS:" + str(_prev_day(day)), "IS:default")
    assert params["to"] == "IS:" + str(_next_day(day))
    assert "feature-environment-disabled" in params["type"].split(":", 1)[1].split(",")
    assert (params["offset"], params["limit"]) == ("0", "1000")
    assert req.headers["authorization"] == ADMIN_TOKEN


def _prev_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _next_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


async def test_the_window_bounds_the_changes_to_the_millisecond() -> None:
    flags = adapter(FakeUnleash().handler)
    changes = await flags.flag_events(DISABLED_NS, DISABLED_NS + 1)
    await flags.aclose()
    assert _rows(changes) == [EXPECTED[2]]


async def test_an_unmapped_flag_is_fleet_wide_and_other_environments_are_left_out() -> None:
    doc = json.loads(json.dumps(SEARCH))
    for e in doc["events"]:
        if e["featureName"] == "summarizer-model" and e["environment"]:
            e["environment"] = "production"
    flags = adapter(FakeUnleash(doc=doc).handler, routes={})
    changes = await flags.flag_events(DISABLED_NS - DAY_NS, DISABLED_NS + DAY_NS)
    await flags.aclose()
    assert [(c.subject, c.route) for c in changes] == [("ai-kill-summarizer", None)] * 5
    assert changes[2].detail == "by admin in development"


async def test_a_server_without_the_event_search_is_read_through_the_older_api() -> None:
    fake = FakeUnleash(search=False)
    flags = adapter(fake.handler)
    changes = await flags.flag_events(DISABLED_NS - DAY_NS, DISABLED_NS + DAY_NS)
    await flags.aclose()
    assert _rows(changes) == EXPECTED
    assert [r.url.path for r in fake.requests] == [unleash.SEARCH_PATH, unleash.EVENTS_PATH]
    assert fake.requests[1].url.params["project"] == "default"


async def test_paging_stops_once_past_the_window_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unleash, "PAGE", 2)
    fake = FakeUnleash()
    flags = adapter(fake.handler)
    changes = await flags.flag_events(DISABLED_NS, DISABLED_NS + DAY_NS)
    await flags.aclose()
    # Newest first: the page holding an event older than the start is the last.
    assert [r.url.params["offset"] for r in fake.requests] == ["0", "2", "4", "6"]
    assert _rows(changes) == EXPECTED[2:]


async def test_paging_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unleash, "PAGE", 2)
    monkeypatch.setattr(unleash, "MAX_EVENTS", 4)
    fake = FakeUnleash()
    flags = adapter(fake.handler)
    changes = await flags.flag_events(0, DISABLED_NS + DAY_NS)
    await flags.aclose()
    assert len(fake.requests) == 2  # 4 events read, the newest
    assert _rows(changes) == EXPECTED[5:]  # feature-created is read but is no change


async def test_errors_are_one_line_and_never_show_the_token() -> None:
    def denied(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(401, json={"message": f"token {auth} is not allowed"})

    flags = adapter(denied)
    with pytest.raises(AuthError) as err:
        await flags.flag_events(0, DISABLED_NS)
    await flags.aclose()
    text = str(err.value)
    assert "unleash: GET /api/admin/search/events answered 401" in text
    assert ADMIN_TOKEN not in text and "\n" not in text

    flags = adapter(lambda r: httpx.Response(200, json={"events": [{"type": 3}]}))
    with pytest.raises(TraceFormatError, match="unleash: /api/admin/search/events answered a"):
        await flags.flag_events(0, DISABLED_NS)
    await flags.aclose()


def _fleet_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UA", ADMIN_TOKEN)
    monkeypatch.setenv("UC", "client")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"audit_log: {tmp_path / 'none.jsonl'}\nenvironments:\n  prod:\n    flags:\n"
        "      ff:\n        plugin: unleash\n        url: http://127.0.0.1:4242\n"
        "        admin_token_env: UA\n        client_token_env: UC\n"
        "        routes: {agent-assist: {kill_switch: ai-kill-summarizer}}\n"
    )
    return cfg


def test_trace_onset_on_files_lines_up_the_flag_services_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from oncall_tui.cli import common
    from oncall_tui.cli.main import main
    from tests.onset_fleet import T0_MS, write_fleet

    path = tmp_path / "fleet.jsonl"
    change_ns = write_fleet(path)
    killed_at = datetime.fromtimestamp((T0_MS + 600_000) / 1000, UTC)
    doc = json.loads(json.dumps(SEARCH))
    for e in doc["events"]:  # the recorded events, moved into the fleet's window
        e["createdAt"] = killed_at.isoformat().replace("+00:00", "Z")
    fake = FakeUnleash(doc=doc)
    monkeypatch.setattr(
        common,
        "plugin_context",
        lambda transport=None: PluginContext(
            environ={"UA": ADMIN_TOKEN, "UC": "c"}, transport=httpx.MockTransport(fake.handler)
        ),
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(_fleet_config(tmp_path, monkeypatch)))
    code = main(["trace", "onset", str(path), "--since", "2h", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 1 and captured.err == ""
    flags = [c for c in out["changes"] if c["kind"] == "flag"]
    assert len(flags) == 8 and {c["at_ns"] for c in flags} == {int(T0_MS + 600_000) * 10**6}
    # The config maps only the kill switch: the model flag's changes are fleet-wide.
    assert {(c["subject"], c.get("route")) for c in flags} == {
        ("ai-kill-summarizer", "agent-assist"), ("summarizer-model", None)}  # fmt: skip
    [killed] = [c for c in flags if c["after"] == "off"]
    assert (killed["subject"], killed["route"], killed["before"]) == (
        "ai-kill-summarizer", "agent-assist", "on")  # fmt: skip
    assert killed["source"] == "unleash"
    # The description change is still the nearest change before the onset.
    [onset] = out["onsets"]
    assert onset["cause"]["kind"] == "tool_definition" and onset["cause"]["at_ns"] == change_ns


def test_an_unreachable_flag_service_is_a_warning_and_the_traces_still_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from oncall_tui.cli import common
    from oncall_tui.cli.main import main
    from tests.onset_fleet import write_fleet

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    path = tmp_path / "fleet.jsonl"
    write_fleet(path)
    monkeypatch.setattr(
        common,
        "plugin_context",
        lambda transport=None: PluginContext(
            environ={"UA": ADMIN_TOKEN}, transport=httpx.MockTransport(refused)
        ),
    )
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(_fleet_config(tmp_path, monkeypatch)))
    code = main(["trace", "onset", str(path), "--since", "2h", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert [c["kind"] for c in json.loads(captured.out)["changes"]] == ["tool_definition"]
    assert captured.err == (
        "oncall-tui: warning: flags ff: unleash: cannot reach http://127.0.0.1:4242 "
        "(ConnectError)\n"
    )
