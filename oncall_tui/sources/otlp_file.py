"""``otlp-file``: a folder (or one file) of OTLP/JSON exports as a trace store.

The simplest store there is: what an app's file exporter or a saved
``/v1/traces`` payload leaves on disk. Useful on a jump host with no store
access, and in tests.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from oncall_tui.core.models import Trace, TraceSummary
from oncall_tui.errors import DataError, NotFoundError
from oncall_tui.plugins import Plugin, PluginContext
from oncall_tui.sources.capabilities import TraceQuery


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str  # a .json / .json.gz file, or a folder of them


_SUFFIXES = (".json", ".json.gz", ".jsonl", ".ndjson")


class OtlpFileStore:
    def __init__(self, options: Options) -> None:
        self.root = Path(options.path).expanduser()

    def _files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such file or folder (otlp-file path)")
        return sorted(p for p in self.root.rglob("*") if p.name.endswith(_SUFFIXES))

    def _traces(self) -> list[Trace]:
        """Every trace under the path: a trace's pieces in several files are
        one trace, and traces split by lost thread context are stitched."""
        from oncall_tui.core.stitch import stitch
        from oncall_tui.sources.detect import read_many

        # Read together: GenAI events kept as log records beside the spans
        # (logs.json) attach to their spans too.
        return stitch(read_many((file.read_bytes(), str(file)) for file in self._files()))

    async def get_trace(self, trace_id: str) -> Trace:
        from oncall_tui.core.stitch import find

        found = find(self._traces(), trace_id.lower())
        if not found:
            raise NotFoundError(f"trace {trace_id} not found under {self.root}")
        return found[0]

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        from oncall_tui.core.summary import summarize

        rows = [summarize(t) for t in self._traces()]
        if query.errors_only:
            rows = [r for r in rows if r.error_count]
        if query.service:
            rows = [r for r in rows if r.service == query.service]
        rows.sort(key=lambda r: r.start_ns or 0, reverse=True)
        return rows[: query.limit]


def _factory(options: Options, ctx: PluginContext) -> OtlpFileStore:
    return OtlpFileStore(options)


PLUGIN = Plugin(
    name="otlp-file",
    summary="OTLP/JSON export files on disk as a trace store",
    roles=("trace_stores",),
    options=Options,
    factory=_factory,
)
