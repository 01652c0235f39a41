"""Firestore's rules for names, values and limits, checked the same way by every adapter."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.store.base import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_ID_BYTES,
    MAX_NEAREST_LIMIT,
    MODEL_SUFFIX,
    Embedding,
    Filter,
    Increment,
    InvalidDocument,
    InvalidQuery,
    VectorLimitError,
)

_INT64 = (-(2**63), 2**63 - 1)


def check_segment(segment: str, what: str) -> None:
    if not segment or segment in (".", "..") or "/" in segment:
        raise InvalidDocument(f"Invalid {what} {segment!r}.")
    if len(segment.encode()) > MAX_DOCUMENT_ID_BYTES:
        raise InvalidDocument(f"A {what} is at most {MAX_DOCUMENT_ID_BYTES} bytes.")
    if segment.startswith("__") and segment.endswith("__"):
        raise InvalidDocument(f"A {what} may not match __.*__ (reserved): {segment!r}.")


def check_collection(path: str) -> None:
    """A collection path alternates collection and document names and ends on a collection."""
    parts = path.split("/")
    if len(parts) % 2 == 0:
        raise InvalidDocument(f"{path!r} names a document, not a collection.")
    for index, part in enumerate(parts):
        check_segment(part, "collection id" if index % 2 == 0 else "document id")


def check_ref(collection: str, doc_id: str) -> None:
    check_collection(collection)
    check_segment(doc_id, "document id")


def check_data(data: Mapping[str, Any], *, allow_increment: bool = True) -> None:
    """Reject what Firestore would reject, and what would store a vector without its model."""
    if not isinstance(data, Mapping):
        raise InvalidDocument("A document is a mapping of field names to values.")
    for key, value in data.items():
        if isinstance(value, Embedding) and key + MODEL_SUFFIX in data:
            raise InvalidDocument(
                f"Field {key + MODEL_SUFFIX!r} is written by the store from the embedding."
            )
        _check_value(key, value, depth=0, allow_increment=allow_increment)
    check_size(data)


def check_size(data: Mapping[str, Any]) -> None:
    size = estimate_size(data)
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"A document is at most 1 MiB; this one is about {size} bytes.")


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidQuery(f"A query limit is a positive integer or None, not {limit!r}.")


def _check_value(key: Any, value: Any, *, depth: int, allow_increment: bool) -> None:
    if not isinstance(key, str) or not key:
        raise InvalidDocument(f"Field names are non-empty strings, not {key!r}.")
    if depth > 20:
        raise InvalidDocument("Maps nest at most 20 deep.")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidDocument(f"Field {key!r}: numbers must be finite.")
        return
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidDocument(f"Field {key!r}: integers are 64-bit.")
        return
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidDocument(f"Field {key!r}: timestamps must carry a time zone.")
        return
    if isinstance(value, Embedding):
        if depth:
            raise InvalidDocument(f"Field {key!r}: an embedding must be a top-level field.")
        return
    if isinstance(value, Increment):
        if not allow_increment:
            raise InvalidDocument(f"Field {key!r}: Increment is not allowed here.")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_value(k, v, depth=depth + 1, allow_increment=allow_increment)
        return
    if isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, list | tuple):
                raise InvalidDocument(f"Field {key!r}: arrays may not hold arrays.")
            if isinstance(item, Increment | Embedding):
                raise InvalidDocument(f"Field {key!r}: arrays hold plain values only.")
            _check_value(key, item, depth=depth + 1, allow_increment=False)
        return
    raise InvalidDocument(f"Field {key!r}: unsupported type {type(value).__name__}.")


def estimate_size(value: Any) -> int:
    """Firestore's storage-size rules, roughly: strings + 1, numbers 8, maps sum their fields."""
    if isinstance(value, Mapping):
        return sum(len(str(k).encode()) + 1 + estimate_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(estimate_size(v) for v in value)
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, Embedding):
        return 8 * value.dimension + 16 + len(value.model) + 1
    return 8


def check_nearest(k: int, threshold: float | None, where: Sequence[Filter]) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_NEAREST_LIMIT:
        raise VectorLimitError(f"k must be an integer from 1 to {MAX_NEAREST_LIMIT}, not {k!r}.")
    if threshold is not None and not isinstance(threshold, int | float):
        raise InvalidQuery("A distance threshold is a number.")
    for f in where:
        if f.op != "==":
            raise InvalidQuery("Nearest search takes equality pre-filters only.")


def apply_merge(current: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Firestore's set(merge=True): maps merge field by field; Increment adds."""
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, Increment):
            merged[key] = add(merged.get(key), value.amount)
        elif isinstance(value, Mapping) and value:
            base = merged.get(key)
            merged[key] = apply_merge(base if isinstance(base, dict) else {}, value)
        elif isinstance(value, Mapping):
            merged[key] = {}  # Firestore writes an empty map as a value: it replaces
        else:
            merged[key] = value
    return merged


def add(current: Any, amount: int | float) -> int | float:
    if isinstance(current, bool) or not isinstance(current, int | float):
        current = 0
    total: int | float = current + amount
    return total
