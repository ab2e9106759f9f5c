"""Strict YAML documents with errors a tired person can act on.

Shared by the config file (``config.py``) and runbooks (``runbook/format.py``):
``yaml.safe_load`` for the data, ``yaml.compose`` once more for line numbers,
then a walk over the msgspec Struct type that reports EVERY problem (file,
line, dotted key, closest valid key) rather than the first. Tagged unions of
Structs (msgspec ``tag_field``) are checked against the variant their tag
names; the final conversion is still ``msgspec.convert`` with unknown fields
forbidden, so the walk can only add detail, never let anything through.

Hostile or broken files end as one Problem with a line, never a traceback:
bytes that are not UTF-8 (or are UTF-16/32) say so and where (``decode``);
an alias bomb is refused once aliases would expand past ``ALIAS_BUDGET``
nodes, and an alias to its own ancestor (a cycle) is refused outright; a key
given twice in one mapping is an error instead of the last one silently
winning. ``Loader`` does all three; use it (``load``) for every document.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import msgspec
import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

Path_ = tuple[str | int, ...]

#: Nodes that aliases may add to a document, all aliases together. A config or
#: runbook reuses a few small anchors; a "billion laughs" needs millions.
ALIAS_BUDGET = 10_000


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    key: str  # dotted path, e.g. environments.prod.gateways.main.url
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return text if self.suggestion is None else f"{text} (did you mean {self.suggestion!r}?)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "key": self.key,
            "message": self.message,
            "suggestion": self.suggestion,
        }


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses alias bombs, alias cycles and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None:
                if target.end_mark is None:  # still being composed: the alias is inside it
                    raise ComposerError(
                        None, None, f"alias *{event.anchor} refers to itself", event.start_mark
                    )
                self._expanded += self._size(target)
                if self._expanded > ALIAS_BUDGET:
                    raise ComposerError(
                        None,
                        None,
                        f"aliases expand to more than {ALIAS_BUDGET} nodes "
                        f"(at *{event.anchor}); refusing what looks like an alias bomb",
                        event.start_mark,
                    )
        return super().compose_node(parent, index)

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"key {key_node.value!r} is given twice in one mapping "
                    f"(first at line {seen[key]}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return node

    def _size(self, root: yaml.Node) -> int:
        """Nodes under ``root`` with every alias expanded; memoised, iterative."""
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if id(node) in self._sizes:
                continue
            children = _children(node)
            if done:
                self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in children)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in self._sizes)
        return self._sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load(text: str) -> Any:
    """``yaml.safe_load`` through ``Loader``."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 (Loader is a SafeLoader)


def decode(raw: bytes, file: str) -> tuple[str | None, Problem | None]:
    """A YAML file's bytes as text (UTF-8, a UTF-8 BOM allowed), or one Problem
    naming the encoding it is in, or the line and byte where UTF-8 breaks."""
    for bom, name in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if raw.startswith(bom):
            return None, Problem(file, 1, "", f"is {name} (byte order mark); save it as UTF-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, Problem(
            file, line, "", f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        )
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return None, Problem(
            file, line, "", "holds NUL bytes (UTF-16 or UTF-32 without a BOM?); save it as UTF-8"
        )
    return text, None


def line_map(text: str) -> dict[Path_, int]:
    """Map each key path in the YAML document to its 1-based line."""
    lines: dict[Path_, int] = {}
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        return lines
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())] if root is not None else []
    while stack:  # iterative: a hostile file must not hit the recursion limit
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                lines[(*path, key)] = key_node.start_mark.line + 1
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
    return lines


