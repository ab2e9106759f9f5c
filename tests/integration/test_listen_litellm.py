"""A REAL LiteLLM proxy's ``otel`` callback pointed at ``oncall-tui trace
listen``: the gateway exports a completion's spans (OTLP/HTTP protobuf, the
way LiteLLM's OpenTelemetry integration sends them) and the console shows
the trace with its LLM span, live and in the saved file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from oncall_tui.sources.detect import read_traces

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CONFIG = """
model_list:
  - model_name: summarizer
    litellm_params: {model: openai/gpt-x-2026-09, api_key: sk-dummy, mock_response: "A"}
general_settings:
  master_key: sk-test-master
litellm_settings:
  telemetry: false
  callbacks: ["otel"]
"""

WAIT_S = 60


def test_litellm_otel_callback_into_listen(tmp_path: Path, cli_env: dict[str, str]) -> None:
    from tests.integration.provision.litellm import LiteLLMUnavailable, ensure_otel, start_litellm

    try:
        ensure_otel()
    except LiteLLMUnavailable as exc:
        pytest.skip(f"cannot provision LiteLLM on this machine: {exc}")
    saved = tmp_path / "got.jsonl"
    argv = ["trace", "listen", "--port", "0", "--json", "--quiet-s", "1"]
    argv += ["--seconds", str(WAIT_S * 4), "--save", str(saved)]
    listen = subprocess.Popen(
        [sys.executable, "-m", "oncall_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    rows: list[dict[str, object]] = []

    def follow() -> None:
        assert listen.stdout is not None
        for line in listen.stdout:
            rows.append(json.loads(line))

    try:
        assert listen.stderr is not None
        first = listen.stderr.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[2]
        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        env = {
            "OTEL_EXPORTER": "otlp_http",
            "OTEL_ENDPOINT": url,
            "OTEL_SERVICE_NAME": "litellm-proxy",
        }
        try:
            with start_litellm(CONFIG, env=env) as proxy:
                resp = httpx.post(
                    f"{proxy.url}/chat/completions",
                    json={"model": "summarizer", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"Authorization": "Bearer sk-test-master"},
                    timeout=60,
                )
                assert resp.status_code == 200, resp.text
                deadline = time.monotonic() + WAIT_S
                while not rows and time.monotonic() < deadline:
                    time.sleep(0.5)  # LiteLLM's batch processor flushes when it will
                time.sleep(2)  # a late batch of the same trace, if any
        except LiteLLMUnavailable as exc:
            pytest.skip(f"cannot provision LiteLLM on this machine: {exc}")
        listen.send_signal(signal.SIGINT)  # Ctrl-C: shows what is pending, then exits
        listen.wait(30)
        reader.join(10)
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait(10)
        errors = listen.stderr.read() if listen.stderr else ""
        for pipe in (listen.stdout, listen.stderr):
            if pipe is not None:
                pipe.close()
    assert listen.returncode == 0, errors
    assert rows, "no trace from LiteLLM reached trace listen"
    assert all(row["service"] == "litellm-proxy" for row in rows), rows
    assert len({row["trace_id"] for row in rows}) == len([r for r in rows if not r["updated"]]), (
        "one line per trace id (updates aside)"
    )
    traces = read_traces(saved.read_bytes(), source=str(saved))
    assert {t.trace_id for t in traces} == {row["trace_id"] for row in rows}
    llm = [
        s
        for t in traces
        for s in t.spans
        if s.gen_ai is not None and s.gen_ai.request_model and "gpt-x" in s.gen_ai.request_model
    ]
    assert llm, [s.name for t in traces for s in t.spans]
