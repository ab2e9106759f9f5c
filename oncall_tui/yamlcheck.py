"""Strict YAML documents with errors a tired person can act on.

Shared by the config file (``config.py``) and runbooks (``runbook/format.py``):
``yaml.safe_load`` for the data, ``yaml.compose`` once more for line numbers,
then a walk over the msgspec Struct type that reports EVERY problem (file,
line, dotted key, closest valid key) rather than the first. Tagged unions of
Structs (msgspec ``tag_field``) are checked against the variant their tag
names; the final conversion is still ``msgspec.convert`` with unknown fields
forbidden, so the walk can only add detail, never let anything through.
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

Path_ = tuple[str | int, ...]


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


def line_map(text: str) -> dict[Path_, int]:
    """Map each key path in the YAML document to its 1-based line."""
    lines: dict[Path_, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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
