"""Runbook files: strict shape, meaning checked, every problem with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.errors import DataError
from oncall_tui.runbook import format as fmt

BAD = Path(__file__).resolve().parent.parent / "fixtures" / "bad_runbooks"
EXPECT = re.compile(
    r"^# expect: (?P<key>\S*) @ (?P<line>\d+|-): (?P<msg>.*?)(?: ~ (?P<sugg>\S+))?$"
)

GOOD = """\
id: tiny
title: Tiny
summary: One of each step kind.
match: {alerts: [tier_mix_below_slo], findings: [tier_demotion]}
inputs:
  route: {type: route, description: the route}
  to: {type: version, required: false, default: v1}
steps:
  - {id: look, kind: manual, title: "Open {route}", checklist: [a, b]}
  - id: tier
    kind: check
    title: Primary serves
    query: {source: gateway_status, route: "{route}"}
    let: {share: primary_share}
    pass: share >= 0.9
    repeat: {every_s: 1, deadline_s: 5}
  - id: decide
    kind: decision
    title: Roll back?
    question: Roll back {route}?
    choices: ["yes", "no"]
    branches:
      - {when: "answer == 'yes' and not checks.tier.passed", goto: roll}
    otherwise: end
  - {id: roll, kind: action, title: Roll back, action: rollback, route: "{route}",
     to_version: "{to}", reason: runbook tiny, mitigates: true}
  - {id: done, kind: note, title: Done, text: "rolled back {route}", diagnosis: bad_upgrade}
postmortem: ["What changed?"]
"""


def _expectations(path: Path) -> list[tuple[str, int | None, str, str | None]]:
    out = []
    for line in path.read_text().splitlines():
        m = EXPECT.match(line)
        if m:
            where = None if m["line"] == "-" else int(m["line"])
            out.append((m["key"], where, m["msg"], m["sugg"]))
    assert out, f"{path.name} declares no '# expect:' lines"
    return out


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_runbook_reports_each_expected_problem(path: Path) -> None:
    checked = fmt.check_file(path)
    assert checked.runbook is None
    expected = _expectations(path)
    got = [str(p) for p in checked.problems]
    assert len(checked.problems) == len(expected), got
    for key, line, message, suggestion in expected:
        match = [p for p in checked.problems if p.key == key and p.line == line]
        assert match, f"no problem at {key}@{line}; got {got}"
        assert message in match[0].message
        assert match[0].suggestion == suggestion
        assert str(match[0]).startswith(f"{path}:{line}" if line else str(path))


def test_good_runbook_loads_every_step_kind(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD)
    rb = fmt.load_file(path)
    kinds = [type(s).__name__ for s in rb.steps]
    assert kinds == ["ManualStep", "CheckStep", "DecisionStep", "ActionStep", "NoteStep"]
    check = rb.step("tier")
    assert isinstance(check, fmt.CheckStep)
    assert check.passes == "share >= 0.9"
    assert check.repeat is not None and check.repeat.until is None
    assert rb.inputs["to"].default == "v1"
    assert rb.source == str(path)
    assert fmt.fill("Open {route} now {nope}", {"route": "chat"}) == "Open chat now {nope}"


def test_load_file_raises_one_line_dataerror_with_count(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("title: Tiny", "titel: Tiny").replace("kind: note", "kind: nte"))
    with pytest.raises(DataError) as info:
        fmt.load_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}:")
    assert "(+2 more)" in text
    assert "\n" not in text


def test_goto_must_be_a_step_or_end_and_reserved_ids(tmp_path: Path) -> None:
    text = GOOD.replace("otherwise: end", "otherwise: ende").replace("id: done", "id: end")
    checked = fmt.check_text(text, "x.yaml")
    messages = [str(p) for p in checked.problems]
    assert any("goto names no step 'ende'" in m and "did you mean 'end'" in m for m in messages)
    assert any("'end' is reserved" in m for m in messages)


def test_check_referring_to_a_later_check_is_rejected() -> None:
    text = GOOD.replace("not checks.tier.passed", "not checks.later.passed")
    checked = fmt.check_text(text, "x.yaml")
    assert [p.message for p in checked.problems] == ["checks.later names no earlier check step"]


def test_decision_reading_answer_without_question_is_rejected() -> None:
    text = GOOD.replace("    question: Roll back {route}?\n", "")
    checked = fmt.check_text(text, "x.yaml")
    assert any("asks no question" in p.message for p in checked.problems)


# ------------------------------------------------------------------ hostile files


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
_KEYS = st.sampled_from(
    ["id", "title", "summary", "steps", "kind", "query", "pass", "branches", "when", "goto",
     "inputs", "type", "match", "repeat", "let", "action", "route", "x"]
)  # fmt: skip
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=6)),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_problems_never_a_crash(text: str) -> None:
    checked = fmt.check_text(text, "fuzz.yaml")
    assert (checked.runbook is None) == bool(checked.problems)


@settings(max_examples=300, deadline=None)
@given(_DOCS)
def test_any_yaml_shape_is_problems_never_a_crash(doc: object) -> None:
    checked = fmt.check_text(yaml.safe_dump(doc), "fuzz.yaml")
    assert (checked.runbook is None) == bool(checked.problems)
    for problem in checked.problems:
        assert str(problem).startswith("fuzz.yaml")


def test_a_runbook_alias_bomb_is_refused_at_once() -> None:
    """The config's alias budget guards runbooks too: a few hundred bytes of
    nested aliases must be one problem, not minutes and gigabytes."""
    from oncall_tui.runbook.format import check_text

    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for n in range(1, 9):
        prev = chr(ord("a") + n - 1)
        cur = chr(ord("a") + n)
        refs = ",".join([f"*{prev}"] * 9)
        bomb += f"{cur}: &{cur} [{refs}]\n"
    checked = check_text(bomb, "bomb.yaml")
    assert checked.runbook is None
    assert any("alias" in p.message for p in checked.problems), checked.problems
