"""``python -m bench.onset [--sizes 250000,500000,1000000] [--sample 5000]``: ``trace onset`` on a
fleet held in ClickHouse (chdb, embedded in this process).

The fleet is generated inside ClickHouse with ``numbers()`` (Python would
take longer to write it than the engine takes to count it): 24 h of traces
over four routes, and two changes at known times -- route ``agent-assist``'s
tool ``lookup_order`` gets a new description at 14:00, after which 23% of its
traces re-enter the tool (about 1% before); route ``search`` moves from one
model snapshot to another at 09:00.

Measured in one run, on the same data:
- pushdown: the ClickHouse adapter's ``onset_window`` over the 24 h window
  (its SQL through its real HTTP code path, answered by chdb) for fleets of
  each size, with the Python-side peak memory of each (tracemalloc: our
  allocations, not the engine's, which lives in the same process);
- fetch-all: what a store without pushdown costs: read every span of the
  window and analyse each trace here (``analyze`` + ``changes_from_traces``
  where available). Timed on ``--sample`` traces and extrapolated linearly
  to the window, and the output says so;
then the ratio. Needs chdb (the dev extra); without it, says why and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DDL = ROOT / "tests" / "fixtures" / "clickhouse" / "otel_traces.sql"
HOUR_NS = 3_600_000_000_000


@dataclass(frozen=True)
class Fleet:
    traces: int
    start_ns: int = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    hours: int = 24
    #: agent-assist's lookup_order description changes; reentrancy rises after.
    tool_change_ns: int = start_ns + 14 * HOUR_NS
    #: search's gpt-4o alias resolves to a new snapshot.
    model_change_ns: int = start_ns + 9 * HOUR_NS
    before_pct: int = 1  # reentrant traces on agent-assist before the change, %
    after_pct: int = 23  # ... and after

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.hours * HOUR_NS


ROUTES = ("agent-assist", "search", "summarise", "triage")
OLD_DESC = "Look up an order by id."
NEW_DESC = "Look up an order by id. If unsure, look it up again with the same id."


def fleet_sql(table: str, fleet: Fleet) -> str:
    """One ``INSERT ... SELECT`` writing the whole fleet as the exporter would
    (one row per span, attributes as text), from ``numbers(traces)``."""
    routes = "[" + ", ".join(f"'{r}'" for r in ROUTES) + "]"

    def defs(desc: str) -> str:
        return (
            '[{"type":"function","function":{"name":"lookup_order","description":"'
            + desc
            + '","parameters":{"type":"object","properties":{"order_id":{"type":"string"}}}}}]'
        )

    return f"""
INSERT INTO {table} (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode, StatusMessage)
SELECT
    fromUnixTimestamp64Nano(t + sp.1 * 1000000),
    trace_id,
    lower(hex(cityHash64(number, sp.1))),
    if(sp.2 = 0, '', lower(hex(cityHash64(number, sp.2)))),
    sp.3, sp.4, 'fleet-agent',
    map('service.name', 'fleet-agent', 'host.name', concat('host-', toString(number % 8))),
    'fleet',
    sp.5,
    toUInt64(sp.6 * 1000000),
    if(sp.7, 'Error', 'Unset'), ''
