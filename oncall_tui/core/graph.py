"""The agent call graph of one trace: spans collapsed onto agent/model/tool nodes.

Node keys: ``agent:{name}``, ``model:{provider}/{model}``, ``tool:{name}``;
any other span is ``span:{name}``. When a trace has GenAI spans, plain spans
between them (HTTP clients, framework "step" wrappers) are collapsed away, so
each GenAI span's *effective parent* is its nearest GenAI ancestor: a generic
wrapper shared by many contexts must not invent a loop. A trace with no GenAI
spans at all is graphed span-name to span-name.

Edges:
- ``call``: effective parent -> child.
- ``inferred``: where context propagation was lost. A root or orphan span that
  starts and ends inside another span of the same service and host is taken
  as called by it; so is a sibling nested in time the way a lost call nests
  (a model call starting inside a tool, then a tool starting after it inside
  that tool), never the way parallel fan-out overlaps (``Collapsed._lost_call``
  says exactly when). Labelled, so a cycle that rests on one says so.
- ``chose_tool``: model span -> the tool span it asked for (same
  ``gen_ai.tool.call.id`` in the model's output and the tool span). Kept to
  explain a loop; never used to find one.

A child with the same key as its *direct* parent (a gateway span around the
provider call) is a wrapper: merged into one call, not an edge.
"""

from __future__ import annotations

import msgspec

from oncall_tui.core.modelid import canonical_model
from oncall_tui.core.models import Span, Trace
from oncall_tui.core.tree import SpanTree

EdgeKind = str  # "call" | "inferred" | "chose_tool"

#: Span ids kept per edge as evidence; counts stay exact beyond it.
MAX_EVIDENCE = 20

_AGENT_OPS = frozenset({"invoke_agent", "create_agent"})
_MODEL_OPS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "responses"}
)
_TOOL_OPS = frozenset({"execute_tool"})


class Edge(msgspec.Struct, gc=False):
    source: str
    target: str
    kind: EdgeKind
    count: int = 0
    span_ids: list[str] = []  # the child span of each call (first MAX_EVIDENCE)


class Node(msgspec.Struct, gc=False):
    key: str
    kind: str  # agent | model | tool | span
    calls: int = 0
    errors: int = 0
    duration_ns: int = 0
    tokens: int = 0


class CallGraph(msgspec.Struct):
    nodes: dict[str, Node]
    edges: list[Edge]
    genai: bool  # False: no GenAI spans, graphed by span name


def node_key(span: Span) -> str | None:
    """The node a span collapses onto, or None when it is not a GenAI span.

    Reads only the normalised view: which attribute of which family means
    "tool", "agent" or "model" is decided in ``core.conventions``.
    """
    g = span.gen_ai
    if g is None:
        return None
    op = g.operation
    if op in _TOOL_OPS or (op is None and g.tool_name):
        return f"tool:{g.tool_name or _subject(span.name, op)}"
    if op in _AGENT_OPS:
        return f"agent:{g.agent_name or _subject(span.name, op)}"
    # The model asked for, not the resolved version: one node per deployment,
    # and an alias and its dated snapshot are one model.
    model = g.request_model or g.response_model
    if model is None and op and span.name.startswith(op + " "):
        model = _subject(span.name, op)  # "chat gpt-x" by the span-name convention
    if op in _MODEL_OPS or (op is None and model):
        provider = g.provider or "unknown"
        # canonical_model drops a prefix naming this provider
        # ("openai/gpt-4o-mini" under openai): never "openai/openai/...".
        return f"model:{provider}/{canonical_model(model, provider) if model else 'unknown'}"
    # An agent name alone is no agent run: OpenLLMetry and Pydantic AI copy
    # it onto every span inside the agent (HTTP attempts included).
    return None


def _subject(name: str, op: str | None) -> str:
    """What a span named by the GenAI convention ("{operation} {subject}", e.g.
    "execute_tool search") is about, so a tool span lacking gen_ai.tool.name
    still lands on the same node as its siblings that have it."""
    if op and name.startswith(op + " ") and len(name) > len(op) + 1:
        return name[len(op) + 1 :]
    return name


def _kind_of(key: str) -> str:
    return key.split(":", 1)[0]


