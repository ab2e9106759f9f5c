"""The shape of ``expected.yaml``: a case's diagnosis, written before recording.

Strict (unknown keys are errors), so a typo cannot silently weaken a case.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml


class Bound(msgspec.Struct, forbid_unknown_fields=True):
    min: float | None = None
    max: float | None = None
    eq: float | str | None = None


class Expected(msgspec.Struct, forbid_unknown_fields=True):
    about: str  # the scenario in one line, as a responder would describe it
    traces: int = 1  # trace ids after reading the file (threads start new ones)
    cycle: bool = False  # a reentrancy_cycle finding
    cycle_tools: list[str] = []  # tool names the loop passes through (all of them)
    inferred: bool | None = None  # the loop rests on inferred edges
    min_laps: int | None = None
    repeated_call: bool = False  # a repeated_tool_call finding
    must: list[str] = []  # other finding kinds that must appear
    must_not: list[str] = []  # kinds that must not appear (whatever their severity)
    may: list[str] = []  # medium+ kinds tolerated; any other medium+ one is a false alarm
    model_nodes: int | None = None  # distinct model nodes (an alias and its snapshot are one)
    numbers: dict[str, Bound] = {}  # "finding_kind.number": bound
    known_wrong: str | None = None  # why the engine still gets this case wrong (xfail, strict)


def load(path: Path) -> Expected:
    return msgspec.convert(yaml.safe_load(path.read_text()), Expected)
