"""An OTLP/HTTP trace receiver on loopback: ``POST /v1/traces`` (and
``POST /v1/logs``, for span events sent as log records).

Behind ``oncall-tui trace listen``: during an incident an app exports
straight to the console. It takes what OTel SDKs send: protobuf
(``application/x-protobuf``, the SDK default; decoded in
sources/otlp_protobuf.py) and JSON (``application/json``), gzip or not. Each
accepted request is read by the same reader as files (sources/detect.py), and
``on_traces`` gets its Traces plus the request as OTLP/JSON (one document per
line, protobuf converted), which is what ``--save`` writes. Logs requests
(the older GenAI event conventions put message content and tool arguments
in log records naming their span) go to ``on_events`` as an EventBatch, the
same way; without an ``on_events``, ``/v1/logs`` is a 404.

Answers follow the OTLP/HTTP spec, in the request's own encoding: 200 with an
ExportTraceServiceResponse; 400 with a google.rpc.Status whose message is one
line naming what was wrong (the exporter logs it and does not retry); 413 past
``max_body`` (or a gzip body past ``max_unpacked``: 400, the bytes were fine
but the content is not acceptable); 415 only for a content type it cannot
read; 404 for another path. A bad body never drops the connection or touches
what was received before. The server binds 127.0.0.1 unless told otherwise
and serves each connection in its own thread. gRPC (port 4317) is not served:
it would need grpcio, a large native dependency, for what HTTP already does.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import msgspec

from oncall_tui.core.assemble import EventBatch
from oncall_tui.core.models import Trace
from oncall_tui.errors import OncallError

MAX_BODY = 64 * 1024 * 1024
#: A gzip body may unpack to this much; a bomb gets a 400 before it costs memory.
MAX_UNPACKED = 4 * MAX_BODY

#: (the request's spans per trace id, the request as OTLP/JSON lines). Plain
#: OTLP comes as unassembled pieces (live_traces.fragments) that
#: LiveTraces.add takes; other bodies as assembled Traces.
OnTraces = Callable[[list[Trace], bytes], None]
#: (the request's span events, the request as OTLP/JSON lines).
OnEvents = Callable[[EventBatch, bytes], None]

Encoding = Literal["protobuf", "json"]

_PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
_JSON_TYPES = frozenset({"application/json"})

# google.rpc.Code values the answers use.
_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED, _INTERNAL = 3, 5, 8, 13


class _BadRequest(Exception):
    def __init__(self, status: int, code: int, message: str, *, unread: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.unread = status, code, message, unread


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # A client that sends headers and then stalls must not hold a thread forever.
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        return  # the CLI prints one line per trace instead

    def do_POST(self) -> None:
        encoding: Encoding = "json"
        path = self.path.split("?")[0]
        logs = path == "/v1/logs" and self.server.on_events is not None
        try:
            if path != "/v1/traces" and not logs:
                raise _BadRequest(
                    404, _NOT_FOUND, f"no such path {self.path}; POST /v1/traces", unread=True
                )
            encoding = self._encoding()
            body = self._body()
            if logs:
                batch, lines = self._read_logs(body, encoding)
            else:
                traces, lines = self._read(body, encoding)
        except _BadRequest as bad:
            self._status(bad.status, bad.code, _one_line(bad.message), encoding, bad.unread)
            return
        try:
            if logs:
                assert self.server.on_events is not None
                if batch.events or batch.notes:
                    self.server.on_events(batch, lines)
            else:
                self.server.on_traces(traces, lines)
        except Exception as exc:
            message = _one_line(f"internal error: {type(exc).__name__}: {exc}")
            self._status(500, _INTERNAL, message, encoding, False)
            return
        if encoding == "protobuf":
            # An empty ExportTraceServiceResponse: full success, zero bytes.
            self._send(200, b"", "application/x-protobuf")
        else:
            self._send(200, b'{"partialSuccess":{}}', "application/json")

    def _encoding(self) -> Encoding:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype in _PROTOBUF_TYPES:
            return "protobuf"
        if ctype in _JSON_TYPES:
            return "json"
        raise _BadRequest(
            415,
            _INVALID_ARGUMENT,
            f"content type {ctype or '(none)'!r} is not OTLP: send application/x-protobuf "
            "or application/json (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf or http/json)",
            unread=True,
        )

    def _body(self) -> bytes:
        limit = self.server.max_body
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0:
            raise _BadRequest(400, _INVALID_ARGUMENT, "Content-Length is not a number", unread=True)
        if length > limit:
            raise _BadRequest(
                413,
                _RESOURCE_EXHAUSTED,
                f"body of {length} bytes is over the limit of {limit} bytes "
                "(trace listen --max-body; or a smaller batch: OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
                unread=True,
            )
        return self.rfile.read(length)

    def _chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest(
                    400, _INVALID_ARGUMENT, "broken chunked encoding", unread=True
                ) from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return bytes(body)
            if len(body) + size > limit:
                raise _BadRequest(
                    413,
                    _RESOURCE_EXHAUSTED,
                    f"body is over the limit of {limit} bytes (trace listen --max-body)",
                    unread=True,
                )
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _read(self, body: bytes, encoding: Encoding) -> tuple[list[Trace], bytes]:
        source = f"POST /v1/traces from {self.client_address[0]}"
        with _answering(source):
            body = self._gunzipped(body, source)
            if encoding == "protobuf":
                return self._protobuf(body, source)
            traces = self._pieces(body, source)
            return traces, _json_lines(body) if traces and self.server.keep_lines else b""

    def _read_logs(self, body: bytes, encoding: Encoding) -> tuple[EventBatch, bytes]:
        """A logs request's span events (records naming no span are skipped:
        plain application logs say nothing about a trace)."""
        from oncall_tui.sources.formats import otlp_logs

        source = f"POST /v1/logs from {self.client_address[0]}"
        with _answering(source):
            body = self._gunzipped(body, source)
            if encoding == "json":
                batch = otlp_logs.read_logs(body, source)
                return batch, _json_lines(body) if self.server.keep_lines else b""
            from oncall_tui.sources.otlp_protobuf import logs_to_wire

            try:
                data, _ = logs_to_wire(body, f"{source} (protobuf)")
            except ImportError as exc:
                raise _BadRequest(415, _INVALID_ARGUMENT, protobuf_missing(exc)) from None
            batch = otlp_logs.batch_of(data, source)
            keep = self.server.keep_lines and batch.events
            return batch, (msgspec.json.encode(data) + b"\n") if keep else b""

    def _gunzipped(self, body: bytes, source: str) -> bytes:
        from oncall_tui.sources.detect import gunzip

        if (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip":
            if body[:2] != b"\x1f\x8b":
                raise _BadRequest(
                    400, _INVALID_ARGUMENT, "Content-Encoding gzip, but the body is not gzip"
                )
            return gunzip(body, source, self.server.max_unpacked)
        return body

    def _protobuf(self, body: bytes, source: str) -> tuple[list[Trace], bytes]:
        """Protobuf straight into the wire Structs the JSON reader makes (no
        JSON round trip: the receiver's hot path); the OTLP/JSON line only
        when someone keeps it (``--save``)."""
        from oncall_tui.core import otlp
        from oncall_tui.sources.live_traces import fragments
        from oncall_tui.sources.otlp_protobuf import (
            message_to_json,
            message_to_wire,
            parse_request,
        )

        where = f"{source} (protobuf)"
        try:
            msg = parse_request(body, where)
        except ImportError as exc:
            # A broken install: say what is missing and what still works,
            # never "body not readable" (the exporter would retry forever).
            raise _BadRequest(415, _INVALID_ARGUMENT, protobuf_missing(exc)) from None
        data, count = message_to_wire(msg)
        if not count:
            return [], b""  # a valid, empty export
        spans, notes = otlp.convert_data(data, source)
        if not spans:
            raise otlp.NoSpansRead(source, notes)
        line = message_to_json(msg) + b"\n" if self.server.keep_lines else b""
        return fragments(spans, notes, "otlp-json"), line

    def _pieces(self, raw: bytes, source: str) -> list[Trace]:
        """The request's spans per trace id. Plain OTLP/JSON (what exporters
        send) is decoded straight into unassembled pieces: the live store
        assembles a trace once, when it settles, not once per request.
        Anything else (snake_case keys, JSON lines, a store's format, broken
        input) goes through the file reader, which also names what is wrong."""
        from oncall_tui.core import otlp
        from oncall_tui.sources.detect import read_traces
        from oncall_tui.sources.live_traces import fragments

        try:
            spans, notes = otlp.decode(raw, None, source)
        except OncallError:
            spans, notes = [], []
        if spans:
            return fragments(spans, notes, "otlp-json")
        return read_traces(raw, source=source, max_unpacked=self.server.max_unpacked)

    def _status(
        self, status: int, code: int, message: str, encoding: Encoding, unread: bool
    ) -> None:
        if encoding == "protobuf":
            self._send(status, _status_protobuf(code, message), "application/x-protobuf", unread)
        else:
            body = json.dumps({"code": code, "message": message}).encode()
            self._send(status, body, "application/json", unread)

    def _send(self, status: int, data: bytes, ctype: str, unread: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if unread:
            # The request body was not read: the stream cannot carry another request.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def _answering(source: str) -> Iterator[None]:
    """Whatever reading a body raises becomes a 400 naming it: the exporter
    logs the message (one line), and a reader bug met by this body is still
    an answer, never a dropped connection (it would retry forever)."""
    try:
        yield
    except _BadRequest:
        raise
    except OncallError as exc:
        raise _BadRequest(400, _INVALID_ARGUMENT, str(exc)) from None
    except Exception as exc:
        message = f"{source}: body not readable ({type(exc).__name__}: {exc})"
        raise _BadRequest(400, _INVALID_ARGUMENT, message) from None


def protobuf_missing(exc: ImportError | None = None) -> str:
    """Why protobuf bodies cannot be read here, and what to do (one line)."""
    what = f" ({exc.name} missing)" if exc is not None and exc.name else ""
    return (
        f"cannot read application/x-protobuf: opentelemetry-proto is not installed{what}; "
        "reinstall oncall-tui (it depends on it) or send JSON "
        "(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json)"
    )


def protobuf_readable() -> bool:
    """Whether ``opentelemetry-proto`` can be imported, without importing it
    (the CLI stays fast): ``trace listen`` warns at start when it cannot."""
    from importlib.util import find_spec

    try:
        return find_spec("opentelemetry.proto.collector.trace.v1.trace_service_pb2") is not None
    except (ImportError, ValueError):
        return False


def _json_lines(body: bytes) -> bytes:
    """A JSON request body as OTLP/JSON lines (one compact line per document),
    so a file of them is itself a trace file ``trace analyze`` reads."""
    import msgspec

    text = body.strip()
    if b"\n" not in text and b"\r" not in text:
        return text + b"\n"  # compact already: what exporters send
    try:
        return msgspec.json.encode(msgspec.json.decode(text)) + b"\n"
    except msgspec.DecodeError:
        # JSON lines already (the reader accepted it).
        return b"".join(
            msgspec.json.encode(msgspec.json.decode(line)) + b"\n"
            for line in text.splitlines()
            if line.strip()
        )


def _status_protobuf(code: int, message: str) -> bytes:
    """google.rpc.Status {code = 1 (int32), message = 2 (string)} in protobuf.
    Two fields: written by hand rather than depending on googleapis-common-protos."""
    text = message.encode()
    out = b"\x08" + _varint(code) if code else b""  # proto3 leaves defaults out
    return out + (b"\x12" + _varint(len(text)) + text if text else b"")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many exporters at once (a fleet of workers) should queue, not be refused.
    request_queue_size = 128
    on_traces: OnTraces
    on_events: OnEvents | None
    max_body: int
    max_unpacked: int
    keep_lines: bool

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (or a timeout) ends only its own
        # connection; the default would print a traceback into the output.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        sys.stderr.write(
            f"oncall-tui: warning: request from {client_address[0]} failed: "
            f"{type(exc).__name__}: {_one_line(str(exc), 200)}\n"
        )


class OtlpReceiver:
    """Start with ``start()``, stop with ``close()``; ``port`` is the bound port."""

    def __init__(
        self,
        on_traces: OnTraces,
        *,
        host: str = "127.0.0.1",
        port: int = 4318,
        max_body: int | None = None,
        max_unpacked: int | None = None,
        keep_lines: bool = True,
        on_events: OnEvents | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.on_traces = on_traces
        self._server.on_events = on_events
        # Whether ``on_traces`` gets each request as OTLP/JSON lines (for
        # ``--save``); without a taker, protobuf is never turned into JSON.
        self._server.keep_lines = keep_lines
        self._server.max_body = MAX_BODY if max_body is None else max_body
        if max_unpacked is None:
            max_unpacked = MAX_UNPACKED if max_body is None else 4 * max_body
        self._server.max_unpacked = max_unpacked
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
