"""The one GenAI view over three vocabularies: which name wins, what counts as
recorded, and that neither attribute order nor the per-key-set plan cache
changes the answer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_tui.core.genai import genai_view


def test_current_names_beat_deprecated_beat_openinference_in_any_order() -> None:
    attrs = {
        "llm.token_count.prompt": 1,
        "gen_ai.usage.prompt_tokens": 2,
        "gen_ai.usage.input_tokens": 3,
        "llm.system": "oi",
        "gen_ai.system": "deprecated",
        "gen_ai.provider.name": "current",
    }
    for ordered in (attrs, dict(reversed(list(attrs.items())))):
        g = genai_view(ordered)
        assert g is not None and (g.input_tokens, g.provider) == (3, "current")


def test_empty_means_not_recorded_except_for_a_tool_result() -> None:
    g = genai_view(
        {
            "gen_ai.request.model": "",
            "llm.request.model": "fallback-name",
            "gen_ai.tool.call.result": "",
        }
    )
    assert g is not None
    assert g.request_model == "fallback-name"
    assert g.tool_call_result == ""


def test_openinference_only_span() -> None:
    g = genai_view(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-x-0917",
            "llm.invocation_parameters": '{"temperature": 0, "seed": 7}',
            "llm.token_count.completion": "41",
        }
    )
    assert g is not None
    assert (g.operation, g.response_model, g.output_tokens) == ("chat", "gpt-x-0917", 41)
    assert (g.temperature, g.seed) == (0.0, 7)  # a temperature of 0 is recorded


def test_system_instructions_are_hashed_and_plain_spans_have_no_view() -> None:
    g = genai_view({"gen_ai.operation.name": "chat", "gen_ai.system_instructions": "be kind"})
    assert g is not None and g.system_prompt_hash is not None
    assert g.system_prompt_hash.startswith("sha256:")
    assert genai_view({"http.method": "GET", "url.full": "http://x"}) is None
    assert genai_view({}) is None


_NAMES = st.sampled_from(
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "llm.model_name",
        "gen_ai.tool.call.result",
        "gen_ai.response.finish_reasons",
        "http.method",
        "tool.name",
    ]
)
_VALUES = st.one_of(st.none(), st.just(""), st.integers(0, 10**6), st.text(max_size=5))


@settings(max_examples=300, deadline=None)
@given(items=st.dictionaries(_NAMES, _VALUES, max_size=12), data=st.data())
def test_the_view_does_not_depend_on_attribute_order(items: dict, data) -> None:
    shuffled = data.draw(st.permutations(list(items.items())))
    assert genai_view(items) == genai_view(dict(shuffled))


def test_non_finite_numbers_are_unknown_not_a_crash() -> None:
    """Found by hypothesis: "INF" tokens raised OverflowError and lost the span."""
    view = genai_view(
        {
            "gen_ai.usage.input_tokens": "INF",
            "gen_ai.usage.output_tokens": "nan",
            "gen_ai.response.time_to_first_chunk": "inf",
            "gen_ai.request.temperature": float("nan"),
        }
    )
    assert view is not None
    assert view.input_tokens is None and view.output_tokens is None
    assert view.time_to_first_chunk_s is None and view.temperature is None


def test_streaming_comes_from_the_flag_or_the_invocation_parameters() -> None:
    from oncall_tui.core.genai import genai_view

    assert genai_view({"gen_ai.is_streaming": True}).streaming is True  # type: ignore[union-attr]
    assert genai_view({"gen_ai.is_streaming": "False"}).streaming is False  # type: ignore[union-attr]
    params = {"llm.invocation_parameters": '{"stream": true}'}
    assert genai_view(params).streaming is True  # type: ignore[union-attr]
    assert genai_view({"gen_ai.request.model": "x"}).streaming is None  # type: ignore[union-attr]
