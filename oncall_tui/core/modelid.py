"""Model identity: when two model names are the same model.

A provider answers a request for an alias (``gpt-4o-mini``) with its dated
snapshot (``gpt-4o-mini-2024-07-18``); a gateway prefixes the provider
(``openai/gpt-4o-mini``). All of those are one model: one call-graph node, and
never a fallback or tier demotion between them. Different families, sizes or
versions (``gpt-4o`` vs ``gpt-4o-mini``, ``claude-3-5-sonnet`` vs
``claude-3-7-sonnet``) stay different.

Pure and cheap (memoised): the graph calls it once per model span.
"""

from __future__ import annotations

import re
from functools import lru_cache

# A dated snapshot suffix: -2024-07-18, -20240718, @20240718, -0613 (OpenAI's
# old MMDD snapshots), -latest, -preview-2024-09-12 is a preview build: keep
# "preview" (a different model), drop its date.
_SNAPSHOT = re.compile(
    r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8})|-(?:0[1-9]|1[0-2])\d{2}|-latest|-v\d+(?::\d+)?)$"
)


@lru_cache(maxsize=4096)
def canonical_model(name: str, provider: str | None = None) -> str:
    """The model's identity without a dated snapshot or a provider prefix.

    ``provider`` is stripped only when the name starts with it
    (``openai/gpt-4o`` with provider ``openai``); a prefix naming another
    provider (``azure/gpt-4o`` under ``openai``) is kept, it is a real route.
    """
    text = name.strip()
    lowered = text.lower()
    if provider and lowered.startswith(provider.lower() + "/"):
        text = text[len(provider) + 1 :]
    while True:
        stripped = _SNAPSHOT.sub("", text)
        if stripped == text or not stripped:
            break
        text = stripped
    return text


def same_model(a: str | None, b: str | None, provider: str | None = None) -> bool:
    """True when ``a`` and ``b`` name one model (alias and snapshot alike)."""
    if a is None or b is None:
        return a == b
    return canonical_model(a, provider) == canonical_model(b, provider)
