"""The recent onset window a console keeps: the last hour in whole buckets,
from whatever store it reads, with the gateway's serving-version changes
and the flag services' events lined up.

``trace onset`` builds its query from its flags (``cli/onset_cmd.py``); the
console has no flags, so the same rule lives here as a public function:
whole buckets, the last one holding ``until``. ``until`` is the later of our
clock and the gateway's: a simulator running faster than real time is ahead
of ours, and its traces with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oncall_tui.core.changes import changes_from_routes
from oncall_tui.core.onset import DEFAULT_RULE
from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.errors import OncallError
from oncall_tui.sources.capabilities import FlagEvents, GatewayStatus
from oncall_tui.sources.onset_sampling import in_window, onset_window

_MIN_NS = 60 * 1_000_000_000
#: A modest default: an hour of 5 min buckets, 20 traces per route and bucket.
SINCE_NS = 60 * _MIN_NS
BUCKET_NS = 5 * _MIN_NS
SAMPLE_PER_BUCKET = 20


def window_query(
    until_ns: int,
    *,
    since_ns: int = SINCE_NS,
    bucket_ns: int = BUCKET_NS,
    sample_per_bucket: int = SAMPLE_PER_BUCKET,
    route: str | None = None,
) -> OnsetQuery:
    """``since_ns`` of whole ``bucket_ns`` buckets, the last one holding ``until_ns``."""
    end = until_ns - until_ns % bucket_ns + bucket_ns
    return OnsetQuery(
        since_ns=end - since_ns,
        until_ns=end,
        bucket_ns=bucket_ns,
        route=route,
        sample_per_bucket=sample_per_bucket,
    )


async def gateway_changes(gateway: object) -> tuple[list[ChangeEvent], int]:
    """Serving-version changes from the gateway's route history, and its
    clock (ns; 0 when it has no route history to read)."""
    if not isinstance(gateway, GatewayStatus):
        return [], 0
    answer = await gateway.routes()
    return changes_from_routes(answer), int(answer.gateway_time.timestamp() * 1e9)


async def recent_window(
    store: object,
    now_ns: int,
    *,
    gateway: object = None,
    changes: Sequence[ChangeEvent] = (),
    flags: Mapping[str, object] | None = None,
    since_ns: int = SINCE_NS,
    bucket_ns: int = BUCKET_NS,
    sample_per_bucket: int = SAMPLE_PER_BUCKET,
) -> tuple[OnsetWindow, list[str]]:
    """The window ending at the later of ``now_ns`` and the gateway's clock,
    with ``changes`` (e.g. from the audit log), the gateway's own and the
    flag services' events (by name; those that can list them). A gateway or
    flag service that cannot answer is a warning, not a failure; the store's
    errors propagate (the caller says so in one line)."""
    warnings: list[str] = []
    side = list(changes)
    clock_ns = 0
    if gateway is not None:
        try:
            found, clock_ns = await gateway_changes(gateway)
            side += found
        except OncallError as exc:
            warnings.append(f"gateway: {exc.message}")
    query = window_query(
        max(now_ns, clock_ns),
        since_ns=since_ns,
        bucket_ns=bucket_ns,
        sample_per_bucket=sample_per_bucket,
    )
    lookback = DEFAULT_RULE.lookback_ns
    for name, service in (flags or {}).items():
        if not isinstance(service, FlagEvents):
            continue
        try:
            side += await service.flag_events(query.since_ns - lookback, query.until_ns)
        except OncallError as exc:
            warnings.append(f"flags {name}: {exc.message}")
    side = in_window(side, query, lookback)
    return await onset_window(store, query, changes=side), warnings
