"""JSON encoding of document values for the embedded store, with tags for non-JSON types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Tagged values are one-key maps whose key starts with "$"; a user map with such keys is
# wrapped in {"$map": ...}, so no stored value can be mistaken for a tag.
_TS, _MAP, _VEC = "$ts", "$map", "$vec"
_CONTAINERS = (dict, list)


def encode(data: Mapping[str, Any]) -> str:
    return json.dumps(_enc(data), separators=(",", ":"), allow_nan=False)


def decode(text: str) -> dict[str, Any]:
    value = _dec(json.loads(text))
    assert isinstance(value, dict)
    return value


def vector_marker() -> dict[str, Any]:
    """Stands in the document for a vector kept in the vectors table."""
    return {_VEC: 1}


def is_vector_marker(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {_VEC}


def fresh(value: Any) -> Any:
    """A copy of a decoded value that shares no container with it (datetimes and scalars are
    immutable): a cached document handed out again, safe for the caller to change."""
    if type(value) is dict:
        return {k: fresh(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if type(value) is list:
        return [fresh(v) if type(v) in _CONTAINERS else v for v in value]
    return value


def vector_fields(data: Mapping[str, Any]) -> list[str]:
    """The fields of a decoded document that stand for a stored vector."""
    return [k for k, v in data.items() if type(v) is dict and len(v) == 1 and _VEC in v]


def _enc(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TS: value.astimezone(UTC).isoformat(timespec="microseconds")}
    if isinstance(value, Mapping):
        body = {k: _enc(v) for k, v in value.items()}
        return {_MAP: body} if any(k.startswith("$") for k in body) else body
    if isinstance(value, list | tuple):
        return [_enc(v) for v in value]
    return value


def _dec(value: Any) -> Any:
    """json.loads gives exact dicts, lists and scalars: only containers are walked."""
    if type(value) is dict:
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == _TS:
                return datetime.fromisoformat(inner)
            if key == _MAP:
                return {k: _dec(v) if type(v) in _CONTAINERS else v for k, v in inner.items()}
            if key == _VEC:
                return value
        return {k: _dec(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if type(value) is list:
        return [_dec(v) if type(v) in _CONTAINERS else v for v in value]
    return value
