"""Provision a real LiteLLM proxy on loopback for integration tests.

``litellm[proxy]`` is installed once into its own venv under
~/.cache/oncall-tui/litellm (pinned to the version the fixtures were recorded
with). The proxy serves fully offline: every model answers from
``mock_response``, ``LITELLM_LOCAL_MODEL_COST_MAP=True`` stops the cost-map
download, and it binds 127.0.0.1 only. No database: the model-changing
endpoints answer 500 "No DB Connected", which the tests rely on.

Written by the actions helper with the signature the adapters helper planned
(``start_litellm(config_yaml, *, port=None, env=None)``); a context manager.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

VERSION = "1.106.2"
CACHE = Path.home() / ".cache" / "oncall-tui" / "litellm"
VENV = CACHE / "venv"
START_TIMEOUT_S = 90.0


class LiteLLMUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class LiteLLM:
    url: str
    port: int
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> Path:
    exe = VENV / "bin" / "litellm"
    marker = VENV / f".litellm-{VERSION}"
    if exe.exists() and marker.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    proc = subprocess.run(
        [str(VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={VERSION}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0 or not exe.exists():
        raise LiteLLMUnavailable(f"pip install litellm[proxy] failed: {proc.stderr[-400:]}")
    marker.touch()
    return exe


@contextmanager
def start_litellm(
    config_yaml: str, *, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[LiteLLM]:
    exe = ensure_installed()
    port = port or _free_port()
    work = Path(tempfile.mkdtemp(prefix="oncall-tui-litellm-"))
    config = work / "config.yaml"
    config.write_text(config_yaml)
    log = work / "litellm.log"
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "NO_PROXY": "*",
        **(env or {}),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            cwd=str(work),
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise LiteLLMUnavailable(
                        f"litellm exited with {proc.returncode}: {log.read_text()[-400:]}"
                    )
                try:
                    if httpx.get(f"{url}/health/liveliness", timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise LiteLLMUnavailable(f"litellm not live after {START_TIMEOUT_S}s")
                time.sleep(0.5)
            yield LiteLLM(url=url, port=port, log=log)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            shutil.rmtree(work, ignore_errors=True)


# LiteLLM's ``otel`` callback needs the OpenTelemetry SDK and OTLP/HTTP
# exporter in the proxy's own venv (litellm[proxy] brings only the API).
OTEL_VERSION = "1.45.2"


def ensure_otel() -> None:
    ensure_installed()
    python = str(VENV / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http"],
        capture_output=True,
        timeout=120,
    )
    if probe.returncode == 0:
        return
    proc = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            f"opentelemetry-sdk=={OTEL_VERSION}",
            f"opentelemetry-exporter-otlp-proto-http=={OTEL_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise LiteLLMUnavailable(f"pip install opentelemetry-sdk failed: {proc.stderr[-400:]}")
