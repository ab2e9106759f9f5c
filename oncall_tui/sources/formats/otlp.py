"""OTLP-shaped formats: plain OTLP/JSON, Jaeger api_v3 (``{"result": ...}``) and
Tempo (v1 ``{"batches": ...}``, v2 ``{"trace": ..., "status": ...}``).

All three decode through core/otlp.py; they differ in the envelope and in
what completeness the store reports.
"""

from __future__ import annotations

from typing import Any

from oncall_tui.core import otlp
from oncall_tui.core.assemble import assemble
from oncall_tui.core.models import Trace
from oncall_tui.sources.detect import Document, TraceFormat, register

_OTLP_KEYS = frozenset({"resourceSpans", "resource_spans"})


def _member_is_otlp(doc: Any, key: str) -> bool:
    if isinstance(doc, Document):
        return bool(doc.member_keys(key) & _OTLP_KEYS)
    return isinstance(doc, dict) and _is_otlp(doc.get(key))


def _member(doc: Any, key: str, source: str) -> tuple[list[Any], list[Any]]:
    if isinstance(doc, Document):
        raw = doc.raw(key)
        return otlp.decode(raw, _LazyKeys(doc.member_keys(key)), source)
    return otlp.decode_value(doc.get(key) or {}, source)


class _LazyKeys(dict[str, Any]):
    """Stands in for a parsed member when only its keys are needed."""

    def __init__(self, keys: frozenset[str]) -> None:
        super().__init__(dict.fromkeys(keys))


def _is_otlp(doc: Any) -> bool:
    return isinstance(doc, dict) and ("resourceSpans" in doc or "resource_spans" in doc)


def _decode_otlp(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = otlp.decode(raw, doc, source)
    return assemble(spans, source="otlp-json", notes=notes)


def _is_jaeger_v3(doc: Any) -> bool:
    return _member_is_otlp(doc, "result")


def _decode_jaeger_v3(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = _member(doc, "result", source)
    return assemble(spans, source="jaeger-api-v3", notes=notes)


def _is_tempo(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if "batches" in doc:
        return True
    return "trace" in doc and (_member_is_otlp(doc, "trace") or "status" in doc)


def _decode_tempo(raw: bytes, doc: Any, source: str) -> list[Trace]:
    if "batches" in doc:
        spans, notes = otlp.decode(raw, doc, source)
        return assemble(spans, source="tempo", notes=notes)
    spans, notes = _member(doc, "trace", source)
    status = str(doc.get("status") or "COMPLETE").upper()
    if status == "PARTIAL":
        return assemble(
            spans,
            source="tempo",
            notes=notes,
            completeness="partial",
            reason=str(doc.get("message") or "Tempo answered status PARTIAL (size limit)"),
        )
    return assemble(spans, source="tempo", notes=notes)


# Specific envelopes first: a Jaeger/Tempo wrapper is never plain OTLP.
register(
    TraceFormat("jaeger-api-v3", "Jaeger api_v3 {result: OTLP}", _is_jaeger_v3, _decode_jaeger_v3)
)
register(
    TraceFormat("tempo", "Tempo /api/traces (batches) or /api/v2/traces", _is_tempo, _decode_tempo)
)
register(TraceFormat("otlp-json", "OTLP/JSON ExportTraceServiceRequest", _is_otlp, _decode_otlp))
