"""The phoenix adapter against a REAL Phoenix (arize-phoenix 20.x) on loopback.

Phoenix's gRPC port binds every interface, so when this machine allows it
(root, ``unshare -n``) the whole module re-runs itself in a loopback-only
network namespace, server and client together: ``test_in_loopback_namespace``
is then the one test that runs outside, and the rest run inside. Where that is
impossible they run here, sending nothing but to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oncall_tui.cli.main import main
from oncall_tui.core.analysis import analyze
from oncall_tui.errors import NotFoundError
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import TraceQuery
from oncall_tui.sources.detect import read_traces
from tests.unit.test_store_formats import SHARED

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED.is_dir(), reason="shared fixtures not present"),
]

SENT = SHARED / "phoenix" / "sent-as-otlp.json"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INSIDE = os.environ.get("ONCALL_TUI_IN_NETNS") == "1"
POLL_S = 60.0


def _netns_possible() -> bool:
    if INSIDE or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


NETNS = _netns_possible()
outside_only = pytest.mark.skipif(not NETNS, reason="no loopback-only namespace here")
inside_only = pytest.mark.skipif(NETNS, reason="runs inside the loopback namespace")


@outside_only
def test_in_loopback_namespace() -> None:
    """Runs this module's Phoenix tests in a fresh loopback-only network namespace."""
    from tests.integration.provision.litellm import LiteLLMUnavailable, ensure_otel
    from tests.integration.provision.phoenix import PhoenixUnavailable, ensure_installed

    # The namespace has loopback only: no PyPI in there. Install out here (a
    # no-op once cached), or every test inside skips with "no distribution".
    try:
        ensure_installed()
        ensure_otel()
    except (PhoenixUnavailable, LiteLLMUnavailable) as exc:
        pytest.skip(f"cannot provision Phoenix and LiteLLM on this machine: {exc}")
    here = Path(__file__).resolve()
    root = here.parents[2]
    env = {**os.environ, "ONCALL_TUI_IN_NETNS": "1"}
    cmd = (
        "ip link set lo up && exec "
        f"{sys.executable} -m pytest -q -rs -p no:cacheprovider {here} -m integration"
    )
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", cmd],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    if "cannot provision Phoenix" in proc.stdout:
        pytest.skip(proc.stdout.strip().splitlines()[-2][:300])
    # Every Phoenix test ran inside (only this launcher skips there): a skip
    # inside, such as "cannot provision", must not pass silently out here.
    assert proc.stdout.splitlines()[-1].startswith("7 passed, 1 skipped"), proc.stdout


@pytest.fixture(scope="session")
def phoenix() -> Iterator[object]:
    if NETNS:
        pytest.skip("runs inside the loopback namespace")
    from tests.integration.provision.phoenix import (
        PhoenixUnavailable,
        send_otlp,
        start_phoenix,
    )

    try:
        with start_phoenix() as px:
            send_otlp(px, SENT)
            deadline = time.monotonic() + POLL_S
            while True:  # Phoenix ingests asynchronously (~100 spans/s)
                r = httpx.get(
                    f"{px.url}/v1/projects/fixture-agent/spans",
                    params={"trace_id": TRACE_ID, "limit": 100},
                    timeout=5,
                )
                if r.status_code == 200 and len(r.json()["data"]) == 15:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"phoenix did not ingest 15 spans in {POLL_S}s: {r.text[:200]}")
                time.sleep(0.3)
            yield px
    except PhoenixUnavailable as exc:
        pytest.skip(f"cannot provision Phoenix on this machine: {exc}")


def _store(px: object, **options: object):  # type: ignore[no-untyped-def]
    ctx = PluginContext(environ={}, timeout_s=10)
    return build("phoenix", {"url": px.url, "project": "fixture-agent", **options}, ctx)  # type: ignore[attr-defined]


async def _get(store, trace_id: str = TRACE_ID):  # type: ignore[no-untyped-def]
    try:
        return await store.get_trace(trace_id)
    finally:
        await store.aclose()


