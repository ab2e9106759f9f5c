"""``trace listen`` fed by the real OTel Python SDK, not by hand-built
requests: BatchSpanProcessor and the OTLP/HTTP exporters (protobuf, the SDK
default, and JSON), default settings except the endpoint and small, quick
batches, so one reentrant agent run arrives over several requests.

It must come out as exactly one trace with its reentrancy cycle: live, in
``--json`` output, and in the ``--save`` file read back by ``trace analyze``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from oncall_tui.cli.trace_store_cmd import listening

pytestmark = pytest.mark.timeout(120)


def _exporter(kind: str, url: str) -> Any:
    if kind == "json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=url)
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as ProtoExporter,
    )

    return ProtoExporter(endpoint=url, compression=Compression.Gzip if kind == "gzip" else None)


def run_reentrant_agent(kind: str, url: str) -> str:
    """An agent whose tool ``lookup`` asks the model, which calls ``lookup``
    again inside the first call (GenAI semantic conventions, as instrumented
    frameworks write them). Returns the trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-app"}))
    provider.add_span_processor(
        BatchSpanProcessor(_exporter(kind, url), max_export_batch_size=2, schedule_delay_millis=50)
    )
    tracer = provider.get_tracer("agent")

    def tool(name: str) -> Any:
        return tracer.start_as_current_span(
            f"execute_tool {name}",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": '{"q": "refund policy"}',
            },
        )

    def chat() -> Any:
        return tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
            },
        )

    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}
    with tracer.start_as_current_span("invoke_agent support", attributes=agent) as root:
        trace_id = f"{root.get_span_context().trace_id:032x}"
        with chat():
            pass
        with tool("lookup"), chat(), tool("lookup"), chat():
            time.sleep(0.15)  # long enough for a batch to leave mid-run
        with chat():
            pass
    provider.shutdown()  # flushes what is left
    return trace_id


KINDS = ["protobuf", "gzip", "json"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_sdk_run_over_several_batches_is_one_trace_with_its_cycle(
    kind: str, tmp_path: Path
) -> None:
    args = argparse.Namespace(
        port=0,
        save=str(tmp_path / "got.jsonl"),
        quiet_s=0.3,
        max_traces=100,
        max_spans=10_000,
        max_body=1 << 20,
    )
    with listening(args) as (live, receiver):
        trace_id = run_reentrant_agent(kind, receiver.url)
        # shutdown() returned: every batch was answered, so every span is
        # held; settle now rather than sleep through the quiet period.
        entries = live.tick(time.monotonic() + args.quiet_s)
    assert live.stats().received_requests >= 3, "the run really came in several batches"
    [entry] = entries
    assert entry.trace_id == trace_id and entry.span_count == 7 and entry.requests >= 3
    assert entry.trace.completeness == "complete"
    [cycle] = entry.analysis.cycles
    assert set(cycle.nodes) == {"tool:lookup", "model:openai/gpt-4o"}
    assert "reentrancy_cycle" in {f.kind for f in entry.analysis.findings}


def test_listen_as_a_process_prints_one_trace_and_saves_what_analyze_agrees_with(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    saved = tmp_path / "got.jsonl"
    argv = ["trace", "listen", "--port", "0", "--json", "--quiet-s", "0.5"]
    argv += ["--count", "2", "--seconds", "60", "--save", str(saved)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[2]
        ids = {run_reentrant_agent("protobuf", url), run_reentrant_agent("json", url)}
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["trace_id"] for r in rows} == ids and len(rows) == 2, "one line per trace"
    for row in rows:
        assert row["span_count"] == 7 and row["requests"] >= 3 and not row["updated"]
        assert row["worst"] == "high" and len(row["cycles"]) == 1
        assert "reentrancy_cycle" in {f["kind"] for f in row["findings"]}
    again = subprocess.run(
        [sys.executable, "-m", "oncall_tui", "trace", "analyze", str(saved), "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert again.returncode == 1, again.stderr  # a high finding: exit 1 (--fail-on high)
    traces = json.loads(again.stdout)["traces"]
    assert {t["summary"]["trace_id"] for t in traces} == ids
    by_id = {r["trace_id"]: r for r in rows}
    for t in traces:
        live = by_id[t["summary"]["trace_id"]]
        assert t["cycles"] == live["cycles"], "the same diagnosis, live and saved"
        assert [f["kind"] for f in t["findings"]] == [f["kind"] for f in live["findings"]]
