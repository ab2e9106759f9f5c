"""The ClickHouse adapter's SQL on the real engine: chdb (ClickHouse embedded
in this process) holds the OTel Collector exporter's own ``otel_traces`` DDL
(tests/fixtures/clickhouse/otel_traces.sql), loaded with the recorded corpus
(converted to rows the way the exporter writes them) and a generated fleet
(bench/onset.py). Every query goes through the adapter's real HTTP code path:
``ChdbTransport`` runs the POSTed SQL in chdb and answers with its output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.onset import HOUR_NS, Fleet, fleet_sql
from oncall_tui.core.analysis import analyze
from oncall_tui.core.onset_model import OnsetQuery
from oncall_tui.plugins import PluginContext, build
from oncall_tui.sources.capabilities import FleetCounts, TraceQuery, TraceSearch, TraceStore
from tests.corpus.expectations import load as load_expected
from tests.support.chdb_http import ChdbTransport
from tests.support.clickhouse_rows import insert, rows_from_otlp

chdb = pytest.importorskip("chdb", reason="chdb (the dev extra) runs ClickHouse in-process")

ROOT = Path(__file__).resolve().parent.parent.parent
DDL = ROOT / "tests" / "fixtures" / "clickhouse" / "otel_traces.sql"
CORPUS = ROOT / "tests" / "corpus"
CASES = sorted(
    p.parent for p in CORPUS.glob("*/*/expected.yaml") if (p.parent / "trace.json").exists()
)
BUCKET = 300 * 1_000_000_000
BASE = 1_800_000_000 * 1_000_000_000  # 2027-01-15: the corpus moved to one bucket per case


def _session() -> Any:
    from chdb import session

    return session.Session()


@pytest.fixture(scope="module")
def corpus_db() -> Iterator[tuple[Any, dict[str, set[str]]]]:
    """Every corpus case in its own 5-minute bucket, under its recorded ids."""
    s = _session()
    s.query("CREATE DATABASE IF NOT EXISTS corpus")
    s.query(DDL.read_text().replace("EXISTS otel_traces", "EXISTS corpus.otel_traces", 1))
    cases: dict[str, set[str]] = {}
    rows = []
    for n, case in enumerate(CASES):
        doc = json.loads((case / "trace.json").read_text())
        got = list(rows_from_otlp(doc))
        first = min(r["ts_ns"] for r in got)
        delta = BASE + n * BUCKET + 1_000_000_000 - first
        for r in got:
            r["ts_ns"] += delta
            r["ev_ns"] = [t + delta for t in r["ev_ns"]]
        rows += got
        cases[f"{case.parent.name}/{case.name}"] = {r["TraceId"] for r in got}
    insert(s, "corpus.otel_traces", rows)
    yield s, cases


def store(s: Any, table: str = "otel_traces", database: str = "corpus", **kw: Any) -> Any:
    ctx = PluginContext(environ={"CH_KEY": "k3y"}, transport=ChdbTransport(s, key="k3y"))
    opts = {"url": "http://127.0.0.1:8123", "database": database, "table": table}
    return build("clickhouse", {**opts, "password_env": "CH_KEY", **kw}, ctx)


def corpus_query() -> OnsetQuery:
    return OnsetQuery(since_ns=BASE, until_ns=BASE + len(CASES) * BUCKET, bucket_ns=BUCKET)


def flagged(cases: dict[str, set[str]], ids: list[str]) -> set[str]:
    return {c for c, tids in cases.items() if tids & set(ids)}


async def test_the_adapter_offers_every_trace_capability(corpus_db: Any) -> None:
    st = store(corpus_db[0])
    assert isinstance(st, TraceStore) and isinstance(st, TraceSearch)
    assert isinstance(st, FleetCounts)


async def test_reentrant_corpus_cases_are_candidates_and_negatives_are_not(
    corpus_db: Any,
) -> None:
    """Tool-in-tool nesting by parent links, computed in SQL: every recorded
    case whose loop rests on parent links is a candidate; no case without a
    loop is. Loops that rest on inferred edges (propagation lost, threads)
    have no parent link to follow: the sampling path covers them."""
    s, cases = corpus_db
    w = await store(s, max_candidates=500).onset_window(corpus_query())
    assert w.method == "pushdown"
    found = flagged(cases, w.candidates.get("reentrancy_cycle", []))
    expected = {c: load_expected(CORPUS / c / "expected.yaml") for c in cases}
    linked = {c for c, e in expected.items() if e.cycle and e.inferred is False}
    negatives = {c for c, e in expected.items() if not e.cycle}
    assert len(linked) >= 6 and linked <= found
    assert not found & negatives, sorted(found & negatives)
    counted = sum(b.with_kind.get("reentrancy_cycle", 0) for b in w.buckets)
    assert counted == len(found)


async def test_repeated_calls_and_retries_are_counted_per_case(corpus_db: Any) -> None:
    s, cases = corpus_db
    w = await store(s, max_candidates=500).onset_window(corpus_query())
    expected = {c: load_expected(CORPUS / c / "expected.yaml") for c in cases}
    repeated = flagged(cases, w.candidates.get("repeated_tool_call", []))
    # Arguments the older event conventions emit only as OTLP log records
    # (logs.json) are not in otel_traces: that case is found by the sampling path.
    stuck = {c for c, e in expected.items() if e.repeated_call} - {
        "otel-genai-events/stuck-identical"
    }
    quiet = {c for c, e in expected.items() if not e.repeated_call and not e.cycle}
    assert stuck and stuck <= repeated
    assert not repeated & quiet, sorted(repeated & quiet)
    retried = flagged(cases, w.candidates.get("retry_amplification", []))
    http_retries = {c for c in cases if c.endswith("/http-retries")}
    assert http_retries and http_retries <= retried
    assert not retried & {c for c in cases if c.endswith(("/plain-loop", "/parallel-tools"))}
    # Every trace counted once, each in the bucket its case was put in.
    assert sum(b.traces for b in w.buckets) == sum(len(t) for t in cases.values())
    assert all(b.analysed == b.traces for b in w.buckets)


async def test_a_trace_read_back_gives_the_same_diagnosis_as_its_file(corpus_db: Any) -> None:
    """Rows -> Trace keeps attributes (as the exporter's text), so the
    conventions apply and the findings a candidate is confirmed with are the
    file's, for every single-trace case whose content is on its spans."""
    from oncall_tui.cli.trace_cmd import load_traces

    s, cases = corpus_db
    st = store(s)
    differ = []
    for case, tids in cases.items():
        if len(tids) != 1 or (CORPUS / case / "logs.json").exists():
            continue  # stitched threads and log-record content: read together, not by id
        [tid] = tids
        trace = await st.get_trace(tid)
        [from_file] = load_traces([str(CORPUS / case / "trace.json")], None)
        assert trace.source == "clickhouse" and len(trace.spans) == len(from_file.spans)
        got = sorted(f.kind for f in analyze(trace).findings)
        want = sorted(f.kind for f in analyze(from_file).findings)
        if got != want:
            differ.append(f"{case}: {got} != {want}")
    assert not differ, differ


async def test_search_lists_traces_newest_first_with_their_route(corpus_db: Any) -> None:
    s = corpus_db[0]
    q = corpus_query()
    rows = await store(s).search(TraceQuery(start_ns=q.since_ns, end_ns=q.until_ns, limit=5))
    assert len(rows) == 5
    assert [r.start_ns for r in rows] == sorted((r.start_ns or 0 for r in rows), reverse=True)
    assert all(r.route == "corpus-agent" and r.span_count for r in rows)
    errs = await store(s).search(
        TraceQuery(start_ns=q.since_ns, end_ns=q.until_ns, errors_only=True, limit=100)
    )
    assert errs and all((r.error_count or 0) > 0 for r in errs)


async def test_a_missing_trace_is_not_found_naming_the_table(corpus_db: Any) -> None:
    from oncall_tui.errors import NotFoundError

    with pytest.raises(NotFoundError, match=r"trace 0+1 not found in .*table otel_traces"):
        await store(corpus_db[0]).get_trace("0" * 31 + "1")


# ------------------------------------------------------------------ a fleet


@pytest.fixture(scope="module")
def fleet_db() -> Iterator[tuple[Any, Fleet]]:
    s = _session()
    s.query("CREATE DATABASE IF NOT EXISTS fleet")
    s.query(DDL.read_text().replace("EXISTS otel_traces", "EXISTS fleet.otel_traces", 1))
    fleet = Fleet(traces=20_000)
    s.query(fleet_sql("fleet.otel_traces", fleet))
    yield s, fleet


async def test_the_fleet_shows_reentrancy_rising_after_the_tool_change(fleet_db: Any) -> None:
    s, fleet = fleet_db
    q = OnsetQuery(since_ns=fleet.start_ns, until_ns=fleet.end_ns, bucket_ns=HOUR_NS)
    w = await store(s, database="fleet").onset_window(q)
    assert sum(b.traces for b in w.buckets) == fleet.traces

    def rate(route: str, lo: int, hi: int) -> float:
        bs = [b for b in w.buckets if b.route == route and lo <= b.start_ns < hi]
        return sum(b.with_kind.get("reentrancy_cycle", 0) for b in bs) / sum(b.traces for b in bs)

    change = fleet.tool_change_ns
    assert rate("agent-assist", fleet.start_ns, change) < 0.03
    assert 0.18 < rate("agent-assist", change, fleet.end_ns) < 0.28
    assert rate("search", fleet.start_ns, fleet.end_ns) == 0
    [tool] = [c for c in w.changes if c.kind == "tool_definition"]
    assert (tool.route, tool.subject) == ("agent-assist", "lookup_order")
    assert change <= tool.at_ns < change + HOUR_NS
    assert tool.before and tool.after and tool.before != tool.after and len(tool.after) == 16
    [model] = [c for c in w.changes if c.kind == "model_version"]
    assert (model.route, model.subject) == ("search", "gpt-4o")
    assert (model.before, model.after) == ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
    assert fleet.model_change_ns <= model.at_ns < fleet.model_change_ns + HOUR_NS
    # Candidates for confirmation here: newest first, and each one confirms.
    cands = w.candidates["reentrancy_cycle"]
    assert 0 < len(cands) <= 20
    st = store(s, database="fleet")
    for tid in cands[:3]:
        a = analyze(await st.get_trace(tid))
        assert "reentrancy_cycle" in {f.kind for f in a.findings}


async def test_route_and_finding_filters_narrow_the_window(fleet_db: Any) -> None:
    s, fleet = fleet_db
    q = OnsetQuery(
        since_ns=fleet.start_ns,
        until_ns=fleet.end_ns,
        bucket_ns=HOUR_NS,
        route="search",
        finding="error",
    )
    w = await store(s, database="fleet").onset_window(q)
    assert {b.route for b in w.buckets} == {"search"}
    assert {k for b in w.buckets for k in b.with_kind} == {"error"}
    assert {c.route for c in w.changes} == {"search"}
    assert "counted in ClickHouse over 5,000 traces" in w.method_note


async def test_a_hostile_route_name_is_a_value_not_sql(fleet_db: Any) -> None:
    s, fleet = fleet_db
    q = OnsetQuery(
        since_ns=fleet.start_ns, until_ns=fleet.end_ns, bucket_ns=HOUR_NS, route="x' OR 1=1 --"
    )
    w = await store(s, database="fleet").onset_window(q)
    assert w.buckets == [] and w.changes == []


async def test_spans_of_one_trace_on_two_shards_count_once(fleet_db: Any) -> None:
    """What a cluster does to the SQL: a trace's spans split over two shard
    tables, read through one table that unions them (a Merge table here:
    chdb cannot serve a Distributed table's shards, it has no TCP server).
    Per-trace work happens after the ``GROUP BY TraceId`` merge, so the
    counts and changes are those of the single table."""
    s, fleet = fleet_db
    for shard, cond in (
        ("shard_a", "cityHash64(SpanId) % 2 = 0"),
        ("shard_b", "NOT (cityHash64(SpanId) % 2 = 0)"),
    ):
        s.query(f"DROP TABLE IF EXISTS fleet.{shard}")
        s.query(f"CREATE TABLE fleet.{shard} AS fleet.otel_traces")
        s.query(f"INSERT INTO fleet.{shard} SELECT * FROM fleet.otel_traces WHERE {cond}")
    s.query("DROP TABLE IF EXISTS fleet.all_shards")
    s.query("CREATE TABLE fleet.all_shards AS fleet.otel_traces ENGINE = Merge('fleet', '^shard_')")
    q = OnsetQuery(since_ns=fleet.start_ns, until_ns=fleet.end_ns, bucket_ns=HOUR_NS)
    one = await store(s, database="fleet").onset_window(q)
    split = await store(s, database="fleet", table="all_shards").onset_window(q)
    assert split.buckets == one.buckets
    assert split.changes == one.changes


def _row(tid: str, sid: str, parent: str, at_ns: int, attrs: dict[str, str]) -> dict[str, Any]:
    """One exporter row (tests/support/clickhouse_rows.py's shape)."""
    return {
        "ts_ns": at_ns,
        "TraceId": tid,
        "SpanId": sid,
        "ParentSpanId": parent,
        "TraceState": "",
        "SpanName": "span",
        "SpanKind": "Internal",
        "ServiceName": "helpdesk-svc",
        "ResourceAttributes": {"service.name": "helpdesk-svc"},
        "ScopeName": "",
        "ScopeVersion": "",
        "SpanAttributes": attrs,
        "Duration": 1_000_000,
        "StatusCode": "Unset",
        "StatusMessage": "",
        "ev_ns": [],
        "ev_names": [],
        "ev_attrs": [],
        "ln_trace": [],
        "ln_span": [],
        "ln_state": [],
        "ln_attrs": [],
    }


async def test_a_tool_span_description_and_a_prompt_text_change_are_dated_and_hashed() -> None:
    """What core/changes.py reads beside definition lists: one tool's own
    description on its span (Strands, OpenInference) and the system prompt's
    text; hashed as it hashes them. One stray trace in a bucket is no change."""
    import hashlib

    s = _session()
    s.query("CREATE DATABASE IF NOT EXISTS helpdesk")
    s.query(DDL.read_text().replace("EXISTS otel_traces", "EXISTS helpdesk.otel_traces", 1))
    hour = HOUR_NS
    plan = [(0, "Find an order.", "Be brief.")] * 4 + [(1, "Find any order.", "Be verbose.")] * 4
    plan += [(2, "Find any order.", "Be verbose.")] * 3 + [(2, "A canary text.", "Be verbose.")]
    rows = []
    for n, (h, desc, prompt) in enumerate(plan):
        tid, at = f"{n + 1:032x}", BASE + h * hour + (n + 1) * 60_000_000_000
        rows.append(_row(tid, "a" * 16, "", at, {"gen_ai.route": "helpdesk"}))
        rows.append(_row(tid, "b" * 16, "a" * 16, at + 1, {"gen_ai.system_instructions": prompt}))
        rows.append(
            _row(
                tid,
                "c" * 16,
                "a" * 16,
                at + 2,
                {"gen_ai.tool.name": "lookup_order", "gen_ai.tool.description": desc},
            )
        )
    insert(s, "helpdesk.otel_traces", rows)
    q = OnsetQuery(since_ns=BASE, until_ns=BASE + 3 * hour, bucket_ns=hour)
    w = await store(s, database="helpdesk").onset_window(q)

    def h16(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    got = sorted((c.kind, c.subject, c.before, c.after, c.detail) for c in w.changes)
    assert got == [
        (
            "system_prompt",
            "system prompt",
            f"sha256:{h16('Be brief.')}",
            f"sha256:{h16('Be verbose.')}",
            None,
        ),
        (
            "tool_definition",
            "lookup_order",
            h16("Find an order."),
            h16("Find any order."),
            "description",
        ),
    ]
    assert {c.at_ns for c in w.changes} == {
        BASE + hour + 5 * 60_000_000_000 + 1,
        BASE + hour + 5 * 60_000_000_000 + 2,
    }
    assert {c.route for c in w.changes} == {"helpdesk"}


async def test_a_change_late_in_a_bucket_is_dated_when_it_happened(fleet_db: Any) -> None:
    """3 h buckets: the 14:00 change holds a third of the 12:00 bucket, so the
    new description leads only from the 15:00 bucket; the event is still
    dated 14:00, by its first span in the bucket before (where an onset
    found in the 12:00 bucket can name it)."""
    s, fleet = fleet_db
    q = OnsetQuery(since_ns=fleet.start_ns, until_ns=fleet.end_ns, bucket_ns=3 * HOUR_NS)
    w = await store(s, database="fleet").onset_window(q)
    [tool] = [c for c in w.changes if c.kind == "tool_definition"]
    assert fleet.tool_change_ns <= tool.at_ns < fleet.tool_change_ns + 60 * 1_000_000_000