def _sent():  # type: ignore[no-untyped-def]
    [trace] = read_traces(SENT.read_bytes(), source=str(SENT))
    return {s.span_id: s for s in trace.spans}, trace


@inside_only
@pytest.mark.parametrize("span_format", ["native", "otlpv1"])
def test_whole_trace_comes_back_across_pages(phoenix: object, span_format: str) -> None:
    trace = asyncio.run(_get(_store(phoenix, page_size=4, span_format=span_format)))
    sent, _ = _sent()
    got = {s.span_id: s for s in trace.spans}
    assert set(got) == set(sent)  # 4 pages of 4, nothing lost or doubled
    assert len(trace.spans) == 15
    assert trace.completeness == "complete"
    for sid, s in sent.items():
        assert got[sid].parent_id == s.parent_id
        assert abs(got[sid].start_ns - s.start_ns) < 1_000  # Phoenix shifts < 1 µs
        assert abs(got[sid].end_ns - s.end_ns) < 1_000
    assert [s.gen_ai.tool_call_id for s in trace.spans if s.status == "error" and s.gen_ai] == [
        "call_0005"
    ]


@inside_only
def test_analysis_matches_the_trace_that_was_sent(phoenix: object) -> None:
    trace = asyncio.run(_get(_store(phoenix)))
    _, sent = _sent()
    assert sorted(f.kind for f in analyze(trace).findings) == sorted(
        f.kind for f in analyze(sent).findings
    )


@inside_only
def test_span_cap_marks_the_trace_partial(phoenix: object) -> None:
    trace = asyncio.run(_get(_store(phoenix, page_size=5, max_spans=5)))
    assert len(trace.spans) == 5
    assert trace.completeness == "partial"
    assert "max_spans" in (trace.completeness_reason or "")


@inside_only
def test_unknown_trace_and_project_are_not_found(phoenix: object) -> None:
    with pytest.raises(NotFoundError):
        asyncio.run(_get(_store(phoenix), "ab" * 16))
    with pytest.raises(NotFoundError, match="no-such-project"):
        asyncio.run(_get(_store(phoenix, project="no-such-project")))


@inside_only
def test_search_lists_the_trace(phoenix: object) -> None:
    store = _store(phoenix)

    async def go():  # type: ignore[no-untyped-def]
        try:
            # The fixture trace is stamped 2026-11-23; look back far enough.
            return await store.search(TraceQuery(start_ns=1_700_000_000 * 10**9, limit=10))
        finally:
            await store.aclose()

    rows = asyncio.run(go())
    [row] = [r for r in rows if r.trace_id == TRACE_ID]
    assert row.root_name == "invoke_agent research-agent"
    assert row.span_count == 15 and row.error_count == 1


# ------------------------------------------- LiteLLM -> Phoenix -> route status

LITELLM_CONFIG = SHARED / "litellm" / "proxy-config.yaml"
ASKS = ["summarizer"] * 5 + ["summarizer-primary"] * 4 + ["summarizer-ratelimited"] * 2


