"""The recent onset window a console keeps: the last hour in whole buckets,
from whatever store it reads, with the gateway's serving-version changes
lined up.

``trace onset`` builds its query from its flags (``cli/onset_cmd.py``); the
console has no flags, so the same rule lives here as a public function:
whole buckets, the last one holding ``until``. ``until`` is the later of our
clock and the gateway's: a simulator running faster than real time is ahead
of ours, and its traces with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from oncall_tui.core.changes import changes_from_routes
from oncall_tui.core.onset import DEFAULT_RULE
from oncall_tui.core.onset_model import ChangeEvent, OnsetQuery, OnsetWindow
from oncall_tui.errors import OncallError
from oncall_tui.sources.capabilities import GatewayStatus
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
    since_ns: int = SINCE_NS,
    bucket_ns: int = BUCKET_NS,
    sample_per_bucket: int = SAMPLE_PER_BUCKET,
) -> tuple[OnsetWindow, list[str]]:
    """The window ending at the later of ``now_ns`` and the gateway's clock,
    with ``changes`` (e.g. from the audit log) and the gateway's own. A
    gateway that cannot answer is a warning, not a failure; the store's
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
    side = in_window(side, query, DEFAULT_RULE.lookback_ns)
    return await onset_window(store, query, changes=side), warnings
