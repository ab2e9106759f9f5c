"""A scripted stand-in for the OpenAI Chat Completions API, on 127.0.0.1 only.

Recording tool, never imported by the test suite or the product: real
instrumentation libraries are pointed at it with ``base_url`` so the spans
they emit are theirs, unmodified, while every answer is decided by the
scenario's script (tool calls, text, streaming, reasoning tokens, usage,
429/500 on demand). Standard library only, so it runs in every recording venv.

A script is a callable ``(request, n) -> Reply``: ``request`` is the decoded
JSON body, ``n`` the 0-based count of chat requests served so far (errors
included), so retries and laps are scriptable.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the real API answers a request for an alias with: its dated snapshot.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
}


@dataclass
class Reply:
    """One answer. ``tool_calls``: (tool name, arguments) pairs."""

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200  # 429 / 500 / 503 answer with an OpenAI error body
    model: str | None = None  # response model; default: the request's snapshot
    reasoning_tokens: int = 0
    reasoning_s: float = 0.0  # streamed: silence after the first (role) chunk
    delay_s: float = 0.02  # server time before the answer (or the first chunk)
    finish_reason: str | None = None


Script = Callable[[dict[str, Any], int], Reply]


def text_reply(text: str, **kw: Any) -> Reply:
    return Reply(text=text, **kw)


def tool_reply(*calls: tuple[str, dict[str, Any]], **kw: Any) -> Reply:
    return Reply(tool_calls=list(calls), **kw)


def last_message(request: dict[str, Any]) -> dict[str, Any]:
    messages = request.get("messages") or [{}]
    return messages[-1] if isinstance(messages[-1], dict) else {}


def tool_results(request: dict[str, Any]) -> int:
    """How many tool results the conversation holds (a ReAct loop's step)."""
    return sum(1 for m in request.get("messages", []) if m.get("role") == "tool")


def prompt_text(request: dict[str, Any]) -> str:
    """Every message's text, joined: scripts match on markers in it."""
    parts = []
    for m in request.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


class MockOpenAI:
    """``with MockOpenAI(script) as api: ... api.base_url``"""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> MockOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, request: dict[str, Any]) -> tuple[Reply, int]:
        with self._lock:
            n = len(self.requests)
            self.requests.append(request)
        return self.script(request, n), n

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "mock"} for m in SNAPSHOTS]
                    self._json(200, {"object": "list", "data": data})
                else:
                    self._json(
                        404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                    )

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0].rstrip("/")
                if path.endswith("/chat/completions"):
                    self._chat(body)
                elif path.endswith("/embeddings"):
                    items = body.get("input")
                    items = items if isinstance(items, list) else [items]
                    data = [
                        {"object": "embedding", "index": i, "embedding": [0.01 * (i + 1)] * 8}
                        for i in range(len(items))
                    ]
                    usage = {"prompt_tokens": 8 * len(items), "total_tokens": 8 * len(items)}
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": data,
                            "model": body.get("model"),
                            "usage": usage,
                        },
                    )
                else:
                    self._json(
                        404,
                        {"error": {"message": f"no route {path}", "type": "invalid_request_error"}},
                    )

            def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _chat(self, body: dict[str, Any]) -> None:
                reply, n = api._next(body)
                time.sleep(reply.delay_s)
                if reply.status != 200:
                    kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
                    err = {"error": {"message": f"mock {reply.status}", "type": kind, "code": kind}}
                    # retry-after-ms 0: the client retries at once, recordings stay fast
                    self._json(
                        reply.status, err, {"retry-after-ms": "10", "x-request-id": f"req_{n}"}
                    )
                    return
                requested = str(body.get("model") or "gpt-4o-mini")
                model = reply.model or SNAPSHOTS.get(requested, requested)
                calls = [
                    {
                        "id": f"call_{next(api._ids):04d}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }
                    for name, args in reply.tool_calls
                ]
                finish = reply.finish_reason or ("tool_calls" if calls else "stop")
                prompt_tokens = max(1, len(json.dumps(body.get("messages", []))) // 4)
                visible = len(reply.text or "") // 4 + sum(
                    len(c["function"]["arguments"]) // 4 for c in calls
                )
                completion_tokens = visible + 1 + reply.reasoning_tokens
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {
                        "reasoning_tokens": reply.reasoning_tokens,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                }
                cid = f"chatcmpl-mock{n:04d}"
                created = int(time.time())
                if body.get("stream"):
                    self._stream(body, cid, created, model, reply, calls, finish, usage)
                    return
                message: dict[str, Any] = {
                    "role": "assistant",
                    "content": reply.text,
                    "refusal": None,
                }
                if calls:
                    message["tool_calls"] = calls
                self._json(
                    200,
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_mock",
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "logprobs": None,
                                "finish_reason": finish,
                            }
                        ],
                        "usage": usage,
                    },
                    {"x-request-id": f"req_{n}"},
                )

            def _stream(
                self,
                body: dict[str, Any],
                cid: str,
                created: int,
                model: str,
                reply: Reply,
                calls: list[dict[str, Any]],
                finish: str,
                usage: dict[str, Any],
            ) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

                def chunk(
                    delta: dict[str, Any], finish_reason: str | None = None, **extra: Any
                ) -> None:
                    doc = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_mock",
                        "choices": [
                            {
                                "index": 0,
                                "delta": delta,
                                "logprobs": None,
                                "finish_reason": finish_reason,
                            }
                        ],
                        **extra,
                    }
                    if with_usage:
                        doc.setdefault("usage", None)
                    self._send(f"data: {json.dumps(doc)}\n\n")

                chunk({"role": "assistant", "content": "", "refusal": None})
                # Hidden reasoning: the first chunk came, nothing visible yet.
                time.sleep(reply.reasoning_s)
                for word in (reply.text or "").split(" ") if reply.text else []:
                    chunk({"content": word + " "})
                    time.sleep(0.002)
                for index, call in enumerate(calls):
                    head = {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                    chunk({"tool_calls": [head]})
                    args = call["function"]["arguments"]
                    for start in range(0, len(args), 12):
                        chunk(
                            {
                                "tool_calls": [
                                    {
                                        "index": index,
                                        "function": {"arguments": args[start : start + 12]},
                                    }
                                ]
                            }
                        )
                chunk({}, finish)
                if with_usage:
                    doc = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_mock",
                        "choices": [],
                        "usage": usage,
                    }
                    self._send(f"data: {json.dumps(doc)}\n\n")
                self._send("data: [DONE]\n\n")
                self._send("")  # the chunked encoding's end

            def _send(self, text: str) -> None:
                raw = text.encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()

        return Handler
