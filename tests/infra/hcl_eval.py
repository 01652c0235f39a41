"""Terraform expressions, as python-hcl2 writes them (`${...}` and quoted templates), evaluated
for given variable values: enough of the language for the checks that depend on a variable
(who is let in, which origins, which ingress), so that each is checked under every setting
rather than only the defaults.

What it knows: literals, lists, objects, `var.`/`local.`/`each.` references, indexes and
attributes, the operators, `cond ? a : b`, string templates, try() and a few functions
(FUNCTIONS).
A reference to a resource, a data source, a module or `path` is Unknown, which propagates.
As in Terraform, a failure (null in a template, a missing key) in the branch of a conditional
that is not taken does not count; anywhere else it raises EvalError, and so does anything this
reader does not know: a check never passes on an expression it could not read.

Long because it is one reader: tokens, precedence, templates and deferred failures make sense
only together."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class EvalError(Exception):
    pass


class _Unknown:
    """A value only known after apply (a resource's attribute, a module's output)."""

    def __repr__(self) -> str:
        return "Unknown"


Unknown = _Unknown()


@dataclass(frozen=True)
class _Failed:
    """An evaluation error, kept until it is known whether its value is used."""

    message: str


def _failed(*values: Any) -> _Failed | None:
    return next((v for v in values if isinstance(v, _Failed)), None)


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
    |(?P<string>")
    |(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||=>|[-+*/%<>!?:.,()\[\]{}=])
    )""",
    re.VERBOSE,
)
_UNKNOWN_ROOTS = {"module", "data", "path", "terraform", "self", "count"}


def _known(*values: Any) -> bool:
    return all(v is not Unknown for v in values)


def _join(sep: str, items: list[Any]) -> Any:
    return Unknown if not _known(*items) else sep.join(str(i) for i in items)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "length": lambda v: len(v),
    "concat": lambda *lists: [i for lst in lists for i in lst],
    "join": _join,
    "toset": lambda v: sorted(set(v), key=str) if _known(*v) else Unknown,
    "tolist": list,
    "compact": lambda v: [i for i in v if i not in (None, "")],
    "contains": lambda v, x: x in v,
    "keys": lambda m: sorted(m),
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "coalesce": lambda *v: next(i for i in v if i not in (None, "")),
    "tostring": lambda v: v if isinstance(v, str) else json.dumps(v),
    "max": max,
    "min": min,
}


@dataclass
class Scope:
    """What references resolve to: variable values, the raw locals (evaluated on first use),
    and `each` inside a for_each body."""

    variables: Mapping[str, Any]
    locals: Mapping[str, Any] = field(default_factory=dict)
    each: Mapping[str, Any] | None = None
    _done: dict[str, Any] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)

    def local(self, name: str) -> Any:
        if name in self._done:
            return self._done[name]
        if name not in self.locals:
            raise EvalError(f"no local.{name}")
        if name in self._busy:
            raise EvalError(f"local.{name} refers to itself")
        self._busy.add(name)
        try:
            self._done[name] = _lenient(self.locals[name], self)
        finally:
            self._busy.discard(name)
        return self._done[name]


def evaluate(value: Any, scope: Scope) -> Any:
    """A value as model.py holds it: a string is a template (a whole `${...}` keeps its
    value's type); lists and objects are evaluated item by item. Raises on any failure."""
    result = _lenient(value, scope)
    failure = _first_failure(result)
    if failure:
        raise EvalError(f"{failure.message} in {value!r}")
    return result


