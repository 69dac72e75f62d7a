"""Display filters: parsing, errors with columns, and a random filter equal to the same predicate in Python."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.errors import InvalidArgument
from otwire.inspect.filter import MAX_DEPTH, FilterError, compile_filter

RECORD: dict[str, object] = {
    "type": "M_ME_NC_1",
    "common_address": 3,
    "ioa": [1300, 7],
    "cot": 3,
    "event_name": "room temperature",
    "negative": False,
    "raw_information": None,
    "value": 21.5,
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('type == "M_ME_NC_1" and common_address == 3', True),
        ("type == M_ME_NC_1", True),
        ("type eq M_SP_NA_1 or cot ne 3", False),
        ("ioa in {1300 1301}", True),
        ("ioa in {1301, 1302}", False),
        ("ioa in {1..10}", True),
        ("ioa == 7 && ioa == 1300", True),  # any occurrence
        ("ioa != 7", False),
        ("cot != 3", False),
        ('event_name contains "temp"', True),
        ('event_name contains "Temp"', False),
        ('event_name matches "^room t"', True),
        ("value > 21 and value <= 21.5 and value >= 21.5 and value < 22", True),
        ("common_address == 0x03", True),
        ("not negative", True),
        ("!negative && negative == false && negative == 0", True),
        ("raw_information", False),
        ("not raw_information", True),
        ("missing_field == 1 or missing_field != 1", True),
        ("(cot == 1 || cot == 3) && !(type == x)", True),
        ('type == 3 or cot == "3"', False),  # a number never equals a string
    ],
)
def test_filters_on_one_record(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(RECORD) is expected


@pytest.mark.parametrize(
    ("expr", "column", "words"),
    [
        ("type = 3", 6, "'=='"),
        ("type == ", 9, "expected a value"),
        ("(cot == 3", 10, "close the '(' at column 1"),
        ("ioa in {1 2", 12, "close the '{'"),
        ("ioa in 1", 8, "expected '{'"),
        ('"x" == 3', 1, "expected a field name"),
        ("cot == 3 3", 10, "expected 'and', 'or'"),
        ('event_name matches "("', 20, "bad regular expression"),
        ("ioa in {}", 8, "empty set"),
        ('type == "open', 9, "unterminated string"),
        ("cot == 3 and", 13, "expected a field name"),
        ("cot # 3", 5, "unexpected character"),
        ("ioa in {a..3}", 9, "two numbers"),
        ("   ", 1, "empty filter"),
    ],
)
def test_bad_filters_point_at_the_column(expr: str, column: int, words: str) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(expr)
    assert info.value.column == column
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, InvalidArgument) and isinstance(info.value, ValueError)


def test_known_keys_make_unknown_fields_and_wrong_literals_errors() -> None:
    keys = {"type": str, "cot": int, "ioa": int, "value": object}
    with pytest.raises(FilterError, match="unknown field 'typ' \\(did you mean 'type'\\?\\)") as info:
        compile_filter("cot == 3 and typ == 3", keys)
    assert info.value.column == 14
    with pytest.raises(FilterError, match="cot is a number"):
        compile_filter('cot == "x"', keys)
    with pytest.raises(FilterError, match="type is a string"):
        compile_filter("type == 13", keys)
    assert compile_filter('value == "x" or value == 3', keys)({"value": 3})


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(FilterError, match="nested deeper"):
        compile_filter("(" * (MAX_DEPTH + 2) + "cot" + ")" * (MAX_DEPTH + 2))
    with pytest.raises(FilterError, match="nested deeper"):
        compile_filter("not " * (MAX_DEPTH + 2) + "cot")
    assert compile_filter("(" * 10 + "cot" + ")" * 10)({"cot": 1})


# -- random filters against the same predicate written in Python ---------------------------

FIELDS = ("a", "b", "c")
_ints = st.integers(-3, 3)
_texts = st.text("xyz", max_size=3)
_scalars = st.one_of(_ints, _texts, st.booleans(), st.floats(-3, 3, allow_nan=False))
_values = st.one_of(st.none(), _scalars, st.lists(st.one_of(_ints, _texts), max_size=3))
records = st.dictionaries(st.sampled_from(FIELDS), _values)
_literals = st.one_of(_ints, _texts, st.booleans())
_pairs = st.tuples(_ints, _ints)

Node = tuple[Any, ...]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _atoms() -> st.SearchStrategy[Node]:
    field = st.sampled_from(FIELDS)
    return st.one_of(
        st.tuples(st.just("cmp"), field, st.sampled_from(sorted(_OPS)), _literals),
        st.tuples(
            st.just("in"),
            field,
            st.lists(_literals, min_size=1, max_size=3),
            st.lists(st.tuples(_ints, _ints), max_size=2),
        ),
        st.tuples(st.just("contains"), field, _texts),
        st.tuples(st.just("bare"), field),
    )


trees = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=8,
)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def render(node: Node) -> str:
    match node:
        case ("cmp", f, op, lit):
            return f"{f} {op} {_literal(lit)}"
        case ("in", f, singles, ranges):
            items = [_literal(s) for s in singles] + [f"{lo}..{hi}" for lo, hi in ranges]
            return f"{f} in {{{' '.join(items)}}}"
        case ("contains", f, text):
            return f"{f} contains {_literal(text)}"
        case ("bare", f):
            return f
        case ("not", inner):
            return f"!({render(inner)})"
        case (("and" | "or") as op, left, right):
            return f"({render(left)}) {op} ({render(right)})"
    raise AssertionError(node)


def _occurrences(record: Mapping[str, object], field: str) -> list[object]:
    value = record.get(field)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _comparable(a: object, b: object) -> bool:
    numeric = (int, float)
    return (isinstance(a, numeric) and isinstance(b, numeric)) or (isinstance(a, str) and isinstance(b, str))


def evaluate(node: Node, record: Mapping[str, object]) -> bool:
    match node:
        case ("cmp", f, "!=", lit):
            return not evaluate(("cmp", f, "==", lit), record)
        case ("cmp", f, op, lit):
            return any(_comparable(v, lit) and _OPS[op](v, lit) for v in _occurrences(record, f))
        case ("in", f, singles, ranges):
            return any(
                any(_comparable(v, s) and v == s for s in singles)
                or (isinstance(v, int | float) and any(lo <= v <= hi for lo, hi in ranges))
                for v in _occurrences(record, f)
            )
        case ("contains", f, text):
            return any(isinstance(v, str) and text in v for v in _occurrences(record, f))
        case ("bare", f):
            return any(bool(v) for v in _occurrences(record, f))
        case ("not", inner):
            return not evaluate(inner, record)
        case ("and", left, right):
            return evaluate(left, record) and evaluate(right, record)
        case ("or", left, right):
            return evaluate(left, record) or evaluate(right, record)
    raise AssertionError(node)


@given(trees, st.lists(records, min_size=1, max_size=5))
def test_random_filter_equals_the_predicate_in_python(tree: Node, batch: list[dict[str, object]]) -> None:
    predicate = compile_filter(render(tree))
    for record in batch:
        assert predicate(record) == evaluate(tree, record), (render(tree), record)


_PIECES = st.sampled_from(
    ["a", "b", "==", "!=", "<", ">=", "in", "{", "}", "(", ")", "and", "or", "not", "!", "&&", "||", "contains",
     "matches", '"x"', '"(', "1", "-2.5", "0x1f", "..", ",", "true", "=", "#", " "]
)  # fmt: skip


@given(st.one_of(st.text(max_size=40), st.lists(_PIECES, max_size=12).map(" ".join)))
def test_any_text_compiles_or_raises_filter_error(text: str) -> None:
    try:
        predicate = compile_filter(text, {"a": int, "b": str})
    except FilterError as exc:
        assert 1 <= exc.column <= len(text) + 1 and "\n" not in str(exc)
        return
    assert predicate({"a": [1, 2], "b": "x"}) in (True, False)
