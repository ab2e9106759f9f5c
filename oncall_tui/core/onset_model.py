"""What ``trace onset`` reasons over: per-route, per-bucket counts of traces
and of traces carrying each finding kind, plus the change events in the same
window. Shared by every way of getting them: our own analysis of a stated
sample of traces (any store, the simulator), or a store's engine counting
where the data lives (ClickHouse SQL, TraceQL metrics). ``core/onset.py``
turns one window into onsets and their nearest preceding change.
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: How the counts were obtained; the output says which, and a sample says how big.
CountMethod = Literal["pushdown", "sampled", "all"]

ChangeKind = Literal[
    "model_version",  # the response model behind a route's alias changed snapshot
    "system_prompt",  # system prompt hash (or declared version) changed
    "tool_definition",  # a tool's description or schema hash changed, or a tool came/went
    "provider",  # provider or serving tier switch
    "serving_version",  # the gateway's serving version (upgrade, rollback)
    "action",  # an oncall-tui action from the audit log
    "flag",  # a feature flag change from the flag service
]


class OnsetQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    since_ns: int
    until_ns: int
    bucket_ns: int
    route: str | None = None  # None: every route
    finding: str | None = None  # None: every finding kind
    #: For sampling stores: at most this many traces analysed per bucket.
    sample_per_bucket: int = 50


class BucketCount(msgspec.Struct, frozen=True, gc=False):
    route: str
    start_ns: int
    traces: int  # traces seen in the bucket (all of them, even when sampled)
    #: finding kind -> traces with it (among ``analysed`` when sampled)
    with_kind: dict[str, int] = {}
    #: traces actually analysed; equals ``traces`` for pushdown and "all"
    analysed: int = 0


class ChangeEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    at_ns: int
    kind: ChangeKind
    subject: str  # tool name, model alias, flag key, action id, ...
    route: str | None = None  # None: fleet-wide (a flag, a gateway upgrade)
    before: str | None = None
    after: str | None = None
    source: str = "traces"  # traces | audit | gateway | unleash | clickhouse | tempo ...
    detail: str | None = None


class OnsetWindow(msgspec.Struct, frozen=True, omit_defaults=True):
    query: OnsetQuery
    method: CountMethod
    buckets: list[BucketCount]
    changes: list[ChangeEvent] = []
    #: One line saying how the counts were made ("sampled 50 traces per 5m bucket
    #: of 1,204 seen", "counted in ClickHouse over 1,000,000 traces").
    method_note: str = ""
    #: Candidate trace ids the engine picked for full analysis, per finding kind.
    candidates: dict[str, list[str]] = {}