class Collapsed:
    """Per-span node keys and effective parents (``-1``: none), shared by
    the graph, the cycle finder and the findings."""

    __slots__ = ("edge_kind", "eparent", "genai", "keys", "tree")

    def __init__(self, trace: Trace, tree: SpanTree, *, infer: bool = True) -> None:
        spans = trace.spans
        n = len(spans)
        self.tree = tree
        keys: list[str | None] = [node_key(s) for s in spans]
        self.genai = any(k is not None for k in keys)
        if not self.genai:
            keys = [f"span:{s.name}" for s in spans]
        eparent = [-1] * n
        edge_kind = ["call"] * n
        parent = tree.parent
        # Pre-order: a span's effective parent is its parent when that is a
        # node, else the parent's own effective parent (wrappers collapse).
        for i in tree.order:
            p = parent[i]
            if p < 0:
                continue
            eparent[i] = p if keys[p] is not None else eparent[p]
        # Plain spans under GenAI ones keep the nearest GenAI ancestor as the
        # place they "belong"; only node spans take part in the graph.
        self.keys = keys
        self.eparent = eparent
        self.edge_kind = edge_kind
        if infer:
            self._infer(spans, tree)

    def _infer(self, spans: list[Span], tree: SpanTree) -> None:
        """Interval containment inside one process (DESIGN.md, "The call graph
        and reentrancy"): one sort and a stack sweep per (service, host), so
        O(n log n). Each span meets its innermost container; whether that is a
        lost call is decided by ``_lost_call``."""
        keys = self.keys
        eparent = self.eparent
        edge_kind = self.edge_kind
        parent = tree.parent
        n = len(spans)
        first_root = tree.roots[0] if tree.roots else -1
        groups: dict[tuple[str | None, str | None], list[int]] = {}
        for i in tree.order:
            groups.setdefault((spans[i].service, spans[i].host), []).append(i)
        if all(len(members) < 2 for members in groups.values()):
            return
        # Does a span have a GenAI node among its recorded descendants? Then
        # context propagation works inside it, and a sibling running during
        # it was not called by it (parallel work, a background task).
        below = [False] * n
        for j in reversed(tree.order):
            p = parent[j]
            if p >= 0 and (below[j] or keys[j] is not None):
                below[p] = True
        # Node spans into which a lost *model* call was inferred: a tool
        # starting inside such a span after it is that model's choice, not a
        # parallel sibling.
        lost_model: set[int] = set()
        plain_inferred = False
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda i: (spans[i].start_ns, -spans[i].end_ns))
            stack: list[int] = []
            for i in members:
                end = spans[i].end_ns
                # A span on the stack that ends before this one ends either
                # ended already or only partly overlaps it; anything later that
                # it could contain, this span contains more tightly. So it can
                # go for good: amortised O(1), no depth limit.
                while stack and spans[stack[-1]].end_ns < end:
                    stack.pop()
                container = stack[-1] if stack else -1
                stack.append(i)
                if container < 0 or tree.is_descendant(i, container):
                    continue
                if tree.is_descendant(container, i):
                    continue  # skewed clocks: a child that starts before its parent
                target = self._lost_call(
                    spans,
                    tree,
                    i,
                    container,
                    first_root=first_root,
                    below=below,
                    lost_model=lost_model,
                )
                if target < 0:
                    continue
                eparent[i] = target
                edge_kind[i] = "inferred"
                key = keys[i]
                if key is None:
                    plain_inferred = True
                elif key[0] == "m" and self.keys[target] is not None:
                    lost_model.add(target)
        if plain_inferred:
            # A plain lost span (a worker thread's task span, an agent SDK's
            # workflow span): what runs under it now hangs from the call it
            # was inferred into.
            for j in tree.order:
                p = parent[j]
                if (
                    p >= 0
                    and keys[p] is None
                    and eparent[j] != eparent[p]
                    and edge_kind[j] != "inferred"  # inferred itself: keeps its caller
                    and (keys[j] is None or edge_kind[p] == "inferred")
                ):
                    eparent[j] = eparent[p]
                    if edge_kind[p] == "inferred":
                        edge_kind[j] = "inferred"

    def _lost_call(
        self,
        spans: list[Span],
        tree: SpanTree,
        i: int,
        container: int,
        *,
        first_root: int,
        below: list[bool],
        lost_model: set[int],
    ) -> int:
        """The node span that called span ``i`` although the trace does not
        say so, or -1. ``container`` is the innermost span of the same process
        whose interval holds ``i`` and that is not its ancestor.

        - A root or orphan (not the trace's first root) inside a span: a call
          that lost its context (a worker thread, a new trace stitched in).
        - A sibling (its recorded parent holds the container too), only when
          the container has no recorded GenAI calls of its own:
          a model call starting inside a tool or agent after it started;
          a tool, an agent or an HTTP attempt starting inside a model call
          (LangChain's own context does not reach the HTTP client's spans);
          an agent run (or a plain span wrapping GenAI calls, such as an
          agent SDK's workflow span) starting inside a tool after it started:
          the tool's body ran a sub-agent;
          a tool or agent starting inside a tool or agent after a lost model
          call began there (that model chose it).
          Tools started together after one model call (parallel fan-out)
          have no model call beginning inside them first: never a call.
        """
        keys = self.keys
        eparent = self.eparent
        p = tree.parent[i]
        target = container if keys[container] is not None else eparent[container]
        if p < 0:
            if i == first_root or target < 0 or tree.is_descendant(target, i):
                return -1
            return target
        key = keys[i]
        if not self.genai:
            return -1
        if key is not None:
            kind = key[0]
        elif below[i]:
            kind = "w"  # a plain span wrapping GenAI calls: a workflow run
        elif (g := spans[i].gen_ai) is not None and g.http_status_code is not None:
            kind = "h"  # an HTTP attempt: inside a model call, one of its tries
        else:
            return -1
        start = spans[i].start_ns
        # Walk out a few callers: a tool in a fan-out run inside a lost
        # context meets its parallel sibling first, and the call that holds
        # them both is one step further out.
        for _ in range(4):
            if target < 0 or target == p or not tree.is_descendant(target, p):
                return -1
            tkey = keys[target]
            if tkey is None or below[target] or tree.is_descendant(target, i):
                return -1
            if (
                spans[target].start_ns < start
                and spans[target].end_ns >= spans[i].end_ns
                and _calls(tkey[0], kind, lost=target in lost_model)
            ):
                return target
            target = eparent[target]
        return -1


