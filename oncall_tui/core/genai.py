"""The normalised GenAI view of a span: see ``core.conventions``.

Kept as the import path every decoder and test builder already uses.
"""

from __future__ import annotations

from oncall_tui.core.conventions import genai_view, has_genai

__all__ = ["genai_view", "has_genai"]
