"""Record one corpus case: real libraries, a scripted OpenAI mock, official exporters.

Recording tool (runs in a recording venv with the libraries of
requirements-<family>.txt; never imported by the test suite). One process
records one case::

    with recording(case_dir, script, packages=[...]) as rec:
        ...instrument, then run the agent against rec.base_url...

Spans leave through the official ``OTLPSpanExporter`` (OTLP/HTTP protobuf)
with a ``SimpleSpanProcessor`` (one span per export) into a loopback sink that
decodes them with ``opentelemetry-proto`` and keeps each request as it came.
The case is written as:

- ``spans.jsonl``: one ExportTraceServiceRequest per line, OTLP/JSON as the
  Collector's file exporter writes it (hex ids, integer enums): one span per
  line, so a trace is spread over many lines;
- ``trace.json``: every request's resourceSpans in one OTLP/JSON document;
- ``recorded.json``: library versions, scenario, when.

The expected diagnosis (``expected.yaml``) is written by hand BEFORE recording.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mock_openai import MockOpenAI, Script

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(doc: Any) -> Any:
    """protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants hex."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            if k in _ID_KEYS and isinstance(v, str):
                out[k] = base64.b64decode(v).hex()
            else:
                out[k] = _hex_ids(v)
        return out
    if isinstance(doc, list):
        return [_hex_ids(v) for v in doc]
    return doc


class OtlpSink:
    """OTLP/HTTP receiver on 127.0.0.1: keeps each export request as OTLP/JSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                from google.protobuf.json_format import MessageToDict
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceRequest,
                    ExportTraceServiceResponse,
                )

                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    import gzip

                    raw = gzip.decompress(raw)
                if "json" in (self.headers.get("content-type") or ""):
                    doc = json.loads(raw)
                else:
                    msg = ExportTraceServiceRequest()
                    msg.ParseFromString(raw)
                    doc = _hex_ids(MessageToDict(msg, use_integers_for_enums=True))
                with sink._lock:
                    sink.requests.append(doc)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def write(self, case_dir: Path) -> int:
        case_dir.mkdir(parents=True, exist_ok=True)
        with (case_dir / "spans.jsonl").open("w") as f:
            for doc in self.requests:
                f.write(json.dumps(doc, separators=(",", ":")) + "\n")
        merged = {
            "resourceSpans": [rs for doc in self.requests for rs in doc.get("resourceSpans", [])]
        }
        (case_dir / "trace.json").write_text(json.dumps(merged, indent=1) + "\n")
        return sum(
            len(ss.get("spans", []))
            for rs in merged["resourceSpans"]
            for ss in rs.get("scopeSpans", [])
        )


@dataclass
class Recording:
    mock: MockOpenAI
    base_url: str
    tracer_provider: Any


def _versions(packages: list[str]) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@contextmanager
def recording(
    case_dir: str | Path,
    script: Script,
    *,
    packages: list[str],
    service: str = "corpus-agent",
    scenario: str = "",
    env: dict[str, str] | None = None,
) -> Iterator[Recording]:
    """Start the mock and the sink, install the SDK with the official OTLP
    exporter as the global tracer provider, and write the case on exit."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    case_dir = Path(case_dir)
    os.environ.update(env or {})
    sink = OtlpSink()
    with MockOpenAI(script) as mock:
        os.environ["OPENAI_BASE_URL"] = mock.base_url
        os.environ["OPENAI_API_KEY"] = "sk-mock-not-a-secret"
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=sink.url, timeout=10))
        )
        trace.set_tracer_provider(provider)
        started = time.time()
        yield Recording(mock=mock, base_url=mock.base_url, tracer_provider=provider)
        provider.force_flush()
        provider.shutdown()
    count = sink.write(case_dir)
    sink.close()
    meta = {
        "scenario": scenario or case_dir.name,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "python": sys.version.split()[0],
        "packages": _versions(packages),
        "chat_requests": len(mock.requests),
        "spans": count,
        "env": {k: v for k, v in (env or {}).items()},
    }
    (case_dir / "recorded.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(f"recorded {case_dir}: {count} spans, {len(mock.requests)} chat requests")


CORPUS = Path(__file__).resolve().parent.parent


def main(family: str, cases: dict[str, Any]) -> None:
    """``record_<family>.py [case ...]``: record each named case (all when none)
    in a fresh process of its own, so instrumentation never leaks across
    cases. ``cases`` maps a case name to a function taking the case folder."""
    import subprocess

    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--one":
        cases[args[1]](CORPUS / family / args[1])
        return
    unknown = [a for a in args if a not in cases]
    if unknown:
        sys.exit(f"unknown case(s) {unknown}; known: {sorted(cases)}")
    failed = []
    for name in args or list(cases):
        if not (CORPUS / family / name / "expected.yaml").exists():
            print(f"skip {family}/{name}: write expected.yaml first (before recording)")
            failed.append(name)
            continue
        proc = subprocess.run([sys.executable, sys.argv[0], "--one", name], timeout=300)
        if proc.returncode:
            failed.append(name)
    if failed:
        sys.exit(f"{family}: not recorded: {failed}")
