"""Unleash's event log as ``kind="flag"`` changes for ``trace onset``.

Unleash 6 lists events through its event search API (``GET
/api/admin/search/events``, newest first, paged with ``offset``/``limit``,
dates by whole UTC day); older servers only have ``GET /api/admin/events``.
Both answer the same event objects; this module decodes a page and maps the
events that change what SDKs are served (on/off, strategies, variants,
archive) to ``ChangeEvent``. Tags, favourites, staleness and the like change
nothing traffic sees and are left out.

Event text comes from the flag service's users: it is only shown, cut short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from oncall_tui.core.onset_model import ChangeEvent
from oncall_tui.core.text import preview

#: Event types that change what an SDK is served, asked for by name.
FLAG_EVENT_TYPES = (
    "feature-environment-enabled",
    "feature-environment-disabled",
    "feature-strategy-add",
    "feature-strategy-update",
    "feature-strategy-remove",
    "feature-environment-variants-updated",
    "feature-variants-updated",
    "feature-updated",
    "feature-archived",
    "feature-revived",
)
_NAME_MAX = 80


class UnleashEvent(msgspec.Struct, kw_only=True):
    # Field names as Unleash spells them: the events decode without renaming.
    type: str
    createdAt: str
    featureName: str | None = None
    environment: str | None = None
    project: str | None = None
    createdBy: str | None = None
    data: Any = None
    preData: Any = None


class SearchPage(msgspec.Struct):
    """``/api/admin/search/events``."""

    events: list[UnleashEvent]
    total: int = 0


class EventsPage(msgspec.Struct):
    """``/api/admin/events`` (deprecated in Unleash 6, still served)."""

    events: list[UnleashEvent]


def event_ns(stamp: str) -> int | None:
    """``2026-12-03T05:26:54.439Z`` -> ns since the epoch; None when unreadable."""
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def _mix(variants: Any) -> str | None:
    """Variants as a version mix (``a`` or ``a:500,b:500``); None when none serve."""
    if isinstance(variants, Mapping):
        variants = variants.get("variants")
    if not isinstance(variants, list):
        return None
    weights: dict[str, int] = {}
    for v in variants:
        if isinstance(v, Mapping) and isinstance(v.get("weight"), int) and v["weight"] > 0:
            weights[preview(str(v.get("name")), _NAME_MAX)] = int(v["weight"])
    if len(weights) == 1:
        return next(iter(weights))
    return ",".join(f"{k}:{w}" for k, w in weights.items()) or None


def _strategy_name(data: Any) -> str:
    name = data.get("name") if isinstance(data, Mapping) else None
    return preview(name, _NAME_MAX) if isinstance(name, str) and name else "strategy"


def _rollout(data: Any) -> str | None:
    params = data.get("parameters") if isinstance(data, Mapping) else None
    value = params.get("rollout") if isinstance(params, Mapping) else None
    return f"rollout {value}%" if isinstance(value, str | int) else None


def before_after(e: UnleashEvent) -> tuple[str | None, str]:
    """What the flag was and is, in words a responder reads: ``off``/``on``,
    a rollout percentage, a variant mix, or what happened to a strategy."""
    kind = e.type
    if kind == "feature-environment-enabled":
        return "off", "on"
    if kind == "feature-environment-disabled":
        return "on", "off"
    if kind == "feature-strategy-update":
        name = _strategy_name(e.data)
        pre, post = _mix(e.preData), _mix(e.data)
        if pre != post:
            return pre or "no variants", post or "no variants"
        pre, post = _rollout(e.preData), _rollout(e.data)
        if pre is not None and post is not None and pre != post:
            return f"{name} {pre}", f"{name} {post}"
        return None, f"strategy {name} updated"
    if kind == "feature-strategy-add":
        return None, f"strategy {_strategy_name(e.data)} added"
    if kind == "feature-strategy-remove":
        return None, f"strategy {_strategy_name(e.preData)} removed"
    if kind in ("feature-environment-variants-updated", "feature-variants-updated"):
        return _mix(e.preData) or "no variants", _mix(e.data) or "no variants"
    return None, kind.removeprefix("feature-")  # updated, archived, revived


def flag_changes(
    events: Iterable[UnleashEvent],
    *,
    since_ns: int,
    until_ns: int,
    environment: str,
    routes_of: Mapping[str, list[tuple[str, str]]],
    source: str = "unleash",
) -> list[ChangeEvent]:
    """The flag changes in ``[since_ns, until_ns)`` for ``environment`` (an
    event for no environment, an archive say, counts everywhere), oldest
    first. ``routes_of``: flag -> (route, role) pairs from the config; a flag
    on no route is a fleet-wide change, one on two routes is one change each."""
    wanted = set(FLAG_EVENT_TYPES)
    out: list[ChangeEvent] = []
    for e in events:
        if e.type not in wanted or not e.featureName:
            continue
        if e.environment is not None and e.environment != environment:
            continue
        at = event_ns(e.createdAt)
        if at is None or not since_ns <= at < until_ns:
            continue
        before, after = before_after(e)
        flag = preview(e.featureName, _NAME_MAX)
        who = f"by {preview(e.createdBy, _NAME_MAX)}" if e.createdBy else "by unknown"
        where = f" in {e.environment}" if e.environment else ""
        targets: list[tuple[str | None, str | None]] = [(None, None)]
        targets = list(routes_of.get(e.featureName, ())) or targets
        for route, role in targets:
            detail = f"{who}{where}"
            if role == "kill_switch" and after in ("on", "off"):
                # The kill-switch flag's ON means the AI path serves.
                state = "AI serves" if after == "on" else "kill switch on: AI stopped"
                detail = f"{state}; {detail}"
            elif role == "model":
                detail = f"model flag; {detail}"
            out.append(
                ChangeEvent(
                    at_ns=at,
                    kind="flag",
                    subject=flag,
                    route=route,
                    before=before,
                    after=after,
                    source=source,
                    detail=detail,
                )
            )
    out.sort(key=lambda c: (c.at_ns, c.route or "", c.subject))
    return out
