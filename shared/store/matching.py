"""Firestore's query semantics in Python, for the embedded store: filters, ordering, types."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.store.base import Document, Filter, Order

_MISSING = object()

# Firestore orders values of different types by type: null < bool < number < timestamp < string
# < array < map. Filters only match values of the filter value's type class.
_RANK_NULL, _RANK_BOOL, _RANK_NUMBER, _RANK_TIME, _RANK_STRING, _RANK_ARRAY, _RANK_MAP = range(7)


def type_rank(value: Any) -> int:
    if value is None:
        return _RANK_NULL
    if isinstance(value, bool):
        return _RANK_BOOL
    if isinstance(value, int | float):
        return _RANK_NUMBER
    if isinstance(value, datetime):
        return _RANK_TIME
    if isinstance(value, str):
        return _RANK_STRING
    if isinstance(value, list | tuple):
        return _RANK_ARRAY
    return _RANK_MAP


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """A field by dotted path, or _MISSING."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def compare(a: Any, b: Any) -> int:
    """Total order over Firestore values."""
    ra, rb = type_rank(a), type_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == _RANK_ARRAY:
        for x, y in zip(a, b, strict=False):
            c = compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == _RANK_MAP:
        return compare(sorted(a.items()), sorted(b.items()))
    if ra == _RANK_NULL:
        return 0
    return int(a > b) - int(a < b)


def equal(a: Any, b: Any) -> bool:
    return type_rank(a) == type_rank(b) and compare(a, b) == 0


def matches(data: Mapping[str, Any], f: Filter) -> bool:
    value = lookup(data, f.field)
    if value is _MISSING:
        return False
    if f.op == "==":
        return equal(value, f.value)
    if f.op == "in":
        return any(equal(value, v) for v in f.value)
    if f.op == "array-contains":
        return isinstance(value, list | tuple) and any(equal(v, f.value) for v in value)
    if type_rank(value) != type_rank(f.value) or value is None:
        return False
    c = compare(value, f.value)
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[f.op]


_INEQUALITIES = ("<", "<=", ">", ">=")


def effective_order(where: Sequence[Filter], order_by: Sequence[Order]) -> list[Order]:
    """Firestore's order: order_by, then inequality fields not in it, by name, same direction."""
    ordered = {o.field for o in order_by}
    implicit = sorted({f.field for f in where if f.op in _INEQUALITIES} - ordered)
    descending = order_by[-1].descending if order_by else False
    return [*order_by, *(Order(name, descending) for name in implicit)]


def run_query(
    docs: Sequence[Document],
    where: Sequence[Filter],
    order_by: Sequence[Order],
    limit: int | None,
) -> list[Document]:
    """Filter, order (then by id, as Firestore does) and limit."""
    order_by = effective_order(where, order_by)
    needed = [o.field for o in order_by]
    kept = [
        d
        for d in docs
        if all(matches(d.data, f) for f in where)
        and all(lookup(d.data, name) is not _MISSING for name in needed)
    ]
    last_desc = order_by[-1].descending if order_by else False

    def cmp(x: Document, y: Document) -> int:
        for o in order_by:
            c = compare(lookup(x.data, o.field), lookup(y.data, o.field))
            if c:
                return -c if o.descending else c
        c = (x.id > y.id) - (x.id < y.id)
        return -c if last_desc else c

    kept.sort(key=functools.cmp_to_key(cmp))
    return kept if limit is None else kept[:limit]
