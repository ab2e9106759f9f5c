"""One model, many names: an alias, its dated snapshot and a gateway's
provider-prefixed name must never read as a fallback between models."""

import pytest

from oncall_tui.core.modelid import canonical_model, same_model


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("gpt-4", "gpt-4-0613"),
        ("claude-3-5-sonnet", "claude-3-5-sonnet-20241022"),
        ("o1-preview", "o1-preview-2024-09-12"),
    ],
)
def test_alias_and_snapshot_are_one_model(a: str, b: str) -> None:
    assert same_model(a, b, "openai")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("gpt-4o", "gpt-4o-mini"),
        ("gpt-4o-mini", "gpt-4.1-mini"),
        ("claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219"),
        ("o1-preview", "o1"),
        ("azure/gpt-4o", "gpt-4o"),  # another provider's route is a real difference
    ],
)
def test_different_models_stay_different(a: str, b: str) -> None:
    assert not same_model(a, b, "openai")


def test_prefix_is_stripped_only_for_the_provider_named() -> None:
    assert canonical_model("openai/gpt-4o", "openai") == "gpt-4o"
    assert canonical_model("openai/gpt-4o", None) == "openai/gpt-4o"
