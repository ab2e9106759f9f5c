"""Langfuse observations: ``/api/public/v2/observations`` pages
(``{data, meta: {cursor}}``), the v1 ``/api/public/observations`` list, and
the deprecated ``/api/public/traces/{id}`` (a trace with ``observations``).

Langfuse has observation types, not span kinds: each type maps onto a GenAI
operation and a span kind below. Observation ids made by the OTel ingestion
are W3C hex; ids made by the Langfuse SDKs are UUIDs or free text, which get
a stable 16-hex id derived from them (the original is kept as the attribute
``langfuse.observation.id``). Shared with sources/langfuse.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from oncall_tui.core import otlp
from oncall_tui.core.assemble import assemble
from oncall_tui.core.genai import genai_view
from oncall_tui.core.models import QualityNote, Span, SpanKind, StatusCode, Trace
from oncall_tui.sources.detect import TraceFormat, register
from oncall_tui.sources.formats.timefmt import iso_ns

#: Observation type -> (gen_ai.operation.name or None, span kind).
TYPES: dict[str, tuple[str | None, SpanKind]] = {
    "GENERATION": ("chat", "client"),
    "EMBEDDING": ("embeddings", "client"),
    "AGENT": ("invoke_agent", "internal"),
    "TOOL": ("execute_tool", "internal"),
    "RETRIEVER": ("retrieval", "client"),
    "CHAIN": (None, "internal"),
    "EVALUATOR": (None, "internal"),
    "GUARDRAIL": (None, "internal"),
    "SPAN": (None, "internal"),
    "EVENT": (None, "internal"),
}


def _is_observation(item: Any) -> bool:
    return isinstance(item, dict) and "traceId" in item and "type" in item and "startTime" in item


def _sniff(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("observations"), list) and "id" in doc:
        return True
    data = doc.get("data") if "meta" in doc else None
    return isinstance(data, list) and bool(data) and _is_observation(data[0])


def _id(value: Any, size: int) -> str:
    text = str(value or "")
    try:
        return otlp.normalise_id(text, size)
    except otlp.IdError:
        # UUIDs (32 hex digits plus dashes) are trace ids as they are.
        plain = text.replace("-", "")
        if size == 16 and len(plain) == 32 and otlp.normalise_id(plain, 16):
            return plain.lower()
        return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"langfuse.observation.type": raw.get("type")}
    operation, _ = TYPES.get(str(raw.get("type", "")).upper(), (None, "internal"))
    if operation:
        attrs["gen_ai.operation.name"] = operation
    model = raw.get("providedModelName") or raw.get("model")
    if model:
        attrs["gen_ai.request.model"] = model
    if operation == "execute_tool" and raw.get("name"):
        attrs["gen_ai.tool.name"] = raw["name"]
    usage = raw.get("usageDetails") or raw.get("usage") or {}
    if isinstance(usage, dict):
        for src, dst in (
            ("input", "gen_ai.usage.input_tokens"),
            ("output", "gen_ai.usage.output_tokens"),
            ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
            ("output_reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
        ):
            if isinstance(usage.get(src), int):
                attrs[dst] = usage[src]
    params = raw.get("modelParameters")
    if isinstance(params, dict):
        for key in ("temperature", "top_p", "max_tokens", "seed"):
            if params.get(key) is not None:
                attrs[f"gen_ai.request.{key}"] = params[key]
    if raw.get("timeToFirstToken") is not None:
        attrs["gen_ai.response.time_to_first_chunk"] = raw["timeToFirstToken"]
    for key, name in (("input", "input.value"), ("output", "output.value")):
        if raw.get(key) is not None:
            attrs[name] = _text(raw[key])
    if raw.get("metadata") is not None:
        attrs["langfuse.metadata"] = _text(raw["metadata"])
    for key in ("level", "sessionId", "userId", "environment", "version", "promptName"):
        if raw.get(key) is not None:
            attrs[f"langfuse.{key}"] = raw[key]
    if raw.get("sessionId"):
        attrs["session.id"] = raw["sessionId"]
    attrs["langfuse.observation.id"] = raw.get("id")
    return attrs


def observation_span(raw: Any, path: str, notes: list[QualityNote]) -> Span | None:
    if not _is_observation(raw):
        notes.append(QualityNote("malformed_span", "not a Langfuse observation", None, path))
        return None
    trace_id = _id(raw.get("traceId"), 16)
    span_id = _id(raw.get("id"), 8)
    parent = raw.get("parentObservationId")
    parent_id = _id(parent, 8) if parent else None
    try:
        start = iso_ns(str(raw["startTime"]))
        end = iso_ns(str(raw["endTime"])) if raw.get("endTime") else start
    except ValueError:
        notes.append(QualityNote("malformed_span", "startTime/endTime not ISO-8601", span_id, path))
        start = end = 0
    _, kind = TYPES.get(str(raw.get("type", "")).upper(), (None, "internal"))
    level = str(raw.get("level") or "DEFAULT").upper()
    status: StatusCode = "error" if level == "ERROR" else "unset"
    attrs = _attributes(raw)
    return Span(
        trace_id,
        span_id,
        parent_id,
        str(raw.get("name") or raw.get("type") or ""),
        start,
        end,
        kind,
        status,
        raw.get("statusMessage") or None,
        None,
        None,
        attrs,
        (),
        genai_view(attrs, str(raw.get("name") or raw.get("type") or "")),
    )


def observations(doc: Any) -> list[Any]:
    if isinstance(doc.get("observations"), list):
        return list(doc["observations"])
    return list(doc.get("data") or [])


def decode_items(items: list[Any], source: str) -> tuple[list[Span], list[QualityNote]]:
    notes: list[QualityNote] = []
    spans = []
    for i, raw in enumerate(items):
        span = observation_span(raw, f"{source}: data[{i}]", notes)
        if span is not None:
            spans.append(span)
    return spans, notes


def _decode(raw: bytes, doc: Any, source: str) -> list[Trace]:
    spans, notes = decode_items(observations(doc), source)
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    if meta.get("cursor"):
        return assemble(
            spans,
            source="langfuse",
            notes=notes,
            completeness="partial",
            reason="one page of Langfuse observations: meta.cursor says more exist",
        )
    return assemble(spans, source="langfuse", notes=notes)


register(
    TraceFormat(
        "langfuse",
        "Langfuse /api/public/v2/observations or /api/public/traces/{id} JSON",
        _sniff,
        _decode,
    )
)
