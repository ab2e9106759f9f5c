"""Record the ``otel-genai-events`` family: the OTel GenAI instrumentation in its
older event-based mode.

opentelemetry-instrumentation-openai-v2 2.1b0 records each chat call as a span
and its message content (``gen_ai.user.message``, ``gen_ai.assistant.message``,
``gen_ai.tool.message``, ``gen_ai.choice`` with the tool calls and their
arguments) as *events* through the Events API: log records tied to the chat
span by trace and span id, never span events. So the recorded trace files hold
no message content and no tool arguments at all; ``logs.json`` beside them
keeps those log records (OTLP/JSON, encoded by the official OTLP encoder) for
whoever wants to join them. opentelemetry-util-genai did not exist then, so
the app marks its agent and tool spans by hand through the OTel API with the
conventions of the time: ``invoke_agent {name}`` / ``execute_tool {name}``,
``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.agent.name``,
``gen_ai.tool.name``, ``gen_ai.tool.call.id`` (no argument attributes: in this
mode content goes to events). HTTP attempts: opentelemetry-instrumentation-httpx
with the old HTTP names (``http.status_code``).

The app and the mock's scripts are record_otel_genai.py's.

Run: ``/work/.corpus-venvs/otel-genai-events/bin/python record_otel_genai_events.py [case ...]``
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import _hex_ids, main
from record_otel_genai import make_cases

FAMILY = "otel-genai-events"
PACKAGES = [
    "openai",
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "httpx",
]
CONTENT_ON = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
CONTENT_OFF = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}

_LOGS: list[Any] = []  # the in-memory log exporter of this process's case


class HandMarks:
    """Agent and tool spans made by the app through the OTel API."""

    def __init__(self) -> None:
        from opentelemetry import trace

        self.tracer = trace.get_tracer("corpus.agent-app")

    @contextmanager
    def agent(self, name: str, model: str) -> Iterator[Any]:
        attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.system": "openai",
            "gen_ai.agent.name": name,
            "gen_ai.request.model": model,
        }
        with self.tracer.start_as_current_span(f"invoke_agent {name}", attributes=attrs) as span:
            yield span

    @contextmanager
    def tool(self, name: str, call_id: str, args: dict[str, Any]) -> Iterator[dict[str, Any]]:
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.system": "openai",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
        }
        with self.tracer.start_as_current_span(f"execute_tool {name}", attributes=attrs):
            yield {}

    @contextmanager
    def workflow(self, name: str) -> Iterator[Any]:
        attrs = {"gen_ai.operation.name": "invoke_workflow", "gen_ai.system": "openai"}
        with self.tracer.start_as_current_span(f"invoke_workflow {name}", attributes=attrs) as s:
            yield s


def setup() -> HandMarks:
    from opentelemetry._events import set_event_logger_provider
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._events import EventLoggerProvider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    exporter = InMemoryLogExporter()
    logs = LoggerProvider(resource=Resource.create({"service.name": "corpus-agent"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    set_logger_provider(logs)
    set_event_logger_provider(EventLoggerProvider(logs))
    _LOGS.append(exporter)
    OpenAIInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    return HandMarks()


def write_logs(case_dir: Path) -> None:
    """The events as the official OTLP encoder writes them, one document."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    records = [r for exporter in _LOGS for r in exporter.get_finished_logs()]
    doc = _hex_ids(MessageToDict(encode_logs(records), use_integers_for_enums=True))
    (case_dir / "logs.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"  + {len(records)} log-record events in logs.json (not in the trace files)")


if __name__ == "__main__":
    main(
        FAMILY,
        make_cases(
            FAMILY,
            PACKAGES,
            setup,
            CONTENT_ON,
            CONTENT_OFF,
            "openai-v2 2.1b0 event mode: content as log-record events only; "
            "agent/tool spans made by hand through the OTel API",
            after=write_logs,
        ),
    )
