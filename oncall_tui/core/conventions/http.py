"""HTTP client attempts (OTel HTTP semantic conventions, current and old).

A model call retried by its SDK shows as several HTTP CLIENT spans below one
model span; their status and resend count make the attempts countable.
Registry: open-telemetry/semantic-conventions ``model/http``.
"""

from __future__ import annotations

from oncall_tui.core.conventions.base import Family

TABLE: tuple[tuple[str, str, int], ...] = (
    ("http.response.status_code", "http_status_code", 0),
    ("http.status_code", "http_status_code", 10),  # before semconv 1.21
    ("http.request.resend_count", "http_resend_count", 0),
)

FAMILY = Family("http", TABLE)
