"""What a gateway status says that no column of a table shows, in sentences.

``gateway status`` prints these lines and the console's overview shows them
under the routes table: the same words in both, so a runbook or a chat
message quoting one matches the other. Pure functions of a ``StatusResponse``.
"""

from __future__ import annotations

from oncall_tui.core.gateway import StatusResponse
from oncall_tui.core.text import duration_text

#: A fallback path that has not served real traffic for this long may no
#: longer work when the primary fails (DESIGN: fallback path atrophy).
ATROPHY_S = 24 * 3600
#: Quota left below this share of its limit gets a line with its reset time.
LOW_QUOTA = 0.2


def data_age_lines(status: StatusResponse) -> list[str]:
    """One line per route that retrieves data: how old it is against its promise.
    Stale data moves no column of the table, so it gets its own line."""
    lines = []
    for r in status.routes:
        if r.data_age_p50_s is None or not r.data_freshness_slo_s:
            continue
        stale = r.stale_data_rate or 0.0
        cached = r.tool_cache_hit_rate
        lines.append(
            f"data age {r.route}: median {duration_text(r.data_age_p50_s)}, promise "
            f"{duration_text(r.data_freshness_slo_s)}, {stale:.0%} of retrievals older"
            + (f"; tool cache answers {cached:.0%}" if cached is not None else "")
        )
    return lines


def atrophy_lines(status: StatusResponse) -> list[str]:
    """One line per route whose fallback tiers have not served lately (or ever)."""
    now = status.gateway_time
    lines = []
    for r in status.routes:
        stale = []
        for tier in r.tier_mix[1:]:
            if tier.tier == "none" or tier.requests or tier.share > 0:
                continue
            if tier.last_served_at is None:
                stale.append(f"{tier.tier} (never seen serving)")
            elif (age := (now - tier.last_served_at).total_seconds()) > ATROPHY_S:
                stale.append(f"{tier.tier} (last served {duration_text(age)} ago)")
        if stale:
            lines.append(f"untested fallback of {r.route}: {', '.join(stale)}")
    return lines


def quota_lines(status: StatusResponse) -> list[str]:
    """Low quotas with their reset time in the provider's zone and the reader's."""
    lines = []
    for r in status.routes:
        for q in r.quotas:
            if (
                q.limit
                and q.remaining is not None
                and q.remaining < LOW_QUOTA * q.limit
                and q.resets_at
            ):
                local = q.resets_at.astimezone()
                lines.append(
                    f"quota {q.provider}: {q.remaining} of {q.limit} left "
                    f"({q.remaining / q.limit:.0%}); resets {q.resets_at:%H:%M} "
                    f"{q.provider_timezone} = {local:%H:%M %Z} local"
                )
    return sorted(set(lines))


def note_lines(status: StatusResponse) -> list[str]:
    return quota_lines(status) + atrophy_lines(status) + data_age_lines(status)
