"""Flag changes for ``trace onset`` from a REAL Unleash 6.10.1's event log.

The kill switch is turned through the adapter; its event search then lists
the change on the route the config maps the flag to, and ``trace onset
--json`` on a trace file lines it up with the traces' own changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provision.unleash import Unleash, UnleashUnavailable, start_unleash

from oncall_tui.core.otlp_write import traces_data
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import FlagEvents
from tests.integration.test_actions_unleash import make_kill_switch
from tests.onset_fleet import BUCKET_MS, fleet

pytestmark = pytest.mark.integration
HOUR_NS = 3600 * 10**9


@pytest.fixture(scope="module")
def unleash() -> Iterator[Unleash]:
    try:
        with start_unleash() as server:
            yield server
    except UnleashUnavailable as exc:
        pytest.skip(f"cannot provision Unleash here: {exc}")


def _adapter(u: Unleash, flag: str) -> object:
    ctx = PluginContext(environ={"UA": u.admin_token, "UC": u.client_token})
    options = {"url": u.url, "admin_token_env": "UA", "client_token_env": "UC"}
    return build("unleash", {**options, "routes": {"agent-assist": {"kill_switch": flag}}}, ctx)


async def test_a_kill_switch_turned_through_the_adapter_is_listed_on_its_route(
    unleash: Unleash,
) -> None:
    flag = make_kill_switch(unleash)  # created, then turned on: the AI serves
    flags = _adapter(unleash, flag)
    assert isinstance(flags, FlagEvents)
    before_ns = time.time_ns()
    await flags.set_kill_switch(  # type: ignore[attr-defined]
        "agent-assist", enabled=True, reason="INC-7", actor="tester", idempotency_key="k1"
    )
    changes = await flags.flag_events(before_ns - HOUR_NS, time.time_ns() + HOUR_NS)
    await flags.aclose()  # type: ignore[attr-defined]
    mine = [c for c in changes if c.subject == flag]
    assert [(c.before, c.after) for c in mine] == [
        (None, "strategy flexibleRollout added"),
        ("off", "on"),
        ("on", "off"),
    ]
    killed = mine[-1]
    assert (killed.kind, killed.route, killed.source) == ("flag", "agent-assist", "unleash")
    assert killed.detail is not None and killed.detail.startswith("kill switch on: AI stopped")
    # Unleash stamps its own clock; ours and its agree on this machine.
    assert before_ns - 5 * 10**9 <= killed.at_ns <= time.time_ns() + 5 * 10**9


def test_trace_onset_on_a_trace_file_lists_the_flag_change(
    unleash: Unleash, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    flag = make_kill_switch(unleash)
    with httpx.Client(
        base_url=unleash.url, headers={"Authorization": unleash.admin_token}, timeout=10
    ) as c:
        env_path = f"/api/admin/projects/default/features/{flag}/environments/development"
        c.post(f"{env_path}/off").raise_for_status()
    # A small fleet whose last bucket holds now (so the flag change is inside).
    now_ms = time.time_ns() // 10**6
    t0 = now_ms - now_ms % BUCKET_MS - 5 * BUCKET_MS
    requests, _ = fleet(buckets=6, per_bucket=4, change_bucket=3, t0_ms=t0)
    traces = tmp_path / "fleet.jsonl"
    traces.write_text(
        "".join(msgspec.json.encode(traces_data(spans)).decode() + "\n" for spans in requests)
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"audit_log: {tmp_path / 'audit.jsonl'}\nenvironments:\n  staging:\n"
        f"    flags:\n      unleash:\n        plugin: unleash\n        url: {unleash.url}\n"
        "        admin_token_env: UA\n        client_token_env: UC\n"
        f"        routes: {{agent-assist: {{kill_switch: {flag}}}}}\n"
    )
    env = dict(
        cli_env, UA=unleash.admin_token, UC=unleash.client_token, ONCALL_TUI_CONFIG=str(config)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "trace", "onset", str(traces), "--since", "30m",
         "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    mine = [c for c in doc["changes"] if c["kind"] == "flag" and c["subject"] == flag]
    [killed] = [c for c in mine if c.get("after") == "off"]
    assert (killed["route"], killed["before"]) == ("agent-assist", "on")
    assert killed["source"] == "unleash"
    assert unleash.admin_token not in proc.stdout