def _lenient(value: Any, scope: Scope) -> Any:
    """The same, failures kept as values (a local's unused part may fail)."""
    if isinstance(value, str):
        return _Parser(value, scope).template(whole=True)
    if isinstance(value, list):
        return [_lenient(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: _lenient(v, scope) for k, v in value.items()}
    return value


def _first_failure(value: Any) -> _Failed | None:
    if isinstance(value, _Failed):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((f for f in map(_first_failure, items) if f), None)


class _Parser:
    """Recursive descent over the text, evaluating as it goes."""

    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.pos = 0
        self.scope = scope

    # --- templates

    def template(self, *, whole: bool = False, quoted: bool = False) -> Any:
        parts: list[Any] = []
        literal: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if quoted and c == '"':
                self.pos += 1
                break
            if c == "\\":  # the text was a quoted HCL string, even at the top level
                escaped = self.text[self.pos + 1 : self.pos + 2]
                literal.append({"n": "\n", "t": "\t"}.get(escaped, escaped))
                self.pos += 2
            elif self.text.startswith("$${", self.pos):
                literal.append("${")
                self.pos += 3
            elif self.text.startswith("${", self.pos):
                if literal:
                    parts.append("".join(literal))
                    literal = []
                self.pos += 2
                parts.append(self.expression())
                self.expect("}")
            else:
                literal.append(c)
                self.pos += 1
        else:
            if quoted:
                raise EvalError(f"unterminated string in {self.text!r}")
        if literal:
            parts.append("".join(literal))
        if whole and len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]
        if whole and len(parts) == 1 and self.text.startswith("${"):
            return parts[0]
        failure = _failed(*parts)
        if failure:
            return failure
        if not _known(*parts):
            return Unknown
        texts = [p if isinstance(p, str) else _as_text(p) for p in parts]
        return _failed(*texts) or "".join(str(t) for t in texts)

    # --- tokens

    def peek(self) -> str | None:
        found = _TOKEN.match(self.text, self.pos)
        if not found or found.end() == found.start():
            return None
        return found.group(found.lastgroup or "")

    def take(self) -> tuple[str, str]:
        found = _TOKEN.match(self.text, self.pos)
        if not found:
            raise EvalError(f"cannot read {self.text[self.pos :]!r}")
        self.pos = found.end()
        return found.lastgroup or "", found.group(found.lastgroup or "")

    def accept(self, token: str) -> bool:
        if self.peek() == token:
            self.take()
            return True
        return False

    def expect(self, token: str) -> None:
        _, text = self.take()
        if text != token:
            raise EvalError(f"expected {token!r}, found {text!r} in {self.text!r}")

    # --- expressions, loosest first

    def expression(self) -> Any:
        condition = self.binary(0)
        if not self.accept("?"):
            return condition
        yes = self.expression()
        self.expect(":")
        no = self.expression()
        if condition is Unknown or isinstance(condition, _Failed):
            return condition
        if not isinstance(condition, bool):
            return _Failed(f"condition {condition!r} is not a bool")
        return yes if condition else no

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            _, op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.accept("!"):
            value = self.unary()
            return value if value is Unknown or isinstance(value, _Failed) else not value
        if self.accept("-"):
            value = self.unary()
            return value if value is Unknown or isinstance(value, _Failed) else -value
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            if self.accept("["):
                key = self.expression()
                self.expect("]")
                value = _index(value, key)
            elif self.peek() == "." and not self._number_follows():
                self.take()
                _, name = self.take()
                value = _index(value, name)
            else:
                return value

    def _number_follows(self) -> bool:
        rest = self.text[self.pos :].lstrip()
        return len(rest) > 1 and rest[1].isdigit()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return self.template(quoted=True)
        if text == "(":
            value = self.expression()
            self.expect(")")
            return value
        if text == "[":
            if self.peek() == "for":
                raise EvalError(f"for expressions are not read here: {self.text!r}")
            return self.items("]")
        if text == "{":
            return self.object()
        if kind != "name":
            raise EvalError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            return self.call(text, self.items(")"))
        return self.reference(text)

    def items(self, closing: str) -> list[Any]:
        values: list[Any] = []
        while not self.accept(closing):
            values.append(self.expression())
            if not self.accept(","):
                self.expect(closing)
                break
        return values

    def object(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        while not self.accept("}"):
            kind, key = self.take()
            if kind == "string":
                key = self.template(quoted=True)
            elif kind != "name":
                raise EvalError(f"object key {key!r} in {self.text!r}")
            if not (self.accept("=") or self.accept(":")):
                raise EvalError(f"object key {key!r} has no value in {self.text!r}")
            found[key] = self.expression()
            self.accept(",")
        return found

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "try":  # the first argument that evaluates (an unknown one does)
            return next((a for a in args if not isinstance(a, _Failed)), _Failed("try()"))
        if name not in FUNCTIONS:
            raise EvalError(f"function {name}() is not known here: {self.text!r}")
        failure = _failed(*args)
        if failure:
            return failure
        if not _known(*args) or any(isinstance(a, list) and not _known(*a) for a in args):
            return Unknown
        try:
            return FUNCTIONS[name](*args)
        except (TypeError, ValueError, StopIteration) as e:
            return _Failed(f"{name}(): {e}")

    def reference(self, root: str) -> Any:
        if root in _UNKNOWN_ROOTS or root.startswith(("google_", "archive_")):
            self._skip_traversal()
            return Unknown
        if root in ("var", "local", "each"):
            self.expect(".")
            _, name = self.take()
            if root == "var":
                if name not in self.scope.variables:
                    raise EvalError(f"no var.{name}")
                return self.scope.variables[name]
            if root == "local":
                return self.scope.local(name)
            if self.scope.each is None or name not in self.scope.each:
                raise EvalError(f"each.{name} outside a for_each")
            return self.scope.each[name]
        raise EvalError(f"unknown reference {root!r} in {self.text!r}")

    def _skip_traversal(self) -> None:
        while True:
            if self.peek() == ".":
                self.take()
                self.take()
            elif self.peek() == "[":
                self.take()
                self.expression()
                self.expect("]")
            else:
                return


def _as_text(value: Any) -> str | _Failed:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return _Failed("null in a string template")
    return str(value)


def _index(value: Any, key: Any) -> Any:
    failure = _failed(value, key)
    if failure:
        return failure
    if value is Unknown or key is Unknown:
        return Unknown
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        return _Failed(f"cannot index {value!r} with {key!r}")


def _apply(op: str, left: Any, right: Any) -> Any:
    failure = _failed(left, right)
    if failure:
        return failure
    if op == "||" and (left is True or right is True):
        return True
    if op == "&&" and (left is False or right is False):
        return False
    if not _known(left, right):
        return Unknown
    if op in ("||", "&&") and not (isinstance(left, bool) and isinstance(right, bool)):
        return _Failed(f"{op} of {left!r} and {right!r}")
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "||": lambda a, b: a or b,
        "&&": lambda a, b: a and b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    try:
        return operations[op](left, right)
    except TypeError as e:
        return _Failed(f"{left!r} {op} {right!r}: {e}")
