"""The simulator on the wire: a small HTTP/1.1 server on asyncio streams, with
WebSocket upgrades handled by the ``websockets`` sans-I/O protocol.

Why not a framework: the project's dependencies are textual, httpx,
websockets, pyyaml and msgspec, and the protocol needs a dozen routes. Only
loopback addresses are accepted for binding.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.server import ServerProtocol

from oncall_tui.core.gateway import ActionRequest, ErrorBody, ErrorResponse
from oncall_tui.core.otlp import decode as decode_otlp
from oncall_tui.core.otlp_write import traces_data
from oncall_tui.errors import TraceFormatError
from oncall_tui.sim.engine import ProtocolError, SimEngine
from oncall_tui.sim.scenarios import SCENARIOS

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
TICK_REAL_S = 0.2
# A search bound this close to the wall clock means "until now" (see _until_now).
NOW_TOLERANCE_NS = 30 * 1_000_000_000

_encoder = msgspec.json.Encoder()


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    head: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _json(obj: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, _encoder.encode(obj))


def _error(status: int, code: str, message: str, field_: str | None = None) -> HttpResponse:
    return _json(ErrorResponse(ErrorBody(code=code, message=message, field=field_)), status)


class _TooLarge(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The request body: Content-Length or chunked, gzip undone (OTLP exporters
    and the OTel Collector compress by default). ValueError: unreadable."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                break
            total += size
            if total > MAX_BODY:
                raise _TooLarge
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        length = int(headers.get("content-length", "0") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY:
            raise _TooLarge
        body = await reader.readexactly(length) if length else b""
    if headers.get("content-encoding", "").lower() == "gzip" and body:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_BODY + 1)
        except zlib.error as exc:
            raise ValueError(f"bad gzip body: {exc}") from None
        if len(body) > MAX_BODY or inflater.unconsumed_tail:
            raise _TooLarge
    return body


def _jaeger_error(status: int, message: str) -> HttpResponse:
    """Jaeger's own error shape (api_v3 http_gateway.go), not ErrorResponse."""
    return _json({"error": {"httpCode": status, "message": message}}, status)


def require_loopback(host: str) -> None:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost":
            return
        raise ValueError(f"the simulator binds to loopback only, not {host!r}") from None
    if not addr.is_loopback:
        raise ValueError(f"the simulator binds to loopback only, not {host!r}")