def line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[['\"]?([^\]'\"]+)['\"]?\]")


def split_msgspec_error(exc: msgspec.ValidationError) -> tuple[str, Path_]:
    m = _MSGSPEC_PATH.match(str(exc))
    if m is None:  # pragma: no cover - the regex matches any string
        return str(exc), ()
    parts: list[str | int] = []
    for dotted, index, keyed in _PATH_PART.findall(m.group("path") or ""):
        parts.append(dotted or (int(index) if index else keyed))
    return m.group("msg"), tuple(parts)


def closest(name: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return match[0] if match else None


def closest_hint(name: str, options: list[str]) -> str:
    best = closest(name, options)
    if best is not None:
        return f"did you mean {best!r}?"
    return f"known: {', '.join(options) or 'none'}"


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    """A YAML syntax error as one Problem with its line."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        problem += f" ({context} that starts at line {context_mark.line + 1})"
    return Problem(file, line, "", f"not valid YAML: {problem}")


def _struct_variants(typ: Any) -> list[type[msgspec.Struct]] | None:
    """The Struct members of a tagged union (``A | B``), or None if it is not one."""
    if typing.get_origin(typ) not in (typing.Union, types.UnionType):
        return None
    members = [a for a in typing.get_args(typ) if a is not type(None)]
    if len(members) < 2:
        return None
    if not all(isinstance(m, type) and issubclass(m, msgspec.Struct) for m in members):
        return None
    return members


def _optional_struct(typ: Any) -> type[msgspec.Struct] | None:
    if typing.get_origin(typ) not in (typing.Union, types.UnionType):
        return None
    members = [a for a in typing.get_args(typ) if a is not type(None)]
    if (
        len(members) == 1
        and isinstance(members[0], type)
        and issubclass(members[0], msgspec.Struct)
    ):
        return members[0]
    return None


class StructChecker:
    """Walks plain data against a Struct type and collects every Problem."""

    def __init__(self, file: str, lines: dict[Path_, int]):
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, suggestion: str | None = None) -> None:
        self.problems.append(
            Problem(self.file, line_for(self.lines, path), dotted(path), message, suggestion)
        )

    def field_hook(self, name: str, value: Any, path: Path_) -> None:
        """Called for every field present; subclasses add checks (secrets, ...)."""

    def struct(self, data: Any, typ: type[msgspec.Struct], path: Path_) -> None:
        """Check every field of ``data`` against ``typ``; report all, not the first."""
        if not isinstance(data, dict):
            self.add(path, f"expected a mapping, got {type(data).__name__}")
            return
        tag_field = typ.__struct_config__.tag_field
        fields = {f.encode_name: f for f in msgspec.structs.fields(typ)}
        for key in data:
            if key not in fields and key != tag_field:
                self.add((*path, key), "unknown key", closest(str(key), list(fields)))
        for name, info in fields.items():
            if name not in data:
                if info.required:
                    self.add((*path, name), "required key is missing")
                continue
            self.value(data[name], info.type, (*path, name))
            self.field_hook(name, data[name], (*path, name))

    def tagged(self, data: Any, variants: list[type[msgspec.Struct]], path: Path_) -> None:
        if not isinstance(data, dict):
            self.add(path, f"expected a mapping, got {type(data).__name__}")
            return
        tag_field = variants[0].__struct_config__.tag_field
        by_tag = {str(v.__struct_config__.tag): v for v in variants}
        tag = data.get(tag_field)
        if tag is None:
            self.add(
                (*path, str(tag_field)), f"required key is missing (one of: {', '.join(by_tag)})"
            )
            return
        chosen = by_tag.get(str(tag))
        if chosen is None:
            self.add(
                (*path, str(tag_field)),
                f"unknown {tag_field} {tag!r} (one of: {', '.join(by_tag)})",
                closest(str(tag), list(by_tag)),
            )
            return
        self.struct(data, chosen, path)

    def value(self, value: Any, typ: Any, path: Path_) -> None:
        origin = typing.get_origin(typ)
        args = typing.get_args(typ)
        if isinstance(typ, type) and issubclass(typ, msgspec.Struct):
            if typ.__struct_config__.tag_field is not None:
                self.tagged(value, [typ], path)
            else:
                self.struct(value, typ, path)
            return
        variants = _struct_variants(typ)
        if variants is not None:
            self.tagged(value, variants, path)
            return
        optional = _optional_struct(typ)
        if optional is not None and value is not None:
            self.value(value, optional, path)
            return
        if origin is dict and len(args) == 2 and isinstance(value, dict):
            for key, item in value.items():
                self.value(item, args[1], (*path, key))
            return
        if origin in (list, tuple) and args and isinstance(value, list):
            item_type = args[0]
            for i, item in enumerate(value):
                self.value(item, item_type, (*path, i))
            return
        try:
            msgspec.convert(value, typ)
        except msgspec.ValidationError as exc:
            message, sub = split_msgspec_error(exc)
            self.add((*path, *sub), message.rstrip(" -"))
