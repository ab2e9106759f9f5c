"""Trace file formats, each registering a TraceFormat with sources.detect.

Import order is sniff order: more specific formats first.
"""

from oncall_tui.sources.formats import jaeger_v1, langfuse, otlp, otlp_logs, phoenix

__all__ = ["jaeger_v1", "langfuse", "otlp", "otlp_logs", "phoenix"]
