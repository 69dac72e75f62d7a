"""Display filters (``otwire inspect -Y EXPR``): a small Wireshark-like language over record fields.

A filter is tokenised and parsed by recursive descent into a predicate over a record's
mapping view (``{field: value}``, see :func:`otwire.inspect.fields.record_values`); nothing
is ever evaluated as Python. Grammar, loosest binding first::

    expr    := and ( ("or" | "||") and )*
    and     := not ( ("and" | "&&") not )*
    not     := ("not" | "!") not | primary
    primary := "(" expr ")" | FIELD [ test ]
    test    := CMP value | "in" "{" item ( [","] item )* "}" | "contains" STRING | "matches" STRING
    CMP     := "==" | "!=" | "<" | "<=" | ">" | ">=" | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
    item    := value | NUMBER ".." NUMBER
    value   := NUMBER | STRING | "true" | "false" | WORD

``NUMBER`` is decimal (``3``, ``-2.5``, ``1e3``) or hex (``0x1f``); ``STRING`` is in double
quotes with ``\\"`` and ``\\\\`` escapes; a bare ``WORD`` on the right of a comparison is a
string (``type == M_ME_NC_1``). A field alone is true when it is present and truthy.

Semantics: a field may occur several times in one record (every ``ioa`` of an ASDU); a
test is true when *any* occurrence passes it, and ``a != v`` is ``not (a == v)`` (no
occurrence equals ``v``). Numbers compare with numbers (booleans are 0 and 1), strings
with strings; a comparison between a number and a string is false. A missing field (or
``null``) has no occurrence, so every test on it is false. ``contains`` and ``matches``
(a :mod:`re` search) apply to string occurrences; comparisons are case-sensitive.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from otwire.errors import InvalidArgument

__all__ = ["FilterError", "Predicate", "compile_filter", "occurrences"]

#: A compiled filter: a record's mapping view -> whether the record passes.
Predicate = Callable[[Mapping[str, object]], bool]

#: Deepest nesting of parentheses and ``not`` accepted.
MAX_DEPTH: Final = 64
#: Longest filter accepted, in characters.
MAX_LENGTH: Final = 10_000


class FilterError(InvalidArgument):
    """A display filter cannot be parsed, or names an unknown field.

    Attributes:
        column: 1-based column of the offending character in the filter.
        reason: The message without the position.
    """

    def __init__(self, reason: str, column: int, expr: str = "") -> None:
        self.reason = reason
        self.column = column
        shown = f" in {expr!r}" if expr and len(expr) <= 200 else ""
        super().__init__(f"filter column {column}: {reason}{shown}")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string", "number", "op", "word", "range", "end"
    text: str
    column: int
    value: object = None


_TOKENS: Final = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\w|\.(?!\.)))
    |(?P<range>\.\.)
    |(?P<op>==|!=|<=|>=|&&|\|\||[<>!(){},])
    |(?P<word>[A-Za-z_](?:[\w:\-]|\.(?!\.))*)""",
    re.VERBOSE,
)
_ESCAPE: Final = re.compile(r"\\(.)")
_COMPARISONS: Final = {
    "==": "==", "eq": "==", "!=": "!=", "ne": "!=", "<": "<", "lt": "<",
    "<=": "<=", "le": "<=", ">": ">", "gt": ">", ">=": ">=", "ge": ">=",
}  # fmt: skip
_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "contains", "matches", "true", "false", *_COMPARISONS})


def _tokenise(expr: str) -> list[_Token]:
    """Split ``expr`` into tokens, ending with an ``end`` token.

    Raises:
        FilterError: A character starts no token, or a string is not closed.
    """
    tokens: list[_Token] = []
    at = 0
    while at < len(expr):
        match = _TOKENS.match(expr, at)
        if match is None:
            what = "unterminated string" if expr[at] == '"' else f"unexpected character {expr[at]!r}"
            if expr.startswith("=", at):
                what = "'=' is not an operator (use '==')"
            raise FilterError(what, at + 1, expr)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "string":
            tokens.append(_Token(kind, text, at + 1, _ESCAPE.sub(r"\1", text[1:-1])))
        elif kind == "number":
            tokens.append(_Token(kind, text, at + 1, _number(text)))
        elif kind != "ws":
            tokens.append(_Token(kind, text, at + 1))
        at = match.end()
    tokens.append(_Token("end", "", len(expr) + 1))
    return tokens


