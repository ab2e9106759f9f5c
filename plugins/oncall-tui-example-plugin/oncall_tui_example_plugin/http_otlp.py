"""``http-otlp``: a trace store behind ``GET {url}/{trace_id}`` that answers OTLP/JSON.

Many teams park exports in an object store or a tiny internal service; this is
the whole adapter for one. It shows the three things every plugin does:
options declared as a strict msgspec Struct, secrets read through the context
by the *name* of an environment variable, and errors translated at the
boundary into the project's own exceptions.
"""

from __future__ import annotations

import httpx
import msgspec

from oncall_tui.core.models import Trace
from oncall_tui.errors import AuthError, NotFoundError, RemoteError, UnreachableError
from oncall_tui.plugins import Plugin, PluginContext


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str  # base URL; the trace is at {url}/{trace_id}
    token_env: str | None = None  # sent as a bearer token when set
    timeout_s: float = 10.0


class HttpOtlpStore:
    def __init__(self, options: Options, ctx: PluginContext) -> None:
        token = ctx.secret(options.token_env)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=options.url.rstrip("/"),
            headers=headers,
            timeout=options.timeout_s,
            transport=ctx.transport,
        )

    async def get_trace(self, trace_id: str) -> Trace:
        from oncall_tui.sources.detect import read_traces

        try:
            response = await self._client.get(f"/{trace_id}")
        except httpx.TransportError as exc:
            raise UnreachableError(f"http-otlp: {self._client.base_url}: {exc}") from exc
        if response.status_code in (401, 403):
            raise AuthError(f"http-otlp: {response.status_code} for trace {trace_id}")
        if response.status_code == 404:
            raise NotFoundError(f"http-otlp: trace {trace_id} not found")
        if response.status_code >= 400:
            raise RemoteError(
                f"http-otlp: HTTP {response.status_code}", status=response.status_code
            )
        traces = read_traces(response.content, source=str(response.url))
        for trace in traces:
            if trace.trace_id == trace_id.lower():
                return trace
        raise NotFoundError(f"http-otlp: response held no trace {trace_id}")


PLUGIN = Plugin(
    name="http-otlp",
    summary="OTLP/JSON files served over HTTP (worked example plugin)",
    roles=("trace_stores",),
    options=Options,
    factory=HttpOtlpStore,
)
