"""An OTLP/HTTP receiver (JSON encoding) on loopback: ``POST /v1/traces``.

Behind ``oncall-tui trace listen``: during an incident an app can export
straight to the console. Only OTLP/JSON is accepted (protobuf gets 415 with
a message saying so); a gzip body is fine. Each accepted request is decoded
with the same reader as files, and ``on_traces`` gets the Traces it held.
The server binds 127.0.0.1 unless told otherwise and runs in its own thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oncall_tui.core.models import Trace
from oncall_tui.errors import OncallError

MAX_BODY = 64 * 1024 * 1024
#: A gzip body may unpack to this much; a bomb gets a 400 before it costs memory.
MAX_UNPACKED = 4 * MAX_BODY

OnTraces = Callable[[list[Trace], bytes], None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # the CLI prints one line per trace instead

    def _answer(self, status: int, body: dict[str, Any], *, unread: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if unread:
            # The request body was not read: the stream cannot carry another request.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/v1/traces":
            self._answer(
                404, {"message": f"no such path {self.path}; POST /v1/traces"}, unread=True
            )
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._answer(
                415,
                {
                    "message": "only OTLP/JSON is accepted: set the exporter's protocol "
                    "to http/json (OTEL_EXPORTER_OTLP_PROTOCOL=http/json)"
                },
                unread=True,
            )
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._answer(413, {"message": f"body must be 0..{MAX_BODY} bytes"}, unread=True)
            return
        body = self.rfile.read(length)
        from oncall_tui.sources.detect import gunzip, read_traces

        source = f"POST /v1/traces from {self.client_address[0]}"
        try:
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                if body[:2] != b"\x1f\x8b":
                    self._answer(
                        400, {"message": "Content-Encoding gzip, but the body is not gzip"}
                    )
                    return
                body = gunzip(body, source, MAX_UNPACKED)
            traces = read_traces(body, source=source, max_unpacked=MAX_UNPACKED)
        except OncallError as exc:
            # The exporter logs this message: one line naming what was wrong.
            self._answer(400, {"message": _one_line(str(exc))})
            return
        except Exception as exc:
            # A reader bug met by this body: still an answer naming it, never
            # a dropped connection (the exporter would retry it forever).
            self._answer(
                400,
                {
                    "message": _one_line(
                        f"{source}: body not readable ({type(exc).__name__}: {exc})"
                    )
                },
            )
            return
        try:
            self.server.on_traces(traces, body)
        except Exception as exc:
            self._answer(
                500, {"message": _one_line(f"internal error: {type(exc).__name__}: {exc}")}
            )
            return
        self._answer(200, {"partialSuccess": {}})


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    on_traces: OnTraces


class OtlpReceiver:
    """Start with ``start()``, stop with ``close()``; ``port`` is the bound port."""

    def __init__(self, on_traces: OnTraces, *, host: str = "127.0.0.1", port: int = 4318) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.on_traces = on_traces
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otlp-receiver", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