@inside_only
def test_route_status_from_litellm_traces_in_phoenix(
    phoenix: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real LiteLLM proxy (mock models; summarizer-primary always 429s and
    falls back to summarizer) exports its spans with its otel callback to the
    real Phoenix; the console reads Phoenix and reports the fallback share
    that actually happened (as LiteLLM's own response headers counted it)."""
    from oncall_tui.core.trace_metrics import route_stats
    from tests.integration.provision.litellm import LiteLLMUnavailable, ensure_otel, start_litellm

    try:
        ensure_otel()
    except LiteLLMUnavailable as exc:
        pytest.skip(f"cannot provision LiteLLM on this machine: {exc}")
    config = LITELLM_CONFIG.read_text().replace(
        "  telemetry: false", '  telemetry: false\n  callbacks: ["otel"]'
    )
    env = {
        "OTEL_EXPORTER": "otlp_http",
        "OTEL_ENDPOINT": f"{phoenix.url}/v1/traces",  # type: ignore[attr-defined]
        "OTEL_SERVICE_NAME": "litellm-proxy",
        "OTEL_RESOURCE_ATTRIBUTES": "openinference.project.name=gateway",
    }
    observed: dict[str, list[int]] = {}  # route -> [requests, fallbacks, errors]
    t0 = time.time_ns()
    with start_litellm(config, env=env) as proxy:
        with httpx.Client(timeout=30, headers={"Authorization": "Bearer sk-test-master"}) as c:
            for model in ASKS:
                r = c.post(
                    f"{proxy.url}/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                )
                row = observed.setdefault(model, [0, 0, 0])
                row[0] += 1
                if r.status_code != 200:
                    row[2] += 1
                elif r.headers.get("x-litellm-attempted-fallbacks", "0") != "0":
                    row[1] += 1
        query = TraceQuery(start_ns=t0 - 60 * 10**9, end_ns=time.time_ns() + 60 * 10**9)

        async def read():  # type: ignore[no-untyped-def]
            store = _store(phoenix, project="gateway")
            try:
                return await store.recent_traces(query)
            except NotFoundError:  # the project appears with its first span
                return []
            finally:
                await store.aclose()

        deadline = time.monotonic() + POLL_S
        while True:  # the otel batch processor and Phoenix both ingest later
            stats = {r.route: r for r in route_stats(asyncio.run(read()))}
            if sum(r.requests for r in stats.values()) >= len(ASKS):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"phoenix holds {stats} after {POLL_S}s; LiteLLM sent {observed}")
            time.sleep(1)
        # What a responder runs: the proxy knows deployment health only, so the
        # console fills tier mix and fallback rate from the traces in Phoenix.
        config = tmp_path / "config.yaml"
        config.write_text(
            "environments:\n  gw:\n    gateways:\n      proxy:\n        plugin: litellm\n"
            f"        url: {proxy.url}\n        master_key_env: TEST_LITELLM_KEY\n"
            "    trace_stores:\n      phoenix:\n        plugin: phoenix\n"
            f"        url: {phoenix.url}\n        project: gateway\n"  # type: ignore[attr-defined]
        )
        monkeypatch.setenv("TEST_LITELLM_KEY", "sk-test-master")
        capsys.readouterr()
        code = main(["--config", str(config), "gateway", "status", "--json", "--window", "900"])
        doc = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = {r["route"]: r for r in doc["status"]["routes"]}
    assert doc["from_traces"]["store"] == "phoenix"
    assert "summarizer-primary" in doc["from_traces"]["routes"]
    assert rows["summarizer-primary"]["fallback_rate"] == 1.0
    # The route's own tier first (what the table reads as "primary"), at 0%:
    # every request was served by its fallback.
    mix = [(t["tier"].split("/")[0], t["share"]) for t in rows["summarizer-primary"]["tier_mix"]]
    assert mix[0] == ("summarizer-primary", 0.0), mix
    assert {group for group, _ in mix[1:]} == {"summarizer"}, mix
    assert abs(sum(share for _, share in mix[1:]) - 1.0) < 1e-9, mix
    ratelimited = rows["summarizer-ratelimited"]["tier_mix"]
    assert [(t["tier"], t["share"]) for t in ratelimited] == [
        ("summarizer-ratelimited", 0.0),
        ("none", 1.0),  # nothing served it
    ]
    assert "sk-test-master" not in json.dumps(doc)
    assert observed["summarizer-primary"][1] == 4  # LiteLLM did fall back each time
    for route, (n, fallbacks, errors) in observed.items():
        got = stats[route]
        assert got.requests == n, route
        assert got.fallbacks == fallbacks, route
        assert got.errors == errors, route
    primary = stats["summarizer-primary"]
    assert primary.fallback_rate == 1.0
    assert {t.tier.split("/")[0] for t in primary.served_by} == {"summarizer"}
    assert stats["summarizer-ratelimited"].error_rate == 1.0
    assert stats["summarizer"].fallback_rate == 0.0
    assert sum(t.requests for t in stats["summarizer"].served_by) == 5
    assert primary.latency_p50_ms is not None and primary.latency_p50_ms > 0