def _number(text: str) -> int | float:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body[:2].lower() == "0x":
        return sign * int(body, 16)
    if any(c in body for c in ".eE"):
        return sign * float(body)
    return sign * int(body)


def compile_filter(expr: str, keys: Mapping[str, type] | None = None) -> Predicate:
    """Compile a display filter into a predicate over a record's mapping view.

    Example::

        passes = compile_filter('type == "M_ME_NC_1" and ioa in {1300 1301}')
        passes({"type": "M_ME_NC_1", "ioa": [1300, 7]})  # True

    Args:
        expr: The filter (grammar and semantics in the module docstring).
        keys: The known fields and their value types (``int``, ``float``, ``str``,
            ``bool``; ``object`` for any). When given, an unknown field, or a literal of
            the wrong type for a field (``ioa == "x"``), is an error.

    Returns:
        ``predicate(values) -> bool``; ``values`` maps field names to a value, a list of
        values (several occurrences) or ``None`` (absent).

    Raises:
        FilterError: The filter is empty, too long or too deeply nested, has a syntax
            error, an invalid regular expression, or names an unknown field; its
            ``column`` points at the offending character (1-based).
    """
    if not expr.strip():
        raise FilterError("empty filter", 1)
    if len(expr) > MAX_LENGTH:
        raise FilterError(f"filter longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    parser = _Parser(expr, _tokenise(expr), keys)
    predicate = parser.expression(0)
    parser.expect_end()
    return predicate


def occurrences(values: Mapping[str, object], name: str) -> list[object]:
    """Return the occurrences of field ``name`` in a mapping view (``[]`` when absent or ``None``)."""
    value = values.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for v in _flat(value) if v is not None]
    return [value]


def _flat(items: list[object] | tuple[object, ...]) -> Iterator[object]:
    for item in items:
        if isinstance(item, list | tuple):
            yield from _flat(item)
        else:
            yield item


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)


def _same_kind(a: object, b: object) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def _equal(value: object, literal: object) -> bool:
    return _same_kind(value, literal) and value == literal


