"""The runbook expression language: what it computes, how it fails, and that it
cannot be made to do anything else (no eval, bounded depth, one error type)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall_tui.runbook import expr
from oncall_tui.runbook.expr import ExprError

ENV: dict[str, Any] = {
    "primary_share": 0.55,
    "tier_slo": 0.9,
    "unknown": None,
    "route": "checkout",
    "providers": [
        {"provider": "openai", "refusal_rate": 0.12, "refusal_baseline": 0.02, "requests": 90},
        {"provider": "anthropic", "refusal_rate": None, "refusal_baseline": 0.01, "requests": 10},
    ],
    "checks": {"tier": {"passed": False, "values": {"share": 0.55}}},
    "inputs": {"route": "checkout"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("primary_share < tier_slo", True),
        ("primary_share >= default(unknown, 0.5)", True),
        ("max(providers.refusal_rate) > 2 * max(providers.refusal_baseline)", True),
        ("min(providers.refusal_baseline)", 0.01),
        ("sum(providers.requests)", 100),
        ("avg([1, 2, 3])", 2),
        ("len(providers)", 2),
        ("count(providers.refusal_rate)", 1),
        ("count([1, 2, 1], 1)", 2),
        ("first(where(providers, 'provider', 'anthropic')).requests", 10),
        ("get(checks, 'nope', 7)", 7),
        ("not checks.tier.passed and route == 'checkout'", True),
        ("checks.tier.values.share == primary_share", True),
        ("'openai' in providers.provider", True),
        ("'x' in inputs", False),
        ("-2 * 3 + 7 % 4", -3),
        ("(1 + 2) * 3", 9),
        ("1 < 2 == true", True),
        ("abs(-1.5) + round(2.344, 2)", 3.84),
        ("any([false, 0, 'x']) and not all([1, 0])", True),
        ("providers[0].provider", "openai"),
        ("providers[-1]['provider']", "anthropic"),
        ("lower('ABC') == \"abc\"", True),
        ("1e3 == 1000 and .5 == 0.5", True),
        ("unknown == null", True),
        ("false or null", False),
    ],
)
def test_evaluates(text: str, expected: Any) -> None:
    assert expr.run(text, ENV) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("primary_share <", "end of expression"),
        ("primary_share < unknown", "unknown (null)"),
        ("unknown + 1", "unknown (null)"),
        ("primry_share > 1", "did you mean 'primary_share'"),
        ("checks.tire.passed", "did you mean 'tier'"),
        ("eval('1')", "unknown function 'eval'"),
        ("__import__('os')", "unknown function"),
        ("route.__class__", "cannot read field"),
        ("providers.__class__", "no field '__class__'"),
        ("(1).real", "cannot read field"),
        ("max([])", "max() of nothing known"),
        ("1 / 0", "division by zero"),
        ("'a' + 'b'", "needs a number"),
        ("'a' < 1", "cannot order"),
        ("providers[5]", "out of range"),
        ("route(1)", "unknown function"),
        ("providers.provider(1)", "only functions can be called"),
        ("1 +* 2", "unexpected '*'"),
        ("'open", "unterminated string"),
        ("a $ b", "unexpected character '$'"),
        ("1 " + "+ 1 " * 60, "nested deeper"),
        ("(" * 200 + "1" + ")" * 200, "nested deeper"),
        ("not " * 200 + "true", "nested deeper"),
        ("x" * (expr.MAX_LENGTH + 1), "longer than"),
        ("1" + "0" * 400 + " * 1.5", "arithmetic failed"),
        ("round(1.5, 99)", "digits"),
    ],
)
def test_errors_are_exprerror_with_a_useful_message(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=None) as info:
        expr.run(text, ENV)
    assert message in str(info.value)


def test_references_find_check_and_input_names() -> None:
    tree = expr.parse("checks.a.passed and not checks.b.passed or inputs.route == 'x'")
    assert expr.references(tree, "checks") == {"a", "b"}
    assert expr.references(tree, "inputs") == {"route"}
    assert expr.names(tree) == {"checks", "inputs"}


# ------------------------------------------------------------------ properties

_ATOMS = st.sampled_from(
    [
        "1", "0", "-3", "2.5", "'s'", "true", "null", "primary_share", "providers",
        "checks", "unknown", "route", "[1, null, 'a']", "inputs",
    ]
)  # fmt: skip
_OPS = st.sampled_from(
    [" and ", " or ", " == ", " != ", " < ", " >= ", " + ", " - ", " * ", " / ", " % ", " in "]
)
_WRAP = st.sampled_from(
    ["({})", "not {}", "-{}", "max({})", "len({})", "{}.refusal_rate", "{}[0]", "any({})",
     "default({}, 1)", "where({}, 'provider', 'openai')", "first({})", "count({})"]
)  # fmt: skip


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 6 or draw(st.booleans()):
        return draw(_ATOMS)
    if draw(st.booleans()):
        return draw(_WRAP).format(draw(_expressions(depth + 1)))
    return draw(_expressions(depth + 1)) + draw(_OPS) + draw(_expressions(depth + 1))


def _bounded(text: str) -> None:
    started = time.monotonic()
    with contextlib.suppress(ExprError):
        expr.run(text, ENV)
    assert time.monotonic() - started < 1.0, f"took too long on {text[:80]!r}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_only_ever_raises_exprerror(text: str) -> None:
    _bounded(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="()[]{},.'\"+-*/%<>=! andortinul0123456789e_xabc", max_size=400))
def test_operator_soup_only_ever_raises_exprerror(text: str) -> None:
    _bounded(text)


@settings(max_examples=400, deadline=None)
@given(_expressions())
def test_wellformed_expressions_evaluate_or_raise_exprerror(text: str) -> None:
    _bounded(text)
