"""The laps of a reentrancy cycle, one call chain at a time, for stepping.

A ``Cycle`` carries one witness lap (the previous call of the re-entered
tool ... its re-entry). The graph screen steps through every lap of that
chain: the witness's outer calls are its ancestors, so walking up from the
witness's first span and cutting the chain at each call of the re-entered
node gives lap 1 (outermost) to lap N, N being ``Cycle.laps`` when the
chain is whole. Each lap names its spans and the
node keys it runs through, which is what the drawing highlights.

Pure and cheap: a walk up one parent chain, the node key of each span on it.
"""

from __future__ import annotations

from itertools import pairwise

import msgspec

from oncall_tui.core.cycles import Cycle
from oncall_tui.core.graph import node_key
from oncall_tui.core.models import Trace
from oncall_tui.core.tree import tree_for


class Lap(msgspec.Struct, frozen=True):
    span_ids: list[str]  # from the call that starts the lap to the one that re-enters
    keys: list[str]  # node keys along it, a wrapper merged with what it wraps

    @property
    def edges(self) -> list[tuple[str, str]]:
        return list(pairwise(self.keys))


def cycle_laps(trace: Trace, cycle: Cycle, *, genai: bool = True) -> list[Lap]:
    """Every lap of the chain ``cycle``'s witness lies on, outermost first.
    ``genai``: the graph's flag (False: nodes are ``span:{name}``)."""
    tree = tree_for(trace)
    spans = trace.spans
    chain: list[int] = []
    for sid in cycle.witness:
        i = tree.by_id.get(sid)
        if i is not None:
            chain.append(i)
    if not chain or not cycle.witness_keys:
        return []
    # The witness's own ancestors hold the earlier laps.
    above: list[int] = []
    p = tree.parent[chain[0]]
    while p >= 0 and len(above) < len(spans):
        above.append(p)
        p = tree.parent[p]
    chain = [*reversed(above), *chain]
    lap_key = cycle.witness_keys[-1]
    steps: list[tuple[int, str]] = []
    for i in chain:
        key = node_key(spans[i]) if genai else f"span:{spans[i].name}"
        if key is None or (steps and steps[-1][1] == key):
            continue  # a plain span, or a wrapper around the same call
        steps.append((i, key))
    starts = [n for n, (_, key) in enumerate(steps) if key == lap_key]
    # Lap k runs from the k-th call of the re-entered node to the next one
    # (included: the edge that closes the loop); the last lap is the
    # innermost call alone. So there are as many laps as Cycle.laps counts.
    laps = [
        Lap(
            span_ids=[spans[i].span_id for i, _ in steps[a : b + 1]],
            keys=[key for _, key in steps[a : b + 1]],
        )
        for a, b in pairwise([*starts, starts[-1]] if starts else [])
    ]
    if len(laps) < 2:  # the chain was cut (an inferred call): the witness alone
        laps = [Lap(span_ids=list(cycle.witness), keys=list(cycle.witness_keys))]
    return laps