class SimServer:
    """HTTP + WebSocket front of a ``SimEngine``.

    ``speed`` > 0 runs simulated time at that multiple of real time; 0 leaves
    it to ``engine.step`` (tests) or ``POST /v1/sim/step``.
    """

    def __init__(
        self,
        engine: SimEngine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 0.0,
        token: str | None = None,
        read_token: str | None = None,
    ) -> None:
        require_loopback(host)
        self.engine = engine
        self.host = host
        self.port = port
        self.speed = speed
        self.token = token or secrets.token_urlsafe(18)
        self.read_token = read_token or secrets.token_urlsafe(18)
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._connections: set[asyncio.Task[Any]] = set()
        self._fault_rng = random.Random(7)
        self._started = time.monotonic()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, limit=MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.speed > 0:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server:
            await self._server.wait_closed()

    def notify(self) -> None:
        self._changed.set()

    def step(self, seconds: float) -> None:
        self.engine.step(seconds)
        self.notify()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_REAL_S)
            self.engine.step(TICK_REAL_S * self.speed)
            self.notify()

    # ------------------------------------------------------------ transport

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                if (
                    request.path == "/v1/events"
                    and (request.header("upgrade") or "").lower() == "websocket"
                ):
                    await self._websocket(request, reader, writer)
                    break
                response = await self._respond(request)
                # After an unread body the stream is out of step: answer, then close.
                broken = request.path in ("/__too_large__", "/__bad_request__")
                await self._write(writer, response, keep_alive=not broken)
                if broken or (request.header("connection") or "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> HttpRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        try:
            body = await _read_body(reader, headers)
        except _TooLarge:
            return HttpRequest(method, "/__too_large__", {}, headers, b"", head)
        except ValueError:
            return HttpRequest(method, "/__bad_request__", {}, headers, b"", head)
        parts = urlsplit(target)
        return HttpRequest(
            method.upper(), unquote(parts.path), parse_qs(parts.query), headers, body, head
        )

    async def _write(
        self, writer: asyncio.StreamWriter, resp: HttpResponse, *, keep_alive: bool
    ) -> None:
        head = [
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}",
            f"Content-Type: {resp.content_type}",
            f"Content-Length: {len(resp.body)}",
            "Connection: keep-alive" if keep_alive else "Connection: close",
        ]
        head += [f"{k}: {v}" for k, v in resp.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body)
        await writer.drain()

    # -------------------------------------------------------------- routing

    def _auth(self, request: HttpRequest, *, write: bool) -> HttpResponse | None:
        value = request.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "unauthorized", "missing bearer token (Authorization: Bearer ...)")
        if secrets.compare_digest(token, self.token):
            return None
        if secrets.compare_digest(token, self.read_token):
            if write:
                return _error(
                    403, "forbidden", "this token is read-only; actions need the admin token"
                )
            return None
        return _error(401, "unauthorized", "unknown bearer token")

    def _fault(self) -> HttpResponse | None:
        faults = self.engine.faults
        if faults.flap_period_s > 0:
            phase = int((time.monotonic() - self._started) / faults.flap_period_s)
            if phase % 2 == 1:
                return _error(503, "unavailable", "gateway flapping (simulated fault)")
        if faults.error_rate > 0 and self._fault_rng.random() < faults.error_rate:
            return _error(503, "unavailable", "upstream failure (simulated fault)")
        return None

    async def _respond(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/__too_large__":
            return _error(413, "too_large", f"body over {MAX_BODY} bytes")
        if request.path == "/__bad_request__":
            return _error(400, "invalid", "unreadable body (Content-Length, chunks or gzip)")
        if request.path == "/healthz":
            return _json({"ok": True, "gateway_time": self.engine.gateway_time()})
        faults = self.engine.faults
        if faults.slow_ms and not request.path.startswith("/v1/sim/"):
            await asyncio.sleep(faults.slow_ms / 1000)
        if not request.path.startswith("/v1/sim/"):
            fault = self._fault()
            if fault is not None:
                return fault
        try:
            handler = self._route(request)
            if handler is None:
                return _error(404, "not_found", f"no endpoint {request.method} {request.path}")
            return await handler()
        except ProtocolError as exc:
            return _error(exc.status, exc.code, exc.message, exc.field)
        except msgspec.ValidationError as exc:
            return _error(422, "invalid", f"request body: {exc}", _field_of(exc))
        except msgspec.DecodeError as exc:
            return _error(422, "invalid", f"request body is not JSON: {exc}")
        except RecursionError:
            return _error(400, "invalid", f"{request.path}: JSON nested too deeply to read")

    def _route(self, r: HttpRequest) -> Callable[[], Awaitable[HttpResponse]] | None:
        parts = [p for p in r.path.split("/") if p]
        m = r.method

        def guard(
            write: bool, fn: Callable[[], HttpResponse]
        ) -> Callable[[], Awaitable[HttpResponse]]:
            async def run() -> HttpResponse:
                denied = self._auth(r, write=write)
                if denied is not None:
                    return denied
                result = fn()
                self.notify()
                return result

            return run

        if parts == ["v1", "routes"] and m == "GET":
            return guard(False, lambda: _json(self.engine.routes()))
        if parts == ["v1", "status"] and m == "GET":
            return guard(False, lambda: _json(self.engine.status(_window(r))))
        if parts == ["v1", "alerts"] and m == "GET":
            return guard(
                False,
                lambda: _json(
                    {"gateway_time": self.engine.gateway_time(), "alerts": self.engine.alerts()}
                ),
            )
        if len(parts) == 4 and parts[:2] == ["v1", "routes"] and m == "POST":
            kinds = {"kill-switch": "kill_switch", "rollback": "rollback", "failover": "failover"}
            kind = kinds.get(parts[3])
            if kind is None:
                return None
            return guard(True, lambda: self._action(kind, parts[2], r))
        if len(parts) == 3 and parts[:2] == ["v1", "actions"] and m == "GET":
            return guard(False, lambda: _json(self.engine.action(parts[2])))
        if parts == ["v1", "traces"] and m == "POST":
            return self._ingest(r)
        if parts[:3] == ["api", "v3", "traces"] and m == "GET":
            return self._jaeger(r, parts)
        if parts == ["api", "v3", "services"] and m == "GET":
            return self._services()
        if parts[:2] == ["v1", "sim"]:
            return guard(True, lambda: self._sim_admin(r, parts[2:]))
        return None

    def _action(self, kind: str, route: str, r: HttpRequest) -> HttpResponse:
        req = msgspec.json.decode(r.body or b"{}", type=ActionRequest)
        key = r.header("idempotency-key") or ""
        replay = key in self.engine.by_key
        record = self.engine.act(kind, route, req, key)  # type: ignore[arg-type]
        if replay:
            # The first answer again; nothing was applied this time.
            return HttpResponse(
                200, _encoder.encode(record), headers={"Idempotent-Replayed": "true"}
            )
        return _json(record, 201)

    def _ingest(self, r: HttpRequest) -> Callable[[], Awaitable[HttpResponse]]:
        async def run() -> HttpResponse:
            try:
                parsed = msgspec.json.decode(r.body or b"{}")
            except msgspec.DecodeError as exc:
                return _error(400, "invalid", f"not OTLP/JSON: {exc}")
            except RecursionError:
                # msgspec's depth limit (~1,000 levels): a broken or hostile
                # body is the client's fault, not a crash of ours.
                return _error(400, "invalid", "POST /v1/traces: JSON nested too deeply to read")
            if not isinstance(parsed, dict):
                return _error(400, "invalid", "not an OTLP ExportTraceServiceRequest")
            try:
                spans, notes = decode_otlp(r.body, parsed, "POST /v1/traces")
            except TraceFormatError as exc:
                return _error(400, "invalid", str(exc).splitlines()[0])
            except Exception as exc:
                # A reader bug met by this body: the exporter still gets an
                # answer naming it, never a dropped connection.
                return _error(
                    400,
                    "invalid",
                    f"POST /v1/traces: body not readable ({type(exc).__name__}: {exc})"[:500],
                )
            self.engine.ingest(spans)
            # A note naming a span id is about a span that was kept (a value
            # read as text); the others are spans (or resources) not placed.
            rejected = sum(1 for n in notes if n.span_id is None)
            body: dict[str, Any] = {}
            if notes:
                body["partialSuccess"] = {
                    "rejectedSpans": str(rejected),
                    "errorMessage": notes[0].detail,
                }
            return _json(body)

        return run

    def _jaeger(self, r: HttpRequest, parts: list[str]) -> Callable[[], Awaitable[HttpResponse]]:
        async def run() -> HttpResponse:
            if len(parts) == 4:
                spans = self.engine.store.get(parts[3])
                if spans is None:
                    return _jaeger_error(404, "trace not found")
                return _json({"result": traces_data(spans)})
            q = r.query

            def first(*names: str) -> str | None:
                for name in names:
                    if name in q:
                        return q[name][0]
                return None

            attrs: dict[str, str] = {}
            raw_attrs = first("query.attributes")
            if raw_attrs:
                try:
                    attrs = {str(k): str(v) for k, v in msgspec.json.decode(raw_attrs).items()}
                except (msgspec.DecodeError, AttributeError):
                    return _jaeger_error(400, "malformed parameter query.attributes")
            try:
                limit = int(
                    first("query.num_traces", "query.search_depth", "query.searchDepth") or 20
                )
                start_min = _rfc3339_ns(first("query.start_time_min", "query.startTimeMin"))
                start_max = _rfc3339_ns(first("query.start_time_max", "query.startTimeMax"))
            except ValueError as exc:
                return _jaeger_error(400, f"malformed parameter: {exc}")
            start_max = self._until_now(start_max)
            found = self.engine.store.find(
                service=first("query.service_name", "query.serviceName"),
                start_min=start_min,
                start_max=start_max,
                limit=max(1, min(limit, 1000)),
                attributes=attrs or None,
            )
            if not found:
                # Jaeger answers a search with no match with 404 (http_gateway.go).
                return _jaeger_error(404, "No traces found")
            return _json({"result": traces_data([s for spans in found for s in spans])})

        return run

    def _until_now(self, start_max: int | None) -> int | None:
        """A search that ends at the client's "now" ends at the gateway's now.

        At speed > 1 the simulated clock runs ahead of the wall clock, so a
        client's ``time.time_ns()`` would cut off the newest traces. A bound at
        the wall clock, give or take a slow request, means "until now": widen
        it to the simulated now. It is never narrowed.
        """
        if start_max is None:
            return None
        wall = time.time_ns()
        if abs(start_max - wall) > NOW_TOLERANCE_NS:
            # A real past bound, or one well past the wall clock that a
            # client read from the gateway's own clock (trace onset's
            # buckets): keep it exactly.
            return start_max
        sim_now = int(self.engine.gateway_time().timestamp() * 1_000_000_000)
        return max(start_max, sim_now)

    def _services(self) -> Callable[[], Awaitable[HttpResponse]]:
        async def run() -> HttpResponse:
            names = sorted(
                {s.service or "" for spans in self.engine.store.traces.values() for s in spans}
            )
            return _json({"services": names})

        return run

    def _sim_admin(self, r: HttpRequest, rest: list[str]) -> HttpResponse:
        engine = self.engine
        if rest == ["scenarios"] and r.method == "GET":
            return _json(
                {
                    "active": sorted(engine.fleet.active),
                    "available": [
                        {
                            "name": s.name,
                            "route": s.route,
                            "summary": s.summary,
                            "runbook": s.runbook,
                        }
                        for s in SCENARIOS.values()
                    ],
                }
            )
        if rest == ["scenarios"] and r.method == "POST":
            body = msgspec.json.decode(r.body or b"{}", type=_ScenarioChange)
            for name in body.enable:
                engine.enable(name)
            for name in body.disable:
                engine.disable(name)
            return _json({"active": sorted(engine.fleet.active)})
        if rest == ["step"] and r.method == "POST":
            body_step = msgspec.json.decode(r.body or b"{}", type=_Step)
            if not 0 < body_step.seconds <= 86400:
                raise ProtocolError(422, "invalid", "seconds must be in (0, 86400]", "seconds")
            engine.step(body_step.seconds)
            return _json({"gateway_time": engine.gateway_time()})
        if rest == ["faults"] and r.method == "POST":
            f = msgspec.json.decode(r.body or b"{}", type=_Faults)
            engine.faults.slow_ms = f.slow_ms
            engine.faults.error_rate = f.error_rate
            engine.faults.drop_ws_after = f.drop_ws_after
            engine.faults.flap_period_s = f.flap_period_s
            return _json(f)
        raise ProtocolError(404, "not_found", f"no endpoint {r.method} {r.path}")

    # ------------------------------------------------------------ websocket

    async def _websocket(
        self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        denied = self._auth(request, write=False) or self._fault()
        if denied is not None:
            await self._write(writer, denied, keep_alive=False)
            return
        try:
            # No ``since``: everything still held, with no reset for what is not.
            oldest = self.engine.events[0].seq - 1 if self.engine.events else self.engine.seq
            since = int(request.query["since"][0]) if "since" in request.query else oldest
        except ValueError:
            await self._write(
                writer,
                _error(422, "invalid", "since must be an integer", "since"),
                keep_alive=False,
            )
            return
        proto = ServerProtocol()
        proto.receive_data(request.head)
        handshake = [e for e in proto.events_received() if isinstance(e, WsRequest)]
        if not handshake:
            await self._write(
                writer, _error(400, "invalid", "bad WebSocket handshake"), keep_alive=False
            )
            return
        response = proto.accept(handshake[0])
        proto.send_response(response)
        writer.write(b"".join(proto.data_to_send()))
        await writer.drain()
        if response.status_code != 101:
            return
        sent = 0
        last = since
        read_task: asyncio.Task[bytes] = asyncio.create_task(reader.read(65536))
        try:
            hello = msgspec.json.encode(
                {
                    "seq": self.engine.seq,
                    "type": "hello",
                    "epoch": self.engine.epoch,
                    "gateway_time": self.engine.gateway_time(),
                    "detail": "oncall-tui simulator; resume with ?since=SEQ",
                }
            )
            proto.send_text(hello)
            while True:
                for event in self.engine.events_since(last):
                    proto.send_text(_encoder.encode(event))
                    if event.type != "reset":
                        last = event.seq
                    sent += 1
                    drop = self.engine.faults.drop_ws_after
                    if drop and sent >= drop:
                        writer.write(b"".join(proto.data_to_send()))
                        await writer.drain()
                        writer.transport.abort()  # a dropped connection, not a clean close
                        return
                writer.write(b"".join(proto.data_to_send()))
                await writer.drain()
                self._changed.clear()
                changed = asyncio.create_task(self._changed.wait())
                done, _ = await asyncio.wait(
                    {changed, read_task}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                )
                if changed not in done:
                    changed.cancel()
                if read_task in done:
                    data = read_task.result()
                    if not data:
                        proto.receive_eof()
                        return
                    proto.receive_data(data)
                    for frame in proto.events_received():
                        if isinstance(frame, Frame) and frame.opcode == Opcode.CLOSE:
                            writer.write(b"".join(proto.data_to_send()))
                            await writer.drain()
                            return
                    writer.write(b"".join(proto.data_to_send()))
                    read_task = asyncio.create_task(reader.read(65536))
        finally:
            read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await read_task
            if proto.close_code is None:
                with contextlib.suppress(Exception):
                    proto.send_close(Close(1001, "server going away").code, "server going away")
                    writer.write(b"".join(proto.data_to_send()))


class _ScenarioChange(msgspec.Struct, forbid_unknown_fields=True):
    enable: list[str] = []
    disable: list[str] = []


class _Step(msgspec.Struct, forbid_unknown_fields=True):
    seconds: float


class _Faults(msgspec.Struct, forbid_unknown_fields=True):
    slow_ms: int = 0
    error_rate: float = 0.0
    drop_ws_after: int = 0
    flap_period_s: float = 0.0


_MISSING = re.compile(r"missing required field `([^`]+)`")
_AT = re.compile(r"at `\$\.([A-Za-z_][\w-]*)")


def _field_of(exc: msgspec.ValidationError) -> str | None:
    """The body field a msgspec error names, for ErrorBody.field."""
    text = str(exc)
    m = _MISSING.search(text) or _AT.search(text)
    return m.group(1) if m else None


def _window(r: HttpRequest) -> int:
    raw = r.query.get("window", ["300"])[0]
    text = raw.strip().lower()
    scale = 1
    if text.endswith("m"):
        scale, text = 60, text[:-1]
    elif text.endswith("s"):
        text = text[:-1]
    elif text.endswith("h"):
        scale, text = 3600, text[:-1]
    try:
        return int(float(text) * scale)
    except ValueError:
        raise ProtocolError(
            422, "invalid", f"window {raw!r} is not a duration like 300, 5m or 1h", "window"
        ) from None


def _rfc3339_ns(value: str | None) -> int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)

    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"time {value!r} is not RFC 3339") from None
    return int(dt.timestamp() * 1_000_000_000)


@contextlib.asynccontextmanager
async def running_sim(
    *,
    scenarios: tuple[str, ...] = (),
    seed: int = 42,
    speed: float = 0.0,
    warmup_s: float = 120.0,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    read_token: str | None = None,
    start: datetime | None = None,
) -> AsyncIterator[SimServer]:
    """Start the simulator on loopback for the duration of the block.

    ``warmup_s`` of simulated traffic is generated first so the first status
    read already has numbers. ``start`` is simulated time zero (default: a
    fixed instant, so runs are reproducible).
    """
    engine = SimEngine(seed=seed, scenarios=scenarios, start=start)
    if warmup_s:
        engine.step(warmup_s)
    server = SimServer(
        engine, host=host, port=port, speed=speed, token=token, read_token=read_token
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
