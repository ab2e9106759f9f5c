"""Every convention family the GenAI view reads, in tie-break order.

Adding an instrumentation library: write one module beside these (a TABLE,
plus a hook only for what a table cannot say) and list its FAMILY here.
"""

from __future__ import annotations

from oncall_tui.core.conventions import http, openinference, openllmetry, otel_genai, pydantic_ai
from oncall_tui.core.conventions.base import Family

FAMILIES: tuple[Family, ...] = (
    otel_genai.FAMILY,
    openinference.FAMILY,
    openllmetry.FAMILY,
    pydantic_ai.FAMILY,
    http.FAMILY,
)
