"""Provision a real Arize Phoenix on loopback for integration tests.

``arize-phoenix`` (pinned to the version the fixtures were recorded with) and
the OpenTelemetry SDK + OTLP/HTTP exporter go into their own venv under
~/.cache/oncall-tui/phoenix (installed once, bounded in time). Each start gets
a fresh SQLite working dir in a temp folder, free ports, telemetry off.

Phoenix's gRPC port binds every interface whatever PHOENIX_HOST says, so the
Phoenix tests run inside a loopback-only network namespace when the machine
allows it (see tests/integration/test_phoenix.py); either way nothing is sent
anywhere but 127.0.0.1. Phoenix accepts OTLP only as protobuf: ``send_otlp``
converts an OTLP/JSON document with the SDK's own proto classes (in that
venv's python) and POSTs it as the OTLP/HTTP exporter would.
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

VERSION = "20.26.1"
OTEL_VERSION = "1.45.2"
CACHE = Path.home() / ".cache" / "oncall-tui" / "phoenix"
VENV = CACHE / "venv"
START_TIMEOUT_S = 120.0


class PhoenixUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Phoenix:
    url: str
    port: int
    grpc_port: int
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / f".phoenix-{VERSION}"
    if python.exists() and marker.exists():
        return python
    probe = (
        subprocess.run(
            [str(python), "-c", "import phoenix, opentelemetry.sdk, opentelemetry.proto"],
            capture_output=True,
            timeout=120,
        )
        if python.exists()
        else None
    )
    if probe is not None and probe.returncode == 0:
        marker.touch()
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"arize-phoenix=={VERSION}",
            f"opentelemetry-sdk=={OTEL_VERSION}",
            f"opentelemetry-exporter-otlp-proto-http=={OTEL_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0:
        raise PhoenixUnavailable(f"pip install arize-phoenix failed: {proc.stderr[-400:]}")
    marker.touch()
    return python


@contextmanager
def start_phoenix(
    *, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Phoenix]:
    """A fresh Phoenix on 127.0.0.1 for the block; stopped and cleaned up after."""
    python = ensure_installed()
    port = port or free_port()
    grpc_port = free_port()
    work = Path(tempfile.mkdtemp(prefix="oncall-tui-phoenix-"))
    log = work / "phoenix.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        **(env or {}),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), "-m", "phoenix.server.main", "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=work,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise PhoenixUnavailable(
                    f"phoenix exited with {proc.returncode}: {log.read_text()[-600:]}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise PhoenixUnavailable(f"phoenix not up in {START_TIMEOUT_S:.0f}s")
            time.sleep(0.25)
        yield Phoenix(url=url, port=port, grpc_port=grpc_port, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


_SENDER = """
import sys, urllib.request
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
msg = json_format.Parse(open(sys.argv[2], encoding="utf-8").read(), ExportTraceServiceRequest())
req = urllib.request.Request(sys.argv[1], data=msg.SerializeToString(),
    headers={"Content-Type": "application/x-protobuf"}, method="POST")
assert sys.argv[1].startswith("http://127.0.0.1:")
with urllib.request.urlopen(req, timeout=30) as resp:
    print(resp.status)
"""


def send_otlp(phoenix: Phoenix, otlp_json: Path) -> None:
    """POST an OTLP/JSON document to Phoenix as OTLP/HTTP protobuf.

    OTLP/JSON ids are hex while proto3 JSON bytes are base64; the SDK's proto
    classes read base64, so ids are converted first.
    """
    import base64
    import json

    doc = json.loads(otlp_json.read_text())
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
        json.dump(doc, tmp)
    try:
        proc = subprocess.run(
            [str(VENV / "bin" / "python"), "-c", _SENDER, f"{phoenix.url}/v1/traces", tmp.name],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.unlink(tmp.name)
    if proc.returncode != 0 or proc.stdout.strip() != "200":
        raise PhoenixUnavailable(f"sending spans failed: {proc.stderr[-400:]}")
