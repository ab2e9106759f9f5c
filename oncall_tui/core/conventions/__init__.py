"""Instrumentation conventions as data: one module per family, one view.

- ``base``: what a family is (a table of attribute -> GenAI field with rank,
  plus an optional hook) and the shared value converters;
- one module per family: ``otel_genai``, ``openinference``, ``openllmetry``,
  ``pydantic_ai``, ``http``; ``registry.FAMILIES`` lists them;
- ``view``: ``genai_view`` merges the registered tables into one cached plan
  per attribute-key set;
- ``enrich``: the one cross-span step (a tool span's arguments taken from the
  model span that asked for that call id), run by ``core.assemble``.

Detectors read only the view (``Span.gen_ai``), never a raw attribute name.
docs/trace-engine.md ("Convention families") tabulates every family.
"""

from __future__ import annotations

from oncall_tui.core.conventions.enrich import fill_from_requests
from oncall_tui.core.conventions.registry import FAMILIES
from oncall_tui.core.conventions.view import genai_view, has_genai, provider_of

__all__ = ["FAMILIES", "fill_from_requests", "genai_view", "has_genai", "provider_of"]
