"""The network boundary every HTTP adapter shares: one client recipe, and
httpx errors and non-2xx answers translated into the project's errors.

Messages name the system and the request (never headers: they may carry a
token) and quote at most a short excerpt of the body. This is where outside
text enters, so the body is scrubbed before it is cut: a proxy that echoes
the Authorization header back must not put the token on a screen, in --json
or in an incident file. What the request sent (its credential headers, the
URL's password) is masked, whatever the adapter or the config called it.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from oncall_tui.core.text import preview
from oncall_tui.errors import (
    AuthError,
    NotFoundError,
    RemoteError,
    TraceFormatError,
    UnreachableError,
)
from oncall_tui.plugins import PluginContext
from oncall_tui.redact import Redactor

_EXCERPT = 160
_SCAN = 64 * 1024  # only this much of a huge error body is read for the excerpt


def client(
    ctx: PluginContext,
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float | None = None,
    auth: Any = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=httpx.Timeout(timeout_s or ctx.timeout_s),
        transport=ctx.transport,
        auth=auth,
        follow_redirects=False,
    )


def _error_text(resp: httpx.Response) -> str:
    """The part of an error body worth quoting, uncut (it is scrubbed first)."""
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:_SCAN]
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:_SCAN]
        for key in ("message", "detail", "error"):
            if isinstance(doc.get(key), str):
                return str(doc[key])[:_SCAN]
    return resp.text[:_SCAN]


def _error_message(resp: httpx.Response) -> str:
    # Scrub before cutting: a token cut in half by the excerpt would no longer match.
    sent = Redactor.for_request(resp.request.headers.items(), str(resp.request.url))
    return preview(sent.text(_error_text(resp)), _EXCERPT)


def check(resp: httpx.Response, system: str) -> httpx.Response:
    """Raise the matching OncallError for a non-2xx answer."""
    if resp.is_success:
        return resp
    what = f"{system}: {resp.request.method} {resp.request.url.path}"
    detail = _error_message(resp)
    if resp.status_code in (401, 403):
        raise AuthError(f"{what} answered {resp.status_code}: {detail}")
    if resp.status_code == 404:
        raise NotFoundError(f"{what} answered 404: {detail}")
    raise RemoteError(f"{what} answered {resp.status_code}: {detail}", status=resp.status_code)


async def request(
    http: httpx.AsyncClient, method: str, path: str, system: str, **kwargs: Any
) -> httpx.Response:
    try:
        resp = await http.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise UnreachableError(
            f"{system}: {method} {path} timed out ({type(exc).__name__})"
        ) from exc
    except httpx.TransportError as exc:
        raise UnreachableError(
            f"{system}: cannot reach {http.base_url} ({type(exc).__name__})"
        ) from exc
    return check(resp, system)


def decode_page(content: bytes, type_: Any, system: str, where: str) -> Any:
    """A store's JSON answer into ``type_``; a malformed one is a one-line
    TraceFormatError naming the store and the request."""
    try:
        return msgspec.json.decode(content, type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise TraceFormatError(f"{system}: {where} answered a malformed page: {exc}") from None
