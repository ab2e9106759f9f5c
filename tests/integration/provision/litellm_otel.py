"""LiteLLM's ``otel`` callback needs the OpenTelemetry SDK and OTLP/HTTP
exporter in the proxy's own venv (litellm[proxy] brings only the API).
Installed once into the venv provision/litellm.py made, bounded in time."""

from __future__ import annotations

import subprocess

from tests.integration.provision.litellm import VENV, LiteLLMUnavailable, ensure_installed

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
