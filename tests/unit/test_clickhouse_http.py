"""Contract tests of the ClickHouse adapter's HTTP path against recorded
answers (tests/fixtures/clickhouse/http_errors.json names where each came
from): what it sends, and every failure as one line naming what and where,
never the key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncall_tui.core.onset_model import OnsetQuery
from oncall_tui.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    RemoteError,
    TraceFormatError,
    UnreachableError,
)
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import TraceQuery

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "clickhouse"
RECORDED = json.loads((FIXTURES / "http_errors.json").read_text())["responses"]
KEY = "s3cr3t-ch-key"
Handler = Callable[[httpx.Request], httpx.Response]


def recorded(name: str) -> httpx.Response:
    r = RECORDED[name]
    return httpx.Response(r["status"], headers=r["headers"], content=r["body"].encode())


def store(handler: Handler, **options: Any) -> Any:
    ctx = PluginContext(environ={"CH_KEY": KEY}, transport=httpx.MockTransport(handler))
    opts = {"url": "http://127.0.0.1:8123", "database": "otel", "password_env": "CH_KEY"}
    return build("clickhouse", {**opts, **options}, ctx)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and KEY not in text
    return text


async def test_a_query_is_a_post_with_parameters_in_the_url_and_the_key_in_a_header() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, content=b"")

    with pytest.raises(NotFoundError):
        await store(handler, user="reader").get_trace("ABC123")
    [req] = seen
    assert req.method == "POST" and req.url.path == "/"
    assert req.headers["X-ClickHouse-User"] == "reader"
    assert req.headers["X-ClickHouse-Key"] == KEY
    assert req.url.params["database"] == "otel"
    assert req.url.params["param_trace_id"] == "abc123"  # a value, never spliced into the SQL
    assert req.url.params["wait_end_of_query"] == "1"
    body = req.content.decode()
    assert "abc123" not in body and "{trace_id:String}" in body
    assert "FROM `otel_traces`" in body and body.rstrip().endswith("FORMAT JSONEachRow")


async def test_unknown_table_names_the_table_and_the_server() -> None:
    with pytest.raises(NotFoundError) as err:
        await store(lambda _: recorded("unknown_table")).get_trace("01")
    text = one_line(err.value)
    assert text.startswith("clickhouse: trace 01 at http://127.0.0.1:8123 (database otel")
    assert "ClickHouse error 60 UNKNOWN_TABLE" in text
    assert "Unknown table expression identifier 'default.otel_traces'" in text
    assert "(version" not in text and "are database and table right?" in text


@pytest.mark.parametrize("name", ["auth_failed", "required_password"])
async def test_authentication_failure_names_the_user_and_where_the_key_comes_from(
    name: str,
) -> None:
    with pytest.raises(AuthError) as err:
        await store(lambda _: recorded(name)).search(TraceQuery(limit=3))
    text = one_line(err.value)
    assert "trace search" in text and "Authentication failed" in text
    assert "user 'default'" in text and "CH_KEY" in text


async def test_a_syntax_error_is_a_remote_error_with_its_status() -> None:
    with pytest.raises(RemoteError) as err:
        await store(lambda _: recorded("syntax_error")).search(TraceQuery(limit=3))
    assert err.value.status == 400
    assert "ClickHouse error 62 SYNTAX_ERROR" in one_line(err.value)


async def test_an_error_after_the_first_rows_is_not_taken_for_data() -> None:
    q = OnsetQuery(since_ns=0, until_ns=3_600_000_000_000, bucket_ns=300_000_000_000)
    with pytest.raises(RemoteError) as err:
        await store(lambda _: recorded("mid_answer_error")).onset_window(q)
    text = one_line(err.value)
    assert text.startswith("clickhouse: onset counts at http://127.0.0.1:8123")
    assert "failed mid-answer: ClickHouse error 241 MEMORY_LIMIT_EXCEEDED: Memory limit" in text


async def test_a_malformed_row_names_the_query_and_the_line() -> None:
    body = b'{"trace_id":"01","start_ns":1,"duration_ns":2,"spans":1,"errors":0}\n{"trace_id":\n'
    with pytest.raises(TraceFormatError, match=r"trace search answered a malformed row at line 2"):
        await store(lambda _: httpx.Response(200, content=body)).search(TraceQuery(limit=3))


async def test_unreachable_and_timeout_are_one_line_each() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    def slow(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    with pytest.raises(
        UnreachableError, match=r"cannot reach http://127.0.0.1:8123 \(ConnectError\)"
    ):
        await store(refuse).get_trace("01")
    with pytest.raises(UnreachableError, match=r"trace 01 timed out after 30s at http://127"):
        await store(slow).get_trace("01")


def test_a_table_name_that_is_not_an_identifier_is_refused_at_once() -> None:
    with pytest.raises(ConfigError, match=r"clickhouse option table: not a table name"):
        store(lambda _: httpx.Response(200), table="otel_traces; DROP TABLE x")
    assert store(lambda _: httpx.Response(200), table="otel.otel_traces_dist") is not None


def test_every_query_is_one_plain_select_a_cluster_can_run() -> None:
    """What was checked for Distributed tables (docs/trace-stores.md): no
    JOIN (a distributed join needs GLOBAL), no IN (subquery) (GLOBAL IN), no
    FINAL, no DDL or engine names, no recursive CTE; per-trace work only after
    ``GROUP BY TraceId``, where a trace's spans from every shard meet."""
    from oncall_tui.sources import clickhouse_sql as sql

    texts = [
        sql.onset_counts("otel_traces", route_filter=True, per_bucket_candidates=2),
        sql.change_events("otel_traces", route_filter=True),
        sql.trace_spans("otel_traces"),
        sql.search_traces("otel_traces", service=True, operation=True, route=True, errors=True),
    ]
    for text in texts:
        upper = text.upper()
        assert upper.lstrip().startswith("SELECT")
        for word in (
            " JOIN ",
            "FINAL",
            "CREATE",
            "ENGINE",
            "RECURSIVE",
            " IN (SELECT",
            "ON CLUSTER",
        ):
            assert word not in upper.replace("ARRAY JOIN", ""), word
        assert upper.count("FROM `OTEL_TRACES`") == 1


async def test_a_server_that_echoes_the_key_back_never_shows_it() -> None:
    def echo(req: httpx.Request) -> httpx.Response:
        key = req.headers["X-ClickHouse-Key"]
        text = f"Code: 516. DB::Exception: bad key {key}. (AUTHENTICATION_FAILED)"
        return httpx.Response(
            403, headers={"X-ClickHouse-Exception-Code": "516"}, content=text.encode()
        )

    with pytest.raises(AuthError) as err:
        await store(echo).get_trace("01")
    assert KEY not in str(err.value) and "****" in str(err.value)
