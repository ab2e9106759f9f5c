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
  starts and ends inside another span of the same service and host, or a
  sibling that runs inside a childless sibling of the same process, is taken
  as called by that span. Labelled, so a cycle that rests on one says so.
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
        """Interval containment inside one process: a sweep with a stack per
        (service, host), O(n log n) for the sort."""
        keys = self.keys
        groups: dict[tuple[str | None, str | None], list[int]] = {}
        for i in tree.order:
            groups.setdefault((spans[i].service, spans[i].host), []).append(i)
        parent = tree.parent
        children = tree.children
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda i: (spans[i].start_ns, -spans[i].end_ns))
            stack: list[int] = []
            for i in members:
                s = spans[i]
                while stack and spans[stack[-1]].end_ns < s.start_ns:
                    stack.pop()
                container = -1
                # Partial overlaps break nesting; look a few levels down only.
                for j in reversed(stack[-4:]):
                    if spans[j].end_ns >= s.end_ns and spans[j].start_ns <= s.start_ns:
                        container = j
                        break
                stack.append(i)
                if container < 0 or keys[i] is None or tree.is_descendant(i, container):
                    continue
                lost_root = parent[i] < 0 and tree.roots[0] != i
                container_key = keys[container]
                lost_sibling = (
                    parent[i] >= 0
                    and parent[i] == parent[container]
                    and not children[container]
                    and container_key is not None
                    and s.start_ns > spans[container].start_ns
                    # Same kind inside same kind (tool in tool, model in model)
                    # is parallel fan-out (asyncio.gather, parallel tool calls),
                    # far likelier than a lost context: never a call.
                    and container_key[0] != (keys[i] or " ")[0]
                )
                if lost_root or lost_sibling:
                    target = container if keys[container] is not None else self.eparent[container]
                    if target >= 0:
                        self.eparent[i] = target
                        self.edge_kind[i] = "inferred"


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