_ORDER: Final[dict[str, Callable[[object, object], bool]]] = {
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


class _Parser:
    """Recursive descent over the token list; every method returns a predicate."""

    def __init__(self, expr: str, tokens: list[_Token], keys: Mapping[str, type] | None) -> None:
        self._expr = expr
        self._tokens = tokens
        self._at = 0
        self._keys = keys

    # -- token helpers ----------------------------------------------------------------

    @property
    def _next(self) -> _Token:
        return self._tokens[self._at]

    def _take(self) -> _Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _is(self, *texts: str) -> bool:
        token = self._next
        return token.kind in ("op", "word", "range") and token.text in texts

    def _error(self, reason: str, token: _Token | None = None) -> FilterError:
        return FilterError(reason, (token or self._next).column, self._expr)

    def _describe(self, token: _Token) -> str:
        return "the end of the filter" if token.kind == "end" else repr(token.text)

    def expect_end(self) -> None:
        if self._next.kind != "end":
            raise self._error(f"expected 'and', 'or' or the end, not {self._describe(self._next)}")

    # -- grammar ----------------------------------------------------------------------

    def expression(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise self._error(f"nested deeper than {MAX_DEPTH}")
        parts = [self._conjunction(depth)]
        while self._is("or", "||"):
            self._take()
            parts.append(self._conjunction(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda values: any(p(values) for p in parts)

    def _conjunction(self, depth: int) -> Predicate:
        parts = [self._negation(depth)]
        while self._is("and", "&&"):
            self._take()
            parts.append(self._negation(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda values: all(p(values) for p in parts)

    def _negation(self, depth: int) -> Predicate:
        if self._is("not", "!"):
            self._take()
            if depth + 1 > MAX_DEPTH:
                raise self._error(f"nested deeper than {MAX_DEPTH}")
            inner = self._negation(depth + 1)
            return lambda values: not inner(values)
        return self._primary(depth)

    def _primary(self, depth: int) -> Predicate:
        token = self._next
        if self._is("("):
            self._take()
            inner = self.expression(depth + 1)
            if not self._is(")"):
                raise self._error(f"expected ')' to close the '(' at column {token.column}")
            self._take()
            return inner
        if token.kind != "word" or token.text in _KEYWORDS:
            raise self._error(f"expected a field name, not {self._describe(token)}")
        self._take()
        name = self._field(token)
        return self._test(name, token)

    def _field(self, token: _Token) -> str:
        name = token.text
        if self._keys is not None and name not in self._keys:
            close = difflib.get_close_matches(name, list(self._keys), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self._error(f"unknown field {name!r}{hint}", token)
        return name

    def _test(self, name: str, field: _Token) -> Predicate:
        token = self._next
        if token.text in _COMPARISONS and token.kind in ("op", "word"):
            self._take()
            return self._comparison(name, _COMPARISONS[token.text], self._value(name))
        if self._is("in"):
            self._take()
            return self._membership(name)
        if self._is("contains", "matches"):
            self._take()
            literal = self._value(name, text_only=True)
            assert isinstance(literal, str)
            if token.text == "contains":
                return lambda values: any(isinstance(v, str) and literal in v for v in occurrences(values, name))
            return self._regex(name, literal)
        return lambda values: any(bool(v) for v in occurrences(values, name))

    def _comparison(self, name: str, op: str, literal: object) -> Predicate:
        if op == "==":
            return lambda values: any(_equal(v, literal) for v in occurrences(values, name))
        if op == "!=":
            return lambda values: not any(_equal(v, literal) for v in occurrences(values, name))
        order = _ORDER[op]
        return lambda values: any(_same_kind(v, literal) and order(v, literal) for v in occurrences(values, name))

    def _regex(self, name: str, pattern: str) -> Predicate:
        token = self._tokens[self._at - 1]
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise self._error(f"bad regular expression: {exc}", token) from None
        return lambda values: any(isinstance(v, str) and compiled.search(v) for v in occurrences(values, name))

    def _membership(self, name: str) -> Predicate:
        opening = self._next
        if not self._is("{"):
            raise self._error(f"expected '{{' after 'in', not {self._describe(opening)}")
        self._take()
        singles: list[object] = []
        ranges: list[tuple[object, object]] = []
        while not self._is("}"):
            if self._next.kind == "end":
                raise self._error(f"expected '}}' to close the '{{' at column {opening.column}")
            first = self._next
            low = self._value(name)
            if self._is(".."):
                self._take()
                high = self._value(name)
                if not (_is_number(low) and _is_number(high)):
                    raise self._error("a range 'a..b' needs two numbers", first)
                ranges.append((low, high))
            else:
                singles.append(low)
            if self._is(","):
                self._take()
        self._take()
        if not singles and not ranges:
            raise self._error("empty set", opening)

        def member(v: object) -> bool:
            if any(_equal(v, s) for s in singles):
                return True
            return _is_number(v) and any(lo <= v <= hi for lo, hi in ranges)  # type: ignore[operator]

        return lambda values: any(member(v) for v in occurrences(values, name))

    def _value(self, name: str, *, text_only: bool = False) -> object:
        token = self._take()
        value: object
        if token.kind in ("string", "number"):
            value = token.value
        elif token.kind == "word" and token.text in ("true", "false"):
            value = token.text == "true"
        elif token.kind == "word" and token.text not in _KEYWORDS:
            value = token.text
        else:
            raise self._error(f"expected a value, not {self._describe(token)}", token)
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error("numbers must be finite", token)
        if text_only and not isinstance(value, str):
            raise self._error(f"expected a string, not {token.text!r}", token)
        self._check_type(name, value, token)
        return value

    def _check_type(self, name: str, value: object, token: _Token) -> None:
        if self._keys is None:
            return
        expected = self._keys.get(name, object)
        numeric = expected in (int, float, bool)
        if numeric and isinstance(value, str):
            raise self._error(f"{name} is a number, {token.text} is not", token)
        if expected is str and _is_number(value):
            raise self._error(f"{name} is a string, {token.text} is not (quote it)", token)
