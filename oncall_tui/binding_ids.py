"""The console's binding ids, as data the headless config check can read.

The TUI declares its bindings with these ids (Textual ``Binding(..., id=...)``);
``config validate`` checks the ``keys:`` section against this list without
importing Textual. tests/unit/test_config_input.py keeps the two in step.
"""

from __future__ import annotations

BINDING_IDS: frozenset[str] = frozenset(
    {
        "action.close", "action.undo",
        "app.audit", "app.help", "app.quit", "app.traces",
        "audit.back", "audit.reload",
        "graph.back", "graph.bottom", "graph.down", "graph.left", "graph.next_lap",
        "graph.next_node", "graph.pagedown", "graph.pageleft", "graph.pageright", "graph.pageup",
        "graph.prev_lap", "graph.prev_node", "graph.right", "graph.spans", "graph.top", "graph.up",
        "help.close", "live.back", "live.bottom", "live.down", "live.open", "live.pagedown",
        "live.pageup", "live.top", "live.up", "modal.close", "node_spans.close",
        "overview.alerts", "overview.failover", "overview.kill_switch", "overview.refresh",
        "overview.rollback", "overview.runbook", "overview.timeline", "overview.traces",
        "runbook.act", "runbook.back", "runbook.decline", "runbook.done",
        "runbook.postmortem", "runbook.skip",
        *(f"runbook.choice{i}" for i in range(1, 10)),
        "timeline.back",
        "trace.back", "trace.collapse", "trace.expand", "trace.findings", "trace.graph",
        "trace.skew",
        "trace.next_hit", "trace.prev_hit", "trace.search", "trace.search_cancel",
        "trace.unzoom", "trace.zoom", "tree.waterfall",
        "traces.back", "traces.errors", "traces.reload", "traces.search", "traces.search_cancel",
        "tree.bottom", "tree.down", "tree.next_cycle", "tree.pagedown", "tree.pageup",
        "tree.toggle", "tree.top", "tree.up",
    }
)  # fmt: skip
