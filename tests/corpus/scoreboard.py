"""Per-family scoreboard of the corpus: ``python -m tests.corpus.scoreboard [-v]``.

The same judge as tests/unit/test_corpus.py, printed as "right / recorded"
per family and form, with the reasons for each miss under ``-v``: the numbers
the closing note of a trace-engine change gives, before and after.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from tests.corpus.expectations import load
from tests.unit.test_corpus import CASES, FORMS, diagnose, verdict


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    score: dict[str, dict[str, list[int]]] = defaultdict(lambda: {f: [0, 0] for f in FORMS})
    misses: list[str] = []
    for case in CASES:
        want = load(case / "expected.yaml")
        for form in FORMS:
            wrong = verdict(diagnose(case / form), want)
            cell = score[case.parent.name][form]
            cell[1] += 1
            cell[0] += not wrong
            if wrong:
                known = " (known_wrong)" if want.known_wrong else ""
                misses.append(f"{case.parent.name}/{case.name} {form}{known}: " + "; ".join(wrong))
    total = {f: [0, 0] for f in FORMS}
    for family, forms in sorted(score.items()):
        cells = []
        for form in FORMS:
            right, n = forms[form]
            total[form][0] += right
            total[form][1] += n
            cells.append(f"{form} {right}/{n}")
        print(f"{family:26} " + "  ".join(cells))
    print(f"{'all':26} " + "  ".join(f"{f} {r}/{n}" for f, (r, n) in total.items()))
    if verbose:
        print("\n".join(["", *misses]))
    return 0 if not misses else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