def _calls(outer: str, inner: str, *, lost: bool) -> bool:
    """Does a span of node kind ``outer`` call a sibling of kind ``inner``
    that starts inside it (first letters: agent, model, tool; "w" a plain
    span wrapping GenAI calls, "h" a plain HTTP attempt)? ``lost``: a lost model call began inside
    ``outer`` already (it chose what follows)."""
    if inner == "m":
        return outer in ("t", "a")
    if outer == "m":
        return inner in ("t", "a", "h")
    if outer == "t" and inner in ("a", "w"):
        return True
    return lost and inner in ("t", "a", "w")


def _tokens(span: Span) -> int:
    g = span.gen_ai
    return 0 if g is None else (g.input_tokens or 0) + (g.output_tokens or 0)


def call_tokens(spans: list[Span], col: Collapsed, i: int) -> int:
    """Input+output tokens of span ``i``, counted once per call: a gateway span
    and the provider span it wraps often both report the same usage."""
    tokens = _tokens(spans[i])
    if tokens:
        p = col.tree.parent[i]
        wrapped = p >= 0 and col.keys[p] == col.keys[i] and col.edge_kind[i] == "call"
        if wrapped and _tokens(spans[p]):
            return 0
    return tokens


def build(
    trace: Trace, tree: SpanTree | None = None, collapsed: Collapsed | None = None
) -> CallGraph:
    tree = tree or SpanTree(trace)
    col = collapsed or Collapsed(trace, tree)
    spans = trace.spans
    keys = col.keys
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str, str], Edge] = {}
    dup = set(tree.duplicates)
    tool_spans_by_call: dict[str, int] = {}
    for i, span in enumerate(spans):
        key = keys[i]
        if key is None or i in dup:
            continue
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = Node(key, _kind_of(key))
        g = span.gen_ai
        parent = tree.parent[i]
        wrapper = parent >= 0 and keys[parent] == key and col.edge_kind[i] == "call"
        if not wrapper:
            node.calls += 1
            node.duration_ns += max(span.duration_ns, 0)
        if span.status == "error" and not (wrapper and spans[parent].status == "error"):
            node.errors += 1
        if g is not None:
            node.tokens += call_tokens(spans, col, i)
            if g.tool_call_id and key.startswith("tool:"):
                tool_spans_by_call.setdefault(g.tool_call_id, i)
        ep = col.eparent[i]
        if ep < 0 or wrapper:
            continue
        src = keys[ep]
        if src is None:
            continue
        kind = col.edge_kind[i]
        _add_edge(edges, src, key, kind, span.span_id)
    # "model chose tool": a model span whose output names a tool call id.
    for i, span in enumerate(spans):
        key = keys[i]
        if key is None or not key.startswith("model:"):
            continue
        for call_id in _tool_call_ids(span):
            t = tool_spans_by_call.get(call_id)
            if t is not None:
                tool_key = keys[t]
                if tool_key is not None:
                    _add_edge(edges, key, tool_key, "chose_tool", spans[t].span_id)
    return CallGraph(nodes=nodes, edges=list(edges.values()), genai=col.genai)


