"""Between our store's values and errors and google-cloud-firestore's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_vector_query import DistanceMeasure as FsMeasure
from google.cloud.firestore_v1.vector import Vector

from shared.store.base import (
    MODEL_SUFFIX,
    DistanceMeasure,
    Embedding,
    Increment,
    StoreError,
    StoreUnavailable,
)

OPS = {"array-contains": "array_contains"}
MEASURES = {
    DistanceMeasure.EUCLIDEAN: FsMeasure.EUCLIDEAN,
    DistanceMeasure.COSINE: FsMeasure.COSINE,
    DistanceMeasure.DOT_PRODUCT: FsMeasure.DOT_PRODUCT,
}
_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.Aborted,
    gexc.Unknown,
)


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Transient RPC failures become StoreUnavailable (retry); others a StoreError (a bug)."""
    try:
        yield
    except _TRANSIENT as e:
        raise StoreUnavailable(f"Firestore is unavailable: {type(e).__name__}") from e
    except gexc.GoogleAPICallError as e:
        raise StoreError(f"Firestore rejected the request: {e.message}") from e


def encode(data: Mapping[str, Any]) -> dict[str, Any]:
    """Our values as the client's: Embedding -> Vector + "<field>_model", Increment -> transform."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Embedding):
            out[key] = Vector(value.values.tolist())
            out[key + MODEL_SUFFIX] = value.model
        else:
            out[key] = encode_value(value)
    return out


def encode_value(value: Any) -> Any:
    if isinstance(value, Increment):
        return firestore.Increment(value.amount)
    if isinstance(value, Mapping):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def decode(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, value in data.items():
        model = data.get(key + MODEL_SUFFIX)
        if isinstance(value, Vector) and isinstance(model, str):
            out[key] = Embedding(list(value), model)
            del out[key + MODEL_SUFFIX]
        elif isinstance(value, Vector):
            out[key] = list(value)
    return out
