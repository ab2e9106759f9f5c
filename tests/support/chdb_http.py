"""An httpx transport that answers ClickHouse HTTP-interface requests by
running them in chdb (ClickHouse embedded in this process), so an adapter's
real HTTP code path runs against the real engine.

What it honours of the HTTP interface (clickhouse.com/docs/interfaces/http):
the query as the POST body; ``database`` and ``param_<name>`` query
parameters; ``X-ClickHouse-User`` / ``X-ClickHouse-Key`` (checked against the
one user it is given). Errors come back as ClickHouse sends them: the body is
chdb's own exception text (the same ``Code: N. DB::Exception: ...`` text the
server prints), the status and ``X-ClickHouse-Exception-Code`` header as the
server maps the code (UNKNOWN_TABLE/UNKNOWN_DATABASE 404, AUTHENTICATION_FAILED
403, syntax 400, anything else 500). Other settings in the URL are ignored.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

_CODE = re.compile(r"Code:\s*(\d+)")
#: ClickHouse's own mapping (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), the codes we meet.
_STATUS = {60: 404, 81: 404, 47: 404, 516: 403, 194: 401, 62: 400, 36: 400, 159: 408}


class ChdbTransport(httpx.AsyncBaseTransport):
    def __init__(self, session: Any, *, user: str = "default", key: str | None = None) -> None:
        self.session = session
        self.user = user
        self.key = key
        self.queries: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = (await request.aread()).decode()
        self.queries.append(body)
        user = request.headers.get("X-ClickHouse-User", "default")
        key = request.headers.get("X-ClickHouse-Key")
        if user != self.user or (self.key is not None and key != self.key):
            text = (
                f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) "
                "(version 26.9.2.1)\n"
            )
            return _error(516, text)
        params = {
            k[len("param_") :]: v for k, v in request.url.params.items() if k.startswith("param_")
        }
        database = request.url.params.get("database", "default")
        try:
            self.session.query(f"USE {database}")
            result = self.session.query(body, "JSONEachRow", params=params)
        except Exception as exc:  # chdb raises its own error type with the server's text
            text = str(exc)
            m = _CODE.search(text)
            return _error(int(m.group(1)) if m else 1000, text.strip() + "\n")
        data = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return httpx.Response(
            200,
            content=data,
            headers={"X-ClickHouse-Format": "JSONEachRow", "Content-Type": "application/json"},
        )


def _error(code: int, text: str) -> httpx.Response:
    return httpx.Response(
        _STATUS.get(code, 500),
        content=text.encode(),
        headers={"X-ClickHouse-Exception-Code": str(code), "Content-Type": "text/plain"},
    )