def _add_edge(
    edges: dict[tuple[str, str, str], Edge], src: str, dst: str, kind: str, span_id: str
) -> None:
    edge = edges.get((src, dst, kind))
    if edge is None:
        edge = edges[(src, dst, kind)] = Edge(src, dst, kind)
    edge.count += 1
    if len(edge.span_ids) < MAX_EVIDENCE:
        edge.span_ids.append(span_id)


# Which attribute names of a key set hold output tool call ids, worked out
# once per distinct key set (model spans of one kind share theirs). Bounded
# like the GenAI view's plans.
_CALL_ID_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _call_id_names(keys: tuple[str, ...]) -> tuple[str, ...]:
    names = _CALL_ID_NAMES.get(keys)
    if names is None:
        if len(_CALL_ID_NAMES) >= 4096:
            _CALL_ID_NAMES.clear()
        # OpenInference: llm.output_messages.0.message.tool_calls.0.tool_call.id
        names = _CALL_ID_NAMES[keys] = tuple(
            k for k in keys if k.endswith("tool_call.id") and "output" in k
        )
    return names


def _tool_call_ids(span: Span) -> list[str]:
    """Tool call ids a model span asked for (output message tool_calls)."""
    attrs = span.attributes
    if not attrs:
        return []
    ids: list[str] = [v for k in _call_id_names(tuple(attrs)) if isinstance(v := attrs[k], str)]
    raw = attrs.get("gen_ai.output.messages")
    if isinstance(raw, str) and '"tool_call' in raw:
        try:
            messages = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            messages = []
        for message in messages if isinstance(messages, list) else []:
            for part in message.get("parts", []) if isinstance(message, dict) else []:
                if isinstance(part, dict) and part.get("type") == "tool_call" and part.get("id"):
                    ids.append(str(part["id"]))
    return ids


def to_text(graph: CallGraph, cycle_nodes: frozenset[str] = frozenset()) -> list[str]:
    """The aggregated graph as plain lines (node keys are inert by construction
    only if the caller passes them through core.text.inert for display)."""
    lines: list[str] = []
    out: dict[str, list[Edge]] = {}
    for e in graph.edges:
        out.setdefault(e.source, []).append(e)
    for key in sorted(graph.nodes, key=lambda k: (-graph.nodes[k].calls, k)):
        node = graph.nodes[key]
        mark = " ⟲" if key in cycle_nodes else ""
        lines.append(f"{key}  calls={node.calls} errors={node.errors} tokens={node.tokens}{mark}")
        for e in sorted(out.get(key, []), key=lambda e: (e.kind, e.target)):
            arrow = {"call": "->", "inferred": "~>", "chose_tool": "=>"}.get(e.kind, "->")
            loop = " ⟲" if key in cycle_nodes and e.target in cycle_nodes else ""
            lines.append(f"    {arrow} {e.target}  x{e.count} ({e.kind}){loop}")
    return lines
