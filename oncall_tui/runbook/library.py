"""Finding runbooks: the shipped library, the config's extra folders, suggestions.

The shipped runbooks live in this package (``library/``; ``runbooks/`` at the
repository root points here) so an installed console has them. Folders named
in the config's ``runbook_paths`` come after, and a runbook there with the
same id replaces the shipped one: a team can adapt a runbook without forking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from oncall_tui.errors import NotFoundError
from oncall_tui.runbook.format import Runbook, check_file
from oncall_tui.yamlcheck import Problem, closest_hint

LIBRARY_DIR = Path(__file__).resolve().parent / "library"


def files(extra: Iterable[Path] = ()) -> list[Path]:
    out = sorted(LIBRARY_DIR.glob("*.yaml"))
    for folder in extra:
        out += sorted(folder.expanduser().glob("*.yaml")) if folder.expanduser().is_dir() else []
    return out


def load_all(extra: Iterable[Path] = ()) -> tuple[dict[str, Runbook], list[Problem]]:
    """Every valid runbook by id (later folders win) and every problem of the rest."""
    found: dict[str, Runbook] = {}
    problems: list[Problem] = []
    for path in files(extra):
        checked = check_file(path)
        problems += checked.problems
        if checked.runbook is not None:
            found[checked.runbook.id] = checked.runbook
    return found, problems


def get(runbooks: dict[str, Runbook], runbook_id: str) -> Runbook:
    if runbook_id in runbooks:
        return runbooks[runbook_id]
    raise NotFoundError(
        f"no runbook {runbook_id!r}", hint=closest_hint(runbook_id, sorted(runbooks))
    )


@dataclass(frozen=True)
class Suggestion:
    runbook: Runbook
    score: int
    reasons: tuple[str, ...]


def suggest(
    runbooks: Iterable[Runbook], *, alerts: Iterable[str] = (), findings: Iterable[str] = ()
) -> list[Suggestion]:
    """Runbooks whose ``match`` names any of the alert or finding kinds, best first.

    An alert counts twice a finding (the gateway saw it across traffic, a
    finding may be one trace), and a runbook's first-listed kind, its
    signature, counts twice any other.
    """
    alert_kinds, finding_kinds = set(alerts), set(findings)
    out = []
    for rb in runbooks:
        score = 0
        reasons = []
        for weight, kinds, seen, label in (
            (2, rb.match.alerts, alert_kinds, "alert"),
            (1, rb.match.findings, finding_kinds, "finding"),
        ):
            for i, kind in enumerate(kinds):
                if kind in seen:
                    reasons.append(f"{label} {kind}")
                    # The first kind listed is the runbook's signature; others are hints.
                    score += weight * (2 if i == 0 else 1)
        if reasons:
            out.append(Suggestion(rb, score, tuple(reasons)))
    out.sort(key=lambda s: (-s.score, s.runbook.id))
    return out
