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
from oncall_tui.sources.detect import TraceFormat, register


def _is_otlp(doc: Any) -> bool:
    return isinstance(doc, dict) and ("resourceSpans" in doc or "resource_spans" in doc)


def _decode_otlp(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = otlp.decode(raw, doc, source)
    return assemble(spans, source="otlp-json", notes=notes)


def _is_jaeger_v3(doc: Any) -> bool:
    return isinstance(doc, dict) and _is_otlp(doc.get("result"))


def _decode_jaeger_v3(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = otlp.decode_value(doc["result"], source)
    return assemble(spans, source="jaeger-api-v3", notes=notes)


def _is_tempo(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if "batches" in doc and isinstance(doc["batches"], list):
        return True
    return _is_otlp(doc.get("trace")) or (isinstance(doc.get("trace"), dict) and "status" in doc)


def _decode_tempo(raw: bytes, doc: Any, source: str) -> list[Trace]:
    if "batches" in doc:
        spans, notes = otlp.decode(raw, doc, source)
        return assemble(spans, source="tempo", notes=notes)
    spans, notes = otlp.decode_value(doc.get("trace") or {}, source)
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
