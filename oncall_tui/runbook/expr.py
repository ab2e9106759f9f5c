"""The runbook expression language: small, total, and safe by construction.

Runbook checks and decisions say things like::

    primary_share >= default(tier_slo, 0.9)
    max(providers.refusal_rate) > 2 * max(providers.refusal_baseline)
    not checks.errors.passed and answer == "yes"

It is a tokenizer and a Pratt parser of our own, evaluated by walking the
tree: there is no ``eval``, no attribute access on Python objects (values are
plain JSON data: null, bool, numbers, strings, lists, maps), no loops, and
only the functions in ``FUNCTIONS``. Input length and tree depth are capped,
so parsing and evaluation finish in time linear in the text and the data.
Every failure is an ``ExprError`` with the column it happened at.

Semantics worth knowing:
- ``a.b`` on a map reads key ``b`` (a missing key is an error naming the
  closest one); on a list it projects: ``providers.refusal_rate`` is the list
  of each provider's refusal rate.
- ``null`` means unknown: ordering or arithmetic with it is an error (the
  check shows "error", never a silent pass); aggregates (max, min, sum, avg)
  skip nulls; ``default(x, d)`` supplies a value.
- ``and``/``or`` short-circuit and give booleans by truthiness.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from oncall_tui.errors import DataError

MAX_LENGTH = 2000
MAX_DEPTH = 48


class ExprError(DataError):
    """An expression that does not parse, or cannot be evaluated on this data."""


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num | str | name | op | eof
    value: Any
    pos: int


KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_OPS2 = {"==", "!=", "<=", ">="}
_OPS1 = set("+-*/%<>()[],.")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c.isascii() and (c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit())):
            j = i
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            is_float = False
            if j < n and text[j] == ".":
                is_float = True
                j += 1
                while j < n and text[j].isascii() and text[j].isdigit():
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isascii() and text[k].isdigit():
                    is_float = True
                    j = k
                    while j < n and text[j].isascii() and text[j].isdigit():
                        j += 1
            raw = text[i:j]
            try:
                value: Any = float(raw) if is_float else int(raw)
            except ValueError as exc:  # e.g. more digits than int() converts
                raise ExprError(f"bad number at column {i + 1}") from exc
            tokens.append(Token("num", value, i))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            out: list[str] = []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            if j >= n:
                raise ExprError(f"unterminated string starting at column {i + 1}")
            tokens.append(Token("str", "".join(out), i))
            i = j + 1
            continue
        if c.isascii() and (c.isalpha() or c == "_"):
            j = i
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            tokens.append(Token("op" if word in KEYWORDS else "name", word, i))
            i = j
            continue
        if text[i : i + 2] in _OPS2:
            tokens.append(Token("op", text[i : i + 2], i))
            i += 2
            continue
        if c in _OPS1:
            tokens.append(Token("op", c, i))
            i += 1
            continue
        raise ExprError(f"unexpected character {c!r} at column {i + 1}")
    tokens.append(Token("eof", None, n))
    return tokens


# ---------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class Node:
    op: str  # const | name | attr | index | call | neg | not | list | and | or | <binary op>
    args: tuple[Any, ...]
    pos: int
    depth: int


def _node(op: str, args: tuple[Any, ...], pos: int, children: tuple[Node, ...] = ()) -> Node:
    depth = 1 + max((c.depth for c in children), default=0)
    if depth > MAX_DEPTH:
        raise ExprError(f"expression nested deeper than {MAX_DEPTH} at column {pos + 1}")
    return Node(op, args, pos, depth)


_BINARY = {
    "or": 10,
    "and": 20,
    "==": 40,
    "!=": 40,
    "<": 40,
    "<=": 40,
    ">": 40,
    ">=": 40,
    "in": 40,
    "+": 50,
    "-": 50,
    "*": 60,
    "/": 60,
    "%": 60,
}
_PREFIX_NOT = 30
_PREFIX_NEG = 70
_POSTFIX = 80


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def expect(self, value: str) -> Token:
        tok = self.take()
        if tok.kind != "op" or tok.value != value:
            raise ExprError(f"expected {value!r} at column {tok.pos + 1}, found {_show(tok)}")
        return tok

    def expression(self, min_bp: int = 0) -> Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH}")
        try:
            left = self.prefix()
            while True:
                tok = self.peek()
                if tok.kind == "op" and tok.value in (".", "[", "("):
                    left = self.postfix(left)
                    continue
                if tok.kind != "op" or tok.value not in _BINARY:
                    break
                bp = _BINARY[tok.value]
                if bp <= min_bp:
                    break
                self.take()
                right = self.expression(bp)
                left = _node(tok.value, (left, right), tok.pos, (left, right))
            return left
        finally:
            self.nesting -= 1

    def prefix(self) -> Node:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return _node("const", (tok.value,), tok.pos)
        if tok.kind == "name":
            return _node("name", (tok.value,), tok.pos)
        if tok.kind == "op":
            if tok.value in ("true", "false", "null"):
                value = {"true": True, "false": False, "null": None}[tok.value]
                return _node("const", (value,), tok.pos)
            if tok.value == "not":
                operand = self.expression(_PREFIX_NOT)
                return _node("not", (operand,), tok.pos, (operand,))
            if tok.value == "-":
                operand = self.expression(_PREFIX_NEG)
                return _node("neg", (operand,), tok.pos, (operand,))
            if tok.value == "(":
                inner = self.expression()
                self.expect(")")
                return inner
            if tok.value == "[":
                items = self.items("]")
                return _node("list", tuple(items), tok.pos, tuple(items))
        raise ExprError(f"unexpected {_show(tok)} at column {tok.pos + 1}")

    def postfix(self, left: Node) -> Node:
        tok = self.take()
        if tok.value == ".":
            name = self.take()
            if name.kind != "name":
                raise ExprError(f"expected a field name after '.' at column {name.pos + 1}")
            return _node("attr", (left, name.value), tok.pos, (left,))
        if tok.value == "[":
            index = self.expression()
            self.expect("]")
            return _node("index", (left, index), tok.pos, (left, index))
        # "(": only a bare whitelisted function name may be called
        if left.op != "name":
            raise ExprError(f"only functions can be called (column {tok.pos + 1})")
        fname = left.args[0]
        if fname not in FUNCTIONS:
            hint = _closest(fname, list(FUNCTIONS))
            raise ExprError(
                f"unknown function {fname!r} at column {left.pos + 1}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
        args = self.items(")")
        return _node("call", (fname, *args), left.pos, tuple(args))

    def items(self, closer: str) -> list[Node]:
        out: list[Node] = []
        if self.peek().kind == "op" and self.peek().value == closer:
            self.take()
            return out
        while True:
            out.append(self.expression())
            tok = self.take()
            if tok.kind == "op" and tok.value == closer:
                return out
            if tok.kind != "op" or tok.value != ",":
                raise ExprError(f"expected ',' or {closer!r} at column {tok.pos + 1}")


def _show(tok: Token) -> str:
    return "end of expression" if tok.kind == "eof" else repr(tok.value)


def parse(text: str) -> Node:
    parser = _Parser(text)
    if parser.peek().kind == "eof":
        raise ExprError("empty expression")
    tree = parser.expression()
    tok = parser.peek()
    if tok.kind != "eof":
        raise ExprError(f"unexpected {_show(tok)} at column {tok.pos + 1}")
    return tree


def _walk(tree: Node) -> Iterator[Node]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(a for a in node.args if isinstance(a, Node))


def references(tree: Node, root: str) -> set[str]:
    """Field names read directly under a top-level name: ``checks.X`` -> {"X"}."""
    out: set[str] = set()
    for node in _walk(tree):
        if node.op == "attr":
            base, field = node.args
            if base.op == "name" and base.args[0] == root:
                out.add(field)
    return out


def names(tree: Node) -> set[str]:
    """Top-level names an expression reads (functions excluded)."""
    return {n.args[0] for n in _walk(tree) if n.op == "name"}


# ---------------------------------------------------------------- evaluation


def _closest(name: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return match[0] if match else None


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any, what: str) -> float | int:
    if value is None:
        raise ExprError(f"{what} is unknown (null)")
    if not _is_num(value):
        raise ExprError(f"{what} needs a number, got {_type(value)}")
    result: float | int = value
    return result


def _list(value: Any, fname: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise ExprError(f"{fname}() needs a list, got {_type(value)}")


def _numbers(args: list[Any], fname: str) -> list[float | int]:
    values = _list(args[0], fname) if len(args) == 1 else args
    known = [v for v in values if v is not None]
    for v in known:
        if not _is_num(v):
            raise ExprError(f"{fname}() needs numbers, got {_type(v)}")
    return known


def _fn_max(args: list[Any]) -> Any:
    nums = _numbers(args, "max")
    if not nums:
        raise ExprError("max() of nothing known")
    return max(nums)


def _fn_min(args: list[Any]) -> Any:
    nums = _numbers(args, "min")
    if not nums:
        raise ExprError("min() of nothing known")
    return min(nums)


def _fn_sum(args: list[Any]) -> Any:
    return sum(_numbers(args, "sum"))


def _fn_avg(args: list[Any]) -> Any:
    nums = _numbers(args, "avg")
    if not nums:
        raise ExprError("avg() of nothing known")
    return sum(nums) / len(nums)


def _fn_len(args: list[Any]) -> Any:
    _arity(args, 1, "len")
    if isinstance(args[0], list | tuple | dict | str):
        return len(args[0])
    raise ExprError(f"len() needs a list, map or string, got {_type(args[0])}")


def _fn_abs(args: list[Any]) -> Any:
    _arity(args, 1, "abs")
    return abs(_num(args[0], "abs()"))


def _fn_round(args: list[Any]) -> Any:
    if len(args) not in (1, 2):
        raise ExprError("round() takes a number and optional digits")
    digits = 0 if len(args) == 1 else _num(args[1], "round() digits")
    if not isinstance(digits, int) or not 0 <= digits <= 10:
        raise ExprError("round() digits must be a whole number from 0 to 10")
    return round(_num(args[0], "round()"), digits)


def _fn_any(args: list[Any]) -> Any:
    _arity(args, 1, "any")
    return any(_truthy(v) for v in _list(args[0], "any"))


def _fn_all(args: list[Any]) -> Any:
    _arity(args, 1, "all")
    return all(_truthy(v) for v in _list(args[0], "all"))


def _fn_count(args: list[Any]) -> Any:
    """count(list) counts truthy items; count(list, x) counts items equal to x."""
    if len(args) not in (1, 2):
        raise ExprError("count() takes a list and an optional value")
    items = _list(args[0], "count")
    if len(args) == 1:
        return sum(1 for v in items if _truthy(v))
    return sum(1 for v in items if _equal(v, args[1]))


def _fn_default(args: list[Any]) -> Any:
    _arity(args, 2, "default")
    return args[1] if args[0] is None else args[0]


def _fn_get(args: list[Any]) -> Any:
    """get(map, key, fallback): a key that may be absent."""
    if len(args) not in (2, 3):
        raise ExprError("get() takes a map, a key and an optional fallback")
    container, key = args[0], args[1]
    fallback = args[2] if len(args) == 3 else None
    if isinstance(container, dict):
        if not isinstance(key, str):
            raise ExprError("get() key must be a string")
        return container.get(key, fallback)
    raise ExprError(f"get() needs a map, got {_type(container)}")


def _fn_where(args: list[Any]) -> Any:
    """where(list, field, value): the maps in list whose field equals value."""
    _arity(args, 3, "where")
    items, field, value = _list(args[0], "where"), args[1], args[2]
    if not isinstance(field, str):
        raise ExprError("where() field must be a string")
    return [i for i in items if isinstance(i, dict) and _equal(i.get(field), value)]


def _fn_first(args: list[Any]) -> Any:
    """first(list): its first item, or null when empty."""
    _arity(args, 1, "first")
    items = _list(args[0], "first")
    return items[0] if items else None


def _fn_lower(args: list[Any]) -> Any:
    _arity(args, 1, "lower")
    if not isinstance(args[0], str):
        raise ExprError(f"lower() needs a string, got {_type(args[0])}")
    return args[0].lower()


def _arity(args: list[Any], n: int, fname: str) -> None:
    if len(args) != n:
        raise ExprError(f"{fname}() takes {n} argument{'s' if n != 1 else ''}, got {len(args)}")


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "max": _fn_max,
    "min": _fn_min,
    "sum": _fn_sum,
    "avg": _fn_avg,
    "len": _fn_len,
    "abs": _fn_abs,
    "round": _fn_round,
    "any": _fn_any,
    "all": _fn_all,
    "count": _fn_count,
    "default": _fn_default,
    "get": _fn_get,
    "where": _fn_where,
    "first": _fn_first,
    "lower": _fn_lower,
}


def _truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _equal(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if type(a) is not type(b) and not (isinstance(a, list | tuple) and isinstance(b, list | tuple)):
        return False
    try:
        return bool(a == b)
    except RecursionError as exc:  # pragma: no cover - data is JSON, not self-referential
        raise ExprError("value too deeply nested to compare") from exc


def _compare(op: str, a: Any, b: Any, pos: int) -> bool:
    if a is None or b is None:
        raise ExprError(f"cannot compare with an unknown (null) value at column {pos + 1}")
    comparable = (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))
    if not comparable:
        raise ExprError(f"cannot order {_type(a)} and {_type(b)} at column {pos + 1}")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _arith(op: str, a: Any, b: Any, pos: int) -> Any:
    where = f"'{op}' at column {pos + 1}"
    x, y = _num(a, f"left of {where}"), _num(b, f"right of {where}")
    try:
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if y == 0:
            raise ExprError(f"division by zero at column {pos + 1}")
        if op == "/":
            return x / y
        return x % y
    except (ArithmeticError, ValueError) as exc:  # e.g. a huge int that no float can hold
        raise ExprError(f"arithmetic failed at column {pos + 1}: {exc}") from exc


def _field(value: Any, name: str, pos: int) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        hint = _closest(name, [str(k) for k in value])
        raise ExprError(
            f"no field {name!r} at column {pos + 1}"
            + (f" (did you mean {hint!r}?)" if hint else "")
        )
    if isinstance(value, list | tuple):
        return [_field(item, name, pos) for item in value]
    raise ExprError(f"cannot read field {name!r} of {_type(value)} at column {pos + 1}")


def _index(value: Any, key: Any, pos: int) -> Any:
    if isinstance(value, list | tuple):
        if not _is_num(key) or not isinstance(key, int):
            raise ExprError(f"list index must be a whole number at column {pos + 1}")
        if not -len(value) <= key < len(value):
            raise ExprError(f"index {key} out of range (length {len(value)}) at column {pos + 1}")
        return value[key]
    if isinstance(value, dict):
        if not isinstance(key, str):
            raise ExprError(f"map key must be a string at column {pos + 1}")
        return _field(value, key, pos)
    raise ExprError(f"cannot index {_type(value)} at column {pos + 1}")


def evaluate(tree: Node, env: dict[str, Any]) -> Any:
    """Evaluate a parsed expression against plain data. Recursion is bounded by
    ``MAX_DEPTH`` (checked when the tree was built)."""
    op, args, pos = tree.op, tree.args, tree.pos
    if op == "const":
        return args[0]
    if op == "name":
        name = args[0]
        if name in env:
            return env[name]
        hint = _closest(name, list(env))
        raise ExprError(
            f"unknown name {name!r} at column {pos + 1}"
            + (f" (did you mean {hint!r}?)" if hint else "")
        )
    if op == "attr":
        return _field(evaluate(args[0], env), args[1], pos)
    if op == "index":
        return _index(evaluate(args[0], env), evaluate(args[1], env), pos)
    if op == "call":
        values = [evaluate(a, env) for a in args[1:]]
        return FUNCTIONS[args[0]](values)
    if op == "list":
        return [evaluate(a, env) for a in args]
    if op == "not":
        return not _truthy(evaluate(args[0], env))
    if op == "neg":
        value = _num(evaluate(args[0], env), f"'-' at column {pos + 1}")
        return -value
    if op == "and":
        return _truthy(evaluate(args[0], env)) and _truthy(evaluate(args[1], env))
    if op == "or":
        return _truthy(evaluate(args[0], env)) or _truthy(evaluate(args[1], env))
    left, right = evaluate(args[0], env), evaluate(args[1], env)
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        if isinstance(right, list | tuple):
            return any(_equal(left, v) for v in right)
        if isinstance(right, dict):
            return isinstance(left, str) and left in right
        if isinstance(right, str) and isinstance(left, str):
            return left in right
        raise ExprError(f"'in' needs a list, map or string on its right at column {pos + 1}")
    if op in ("<", "<=", ">", ">="):
        return _compare(op, left, right, pos)
    return _arith(op, left, right, pos)


def run(text: str, env: dict[str, Any]) -> Any:
    return evaluate(parse(text), env)
