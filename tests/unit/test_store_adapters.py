"""Contract tests: each trace-store adapter against the real recorded
responses (httpx.MockTransport serving /work/shared/fixtures), plus the faults
a real server will not produce on demand (timeouts, 401, 500, bad pages)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from oncall_tui.errors import (
    AuthError,
    MissingSecretError,
    NotFoundError,
    RemoteError,
    TraceFormatError,
    UnreachableError,
)
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import TraceQuery, TraceSearch, TraceStore, TraceTail
from tests.unit.test_store_formats import SHARED, langfuse_page

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared fixtures not present")

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(rel: str) -> bytes:
    return (SHARED / rel).read_bytes()


def adapter(plugin: str, options: dict[str, Any], handler: Handler, **env: str) -> Any:
    ctx = PluginContext(environ=env, transport=httpx.MockTransport(handler), timeout_s=2)
    return build(plugin, options, ctx)


def ok(body: bytes | dict[str, Any], status: int = 200) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


# ------------------------------------------------------------------ jaeger


async def test_jaeger_get_trace_api_v3() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.path)
        return ok(fixture("jaeger/apiv3-GetTrace.json"))

    store = adapter("jaeger", {"url": "http://127.0.0.1:16686"}, handler)
    assert isinstance(store, TraceStore) and isinstance(store, TraceSearch)
    assert not isinstance(store, TraceTail)
    trace = await store.get_trace("00000000000000000000000000000001")
    assert seen == ["/api/v3/traces/00000000000000000000000000000001"]
    assert trace.source == "jaeger-api-v3"
    assert [s.name for s in trace.spans] == ["foobar"]


async def test_jaeger_falls_back_to_v1_when_v3_is_missing() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.startswith("/api/v3/"):
            return httpx.Response(404, text="404 page not found")
        assert req.url.path == "/api/traces/83a9efd15c1c98a977e0711cc93ee28b"
        return ok(fixture("jaeger/v1-transform-response.json"))

    store = adapter("jaeger", {"url": "http://127.0.0.1:16686"}, handler)
    trace = await store.get_trace("83a9efd15c1c98a977e0711cc93ee28b")
    assert trace.source == "jaeger-v1"
    assert len(trace.spans) == 2


async def test_jaeger_trace_missing_everywhere_is_not_found() -> None:
    store = adapter("jaeger", {"url": "http://x"}, lambda r: httpx.Response(404, text="nope"))
    with pytest.raises(NotFoundError):
        await store.get_trace("ab" * 16)


async def test_jaeger_search_sends_both_spellings_and_404_means_no_traces() -> None:
    seen: list[httpx.QueryParams] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.params)
        return httpx.Response(404, json={"error": {"message": "trace not found"}})

    store = adapter("jaeger", {"url": "http://x"}, handler)
    assert await store.search(TraceQuery(service="checkout", limit=7)) == []
    params = seen[0]
    assert params["query.service_name"] == params["query.serviceName"] == "checkout"
    assert params["query.num_traces"] == params["query.numTraces"] == "7"
    assert params["query.start_time_min"].endswith("Z")
    assert "query.startTimeMin" in params


async def test_jaeger_search_by_route_and_errors_sends_one_attribute_map() -> None:
    seen: list[httpx.QueryParams] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.params)
        return httpx.Response(404, json={"error": {"message": "trace not found"}})

    store = adapter("jaeger", {"url": "http://x"}, handler)
    await store.search(TraceQuery(route="support-chat", errors_only=True))
    assert json.loads(seen[0]["query.attributes"]) == {
        "error": "true",
        "gen_ai.route": "support-chat",
    }


async def test_jaeger_search_summarises_each_trace() -> None:
    store = adapter(
        "jaeger", {"url": "http://x"}, lambda r: ok(fixture("jaeger/apiv3-FindTraces.json"))
    )
    [row] = await store.search(TraceQuery(service="foo"))
    assert row.trace_id == "00000000000000000000000000000001"
    assert row.root_name == "foobar"


# ------------------------------------------------------------------ tempo

TEMPO_ID = "5b8efff798038103d269b633813fc700"


async def test_tempo_v2_with_tenant_header() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return ok(fixture("tempo/docs-api-v2-traces-response-base64.json"))

    store = adapter("tempo", {"url": "http://x", "tenant": "team-a"}, handler)
    trace = await store.get_trace(TEMPO_ID)
    assert seen[0].url.path == f"/api/v2/traces/{TEMPO_ID}"
    assert seen[0].headers["X-Scope-OrgID"] == "team-a"
    assert trace.trace_id == TEMPO_ID  # base64 on the wire, hex here
    assert trace.spans[0].kind == "server"
    assert trace.completeness == "complete"


async def test_tempo_partial_is_shown_as_partial() -> None:
    body = json.loads(fixture("tempo/docs-api-v2-traces-response-base64.json"))
    body["status"] = "PARTIAL"
    body["message"] = "trace exceeds max size (max bytes: 5000000)"
    store = adapter("tempo", {"url": "http://x"}, lambda r: ok(body))
    trace = await store.get_trace(TEMPO_ID)
    assert trace.completeness == "partial"
    assert "max size" in (trace.completeness_reason or "")


async def test_tempo_falls_back_to_v1_batches() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if "/api/v2/" in req.url.path:
            return httpx.Response(404, text="404 page not found")
        return ok(fixture("tempo/tempopb-trace-v1-batches.json"))

    trace = await adapter("tempo", {"url": "http://x"}, handler).get_trace(
        "5b8efff798038103d269b633813fc602"
    )
    assert trace.source == "tempo"


async def test_tempo_traceql_search() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return ok(fixture("tempo/docs-api-search-response.json"))

    store = adapter("tempo", {"url": "http://x"}, handler)
    [row] = await store.search(TraceQuery(service='my "svc"', errors_only=True, limit=5))
    q = seen[0].url.params["q"]
    assert q == '{ resource.service.name = "my \\"svc\\"" && status = error }'
    assert seen[0].url.params["limit"] == "5"
    assert row.trace_id == TEMPO_ID
    assert row.service == "my.service"
    assert row.duration_ns == 10_000 * 1_000_000
    assert row.start_ns == 1694718625557000000


async def test_tempo_search_by_route_is_a_span_attribute_term() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return ok(fixture("tempo/docs-api-search-response.json"))

    store = adapter("tempo", {"url": "http://x"}, handler)
    await store.search(TraceQuery(route="agent-assist"))
    assert seen[0].url.params["q"] == '{ span.gen_ai.route = "agent-assist" }'


# ------------------------------------------------------------------ phoenix


def _phoenix_pages() -> Handler:
    """Serves the recorded limit=5 pages, then the rest of spans.json."""
    page1 = json.loads(fixture("phoenix/spans-limit5-page1.json"))
    page2 = json.loads(fixture("phoenix/spans-limit5-page2.json"))
    every = json.loads(fixture("phoenix/spans.json"))["data"]
    seen_ids = {s["id"] for s in page1["data"] + page2["data"]}
    page3 = {"data": [s for s in every if s["id"] not in seen_ids], "next_cursor": None}
    by_cursor = {None: page1, page1["next_cursor"]: page2, page2["next_cursor"]: page3}

    def handler(req: httpx.Request) -> httpx.Response:
        assert req.url.path == "/v1/projects/fixture-agent/spans"
        assert req.url.params["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert int(req.url.params["limit"]) <= 1000
        return ok(by_cursor[req.url.params.get("cursor")])

    return handler


async def test_phoenix_follows_cursors_to_the_whole_trace() -> None:
    store = adapter(
        "phoenix",
        {"url": "http://x", "project": "fixture-agent", "page_size": 5, "api_key_env": "PX"},
        _phoenix_pages(),
        PX="k",
    )
    trace = await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert len(trace.spans) == 15
    assert len({s.span_id for s in trace.spans}) == 15
    assert trace.completeness == "complete"
    assert {s.service for s in trace.spans} == {"fixture-agent"}


async def test_phoenix_cap_marks_the_trace_partial() -> None:
    store = adapter(
        "phoenix",
        {"url": "http://x", "project": "fixture-agent", "page_size": 5, "max_spans": 6},
        _phoenix_pages(),
    )
    trace = await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert len(trace.spans) == 10
    assert trace.completeness == "partial"
    assert "max_spans" in (trace.completeness_reason or "")


async def test_phoenix_sends_bearer_key_and_reads_otlpv1() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return ok(fixture("phoenix/spans-otlpv1.json"))

    store = adapter(
        "phoenix",
        {
            "url": "http://x",
            "project": "fixture-agent",
            "span_format": "otlpv1",
            "api_key_env": "PX",
        },
        handler,
        PX="secret-key",
    )
    trace = await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert seen[0].headers["Authorization"] == "Bearer secret-key"
    assert seen[0].url.path.endswith("/spans/otlpv1")
    assert len(trace.spans) == 15


async def test_phoenix_unknown_project_is_not_found() -> None:
    store = adapter(
        "phoenix",
        {"url": "http://x", "project": "no-such-project"},
        lambda r: httpx.Response(
            404,
            content=fixture("phoenix/error-project-not-found.txt"),
            headers={"content-type": "text/plain"},
        ),
    )
    with pytest.raises(NotFoundError, match="no-such-project"):
        await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")


async def test_phoenix_search_reads_the_trace_list() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return ok(fixture("phoenix/traces-include-spans.json"))

    store = adapter("phoenix", {"url": "http://x", "project": "fixture-agent"}, handler)
    [row] = await store.search(TraceQuery(limit=3))
    assert seen[0].url.path == "/v1/projects/fixture-agent/traces"
    assert seen[0].url.params["include_spans"] == "true"
    assert row.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert row.root_name == "invoke_agent research-agent"
    assert row.span_count == 15 and row.error_count == 1


# ------------------------------------------------------------------ langfuse

LF_ENV = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-1"}


async def test_langfuse_pages_with_basic_auth() -> None:
    first = langfuse_page("Y3Vyc29yMQ==")
    first["data"] = first["data"][:2]
    second = langfuse_page()
    second["data"] = second["data"][2:]
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        assert req.url.path == "/api/public/v2/observations"
        return ok(second if req.url.params.get("cursor") else first)

    store = adapter("langfuse", {"url": "http://x"}, handler, **LF_ENV)
    trace = await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert len(trace.spans) == 3 and trace.completeness == "complete"
    expected = "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-1").decode()
    assert seen[0].headers["Authorization"] == expected
    assert seen[0].url.params["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert "usage" in seen[0].url.params["fields"]
    assert seen[1].url.params["cursor"] == "Y3Vyc29yMQ=="


async def test_langfuse_observation_cap_is_partial() -> None:
    store = adapter(
        "langfuse",
        {"url": "http://x", "max_observations": 2},
        lambda r: ok(langfuse_page("more")),
        **LF_ENV,
    )
    trace = await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert trace.completeness == "partial"
    assert "max_observations" in (trace.completeness_reason or "")


async def test_langfuse_falls_back_to_the_deprecated_traces_api() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/api/public/v2/observations":
            return httpx.Response(404, json={"message": "Not Found"})
        assert req.url.path == "/api/public/traces/t-1"
        return ok({"id": "t-1", "observations": langfuse_page()["data"]})

    trace = await adapter("langfuse", {"url": "http://x"}, handler, **LF_ENV).get_trace("t-1")
    assert len(trace.spans) == 3


def test_langfuse_needs_both_keys() -> None:
    with pytest.raises(MissingSecretError, match="LANGFUSE_SECRET_KEY"):
        adapter("langfuse", {"url": "http://x"}, lambda r: ok({}), LANGFUSE_PUBLIC_KEY="pk")


# ------------------------------------------------------------------ faults

STORES: list[tuple[str, dict[str, Any]]] = [
    ("jaeger", {"url": "http://x"}),
    ("tempo", {"url": "http://x"}),
    ("phoenix", {"url": "http://x"}),
    ("langfuse", {"url": "http://x"}),
]


def _timeout(req: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=req)


@pytest.mark.parametrize(("plugin", "options"), STORES)
@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (_timeout, UnreachableError),
        (lambda r: httpx.Response(401, json={"message": "bad key"}), AuthError),
        (lambda r: httpx.Response(500, text="boom"), RemoteError),
        (lambda r: ok(b'{"data": [1, 2'), TraceFormatError),
        (lambda r: ok({"data": "not a list", "next_cursor": None, "meta": {}}), TraceFormatError),
    ],
)
async def test_faults_become_one_kind_of_error(
    plugin: str, options: dict[str, Any], handler: Handler, error: type[Exception]
) -> None:
    store = adapter(plugin, options, handler, **LF_ENV)
    with pytest.raises(error) as exc:
        await store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    assert plugin in str(exc.value)
    assert "sk-lf-1" not in str(exc.value)