FROM (
    SELECT
        number,
        lower(hex(cityHash64(number, 'a'))) || lower(hex(cityHash64(number, 'b'))) AS trace_id,
        toInt64({fleet.start_ns}) + toInt64(intDiv(number * {fleet.hours * HOUR_NS // 1_000_000},
            {fleet.traces}) * 1000000) AS t,
        {routes}[number % 4 + 1] AS route,
        cityHash64(number, 'r') % 100 AS roll,
        route = 'agent-assist' AND roll < if(t >= {fleet.tool_change_ns},
            {fleet.after_pct}, {fleet.before_pct}) AS reenter,
        if(route = 'agent-assist' AND t >= {fleet.tool_change_ns},
           '{defs(NEW_DESC)}', '{defs(OLD_DESC)}') AS tool_defs,
        if(route = 'search' AND t >= {fleet.model_change_ns},
           'gpt-4o-2024-11-20', 'gpt-4o-2024-08-06') AS snapshot,
        cityHash64(number, 'e') % 100 < 2 AS failed,
        concat('{{"order_id":"A-', toString(number % 100000), '"}}') AS args
    FROM numbers({fleet.traces})
)
ARRAY JOIN arrayFilter(x -> x.1 <= if(reenter, 5, 3), [
    (1, 0, 'invoke_agent assistant', 'Internal',
        map('gen_ai.route', route, 'gen_ai.operation.name', 'invoke_agent',
            'gen_ai.agent.name', 'assistant'), 900, failed),
    (2, 1, 'chat gpt-4o', 'Client',
        map('gen_ai.operation.name', 'chat', 'gen_ai.request.model', 'gpt-4o',
            'gen_ai.response.model', snapshot, 'gen_ai.provider.name', 'openai',
            'gen_ai.usage.input_tokens', '812', 'gen_ai.usage.output_tokens', '40',
            'gen_ai.tool.definitions', tool_defs), 300, 0),
    (3, 1, 'execute_tool lookup_order', 'Internal',
        map('gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', 'lookup_order',
            'gen_ai.tool.call.arguments', args), 400, failed),
    (4, 3, 'chat gpt-4o', 'Client',
        map('gen_ai.operation.name', 'chat', 'gen_ai.request.model', 'gpt-4o',
            'gen_ai.response.model', snapshot, 'gen_ai.provider.name', 'openai',
            'gen_ai.usage.input_tokens', '900', 'gen_ai.usage.output_tokens', '30'), 200, 0),
    (5, 4, 'execute_tool lookup_order', 'Internal',
        map('gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', 'lookup_order',
            'gen_ai.tool.call.arguments', args), 100, 0)
]) AS sp"""


def have_chdb() -> str | None:
    """None when chdb imports, else why not (one line)."""
    try:
        import chdb  # noqa: F401
    except ImportError as exc:
        return f"chdb is not installed ({exc}); install the dev extra: pip install -e '.[dev]'"
    return None


def load(fleet: Fleet, table: str = "otel_traces") -> Any:
    """A chdb session holding the exporter's table and the generated fleet."""
    from chdb import session

    s = session.Session()
    s.query(f"DROP TABLE IF EXISTS {table}")
    s.query(DDL.read_text().replace("EXISTS otel_traces", f"EXISTS {table}", 1))
    s.query(fleet_sql(table, fleet))
    return s


def store(s: Any, table: str = "otel_traces") -> Any:
    from oncall_tui.plugins import PluginContext
    from oncall_tui.sources.clickhouse import ClickHouseStore, Options
    from tests.support.chdb_http import ChdbTransport

    ctx = PluginContext(environ={}, transport=ChdbTransport(s))
    return ClickHouseStore(Options(url="http://clickhouse.bench", table=table), ctx)


def pushdown(s: Any, fleet: Fleet, hours: int, bucket_s: int = 300) -> tuple[float, int, Any]:
    """Seconds and Python peak bytes for one ``onset_window`` over ``hours``."""
    from oncall_tui.core.onset_model import OnsetQuery

    st = store(s)
    q = OnsetQuery(
        since_ns=fleet.start_ns,
        until_ns=fleet.start_ns + hours * HOUR_NS,
        bucket_ns=bucket_s * 1_000_000_000,
    )
    tracemalloc.start()
    t0 = time.perf_counter()
    window = asyncio.run(st.onset_window(q))
    took = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return took, peak, window


def fetch_all(s: Any, fleet: Fleet, sample: int) -> tuple[float, int]:
    """Seconds to read every span of the first ``sample`` traces (one bulk
    query, the cheapest way to fetch them) and analyse each trace here."""
    from oncall_tui.core.analysis import analyze
    from oncall_tui.sources.clickhouse import _span, _SpanRow

    span_hours = fleet.hours * sample / fleet.traces
    until = fleet.start_ns + int(span_hours * HOUR_NS)
    t0 = time.perf_counter()
    res = s.query(
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, "
        "toString(toUnixTimestamp64Nano(Timestamp)) AS start_ns, "
        "toString(Duration) AS duration_ns, StatusCode, StatusMessage, "
        "ResourceAttributes, SpanAttributes FROM otel_traces "
        f"WHERE Timestamp >= fromUnixTimestamp64Nano({fleet.start_ns}) "
        f"AND Timestamp < fromUnixTimestamp64Nano({until}) FORMAT JSONEachRow",
        "JSONEachRow",
    )
    import msgspec

    from oncall_tui.core.assemble import assemble

    dec = msgspec.json.Decoder(_SpanRow, strict=False)
    spans = [_span(dec.decode(line)) for line in res.bytes().splitlines() if line.strip()]
    traces = assemble(spans, source="clickhouse")
    found = 0
    for tr in traces:
        a = analyze(tr)
        found += any(f.kind == "reentrancy_cycle" for f in a.findings)
    try:
        from oncall_tui.core.changes import changes_from_traces

        changes_from_traces(traces)
    except ImportError:  # the change reader is built in parallel; timed when present
        pass
    return time.perf_counter() - t0, len(traces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--sample", type=int, default=5_000)
    args = parser.parse_args()
    why = have_chdb()
    if why:
        print(f"bench.onset skipped: {why}")
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    print(
        f"{'traces':>10} {'spans':>10} {'generate s':>11} {'pushdown s':>11} "
        f"{'py peak MiB':>12}  (24 h window, 5 min buckets)"
    )
    last: tuple[Fleet, Any, float, Any] | None = None
    for n in sizes:
        fleet = Fleet(traces=n)
        t0 = time.perf_counter()
        s = load(fleet)
        gen = time.perf_counter() - t0
        rows = int(s.query("SELECT count() FROM otel_traces", "CSV").bytes())
        took, peak, window = pushdown(s, fleet, fleet.hours)
        seen = sum(b.traces for b in window.buckets)
        assert seen == n, f"counted {seen} of {n} traces"
        print(f"{n:>10,} {rows:>10,} {gen:>11.1f} {took:>11.2f} {peak / 2**20:>12.2f}")
        last = (fleet, s, took, window)
    assert last is not None
    fleet, s, took, window = last
    fetch_s, fetched = fetch_all(s, fleet, min(args.sample, fleet.traces))
    est = fetch_s * fleet.traces / max(fetched, 1)
    how = (
        "measured"
        if fetched >= fleet.traces
        else f"measured on the first {fetched:,} traces, extrapolated linearly"
    )
    print(f"fetch-all and analyse here: {est:.1f} s for {fleet.traces:,} traces ({how})")
    print(
        f"pushdown vs fetch-all at {fleet.traces:,} traces: {est / took:.0f}x "
        f"({took:.2f} s vs {est:.1f} s)"
    )
    for c in window.changes:
        if c.kind in ("tool_definition", "model_version") and c.route in ROUTES:
            at = datetime.fromtimestamp(c.at_ns / 1e9, UTC).strftime("%H:%M")
            print(f"change found: {at} {c.route} {c.kind} {c.subject}: {c.before} -> {c.after}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
