"""The document store port: the one interface sessions, caches, catalog and metrics use."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from shared.errors import AppError, ServiceUnavailable

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")
Clock = Callable[[], datetime]

MAX_VECTOR_DIMENSIONS = 2048  # Firestore's limit on a vector value and its index.
MAX_NEAREST_LIMIT = 1000  # Firestore's limit on find_nearest's k.
MAX_BATCH_WRITES = 500  # Firestore's limit on writes in one commit.
MAX_BATCH_BYTES = 9 * 1024 * 1024  # under the 10 MiB API request limit
MAX_DOCUMENT_BYTES = 1024 * 1024 - 1024  # 1 MiB less a margin for names and indexes
MAX_DOCUMENT_ID_BYTES = 1500
EXPIRES_AT = "expires_at"  # the TTL field: a document past it is never returned
MODEL_SUFFIX = "_model"  # Embedding at field f records its model at f + "_model"


class StoreError(AppError):
    """A misuse of the store by our own code: a bug, reported as a 500."""

    code = "store_error"


class InvalidDocument(StoreError):
    code = "invalid_document"


class InvalidQuery(StoreError):
    code = "invalid_query"


class VectorLimitError(InvalidQuery):
    code = "vector_limit"


class VectorMismatchError(StoreError):
    """A query vector from another model, or of another size, than the stored ones."""

    code = "vector_mismatch"


class ReadAfterWriteError(StoreError):
    code = "read_after_write"


class TransactionFailed(ServiceUnavailable):
    """Contention outlasted every attempt: retrying later may succeed."""

    code = "transaction_failed"


class StoreUnavailable(ServiceUnavailable):
    code = "store_unavailable"


class DistanceMeasure(enum.Enum):
    """Firestore's distance measures, with its meanings of distance."""

    EUCLIDEAN = "EUCLIDEAN"  # L2 distance; smaller is nearer
    COSINE = "COSINE"  # 1 - cosine similarity; smaller is nearer
    DOT_PRODUCT = "DOT_PRODUCT"  # the dot product; larger is nearer


@dataclass(frozen=True)
class Increment:
    """Atomically add `amount` to a numeric field (missing or non-numeric counts as 0)."""

    amount: int | float = 1


@dataclass(frozen=True, eq=False)
class Embedding:
    """A vector with the model that made it; the only way to store a searchable vector."""

    values: np.ndarray
    model: str

    def __init__(self, values: Sequence[float] | np.ndarray, model: str) -> None:
        import numpy as np  # here, not at import: functions without vectors never load it

        array = np.asarray(values, dtype=np.float32).reshape(-1)
        if not model:
            raise InvalidDocument("An embedding must name the model that made it.")
        if array.size == 0 or array.size > MAX_VECTOR_DIMENSIONS:
            raise VectorLimitError(
                f"A vector must have 1 to {MAX_VECTOR_DIMENSIONS} dimensions, not {array.size}."
            )
        if not np.all(np.isfinite(array)):
            raise InvalidDocument("A vector must hold finite numbers only.")
        array.setflags(write=False)
        object.__setattr__(self, "values", array)
        object.__setattr__(self, "model", model)

    @classmethod
    def stored(cls, values: np.ndarray, model: str) -> Embedding:
        """A float32 vector a store checked when it was written, read back without checking
        it again (a search gives back a hundred of them)."""
        out = object.__new__(cls)
        values.setflags(write=False)
        object.__setattr__(out, "values", values)
        object.__setattr__(out, "model", model)
        return out

    @property
    def dimension(self) -> int:
        return int(self.values.size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Embedding)
            and self.model == other.model
            and self.values.shape == other.values.shape
            and bool((self.values == other.values).all())
        )

    def __hash__(self) -> int:
        return hash((self.model, self.values.tobytes()))

    def __repr__(self) -> str:
        return f"Embedding(model={self.model!r}, dimension={self.dimension})"


Op = Literal["==", "<", "<=", ">", ">=", "in", "array-contains"]
OPS: tuple[str, ...] = ("==", "<", "<=", ">", ">=", "in", "array-contains")


@dataclass(frozen=True)
class Filter:
    field: str
    op: Op
    value: Any

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise InvalidQuery(f"Unsupported filter operator {self.op!r}; use one of {OPS}.")
        if self.op == "in" and not (
            isinstance(self.value, list | tuple) and 0 < len(self.value) <= 30
        ):
            raise InvalidQuery("An 'in' filter takes a list of 1 to 30 values.")


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Document:
    id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    """A nearest-neighbour result: the document and its distance under the measure used."""

    id: str
    data: dict[str, Any]
    distance: float


@dataclass(frozen=True)
class Write:
    """One write of a batch: kind 'set' replaces, 'merge' deep-merges, 'delete' removes."""

    kind: Literal["set", "merge", "delete"]
    collection: str
    doc_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Transaction(Protocol):
    """Read-modify-write: every read comes before any write, and writes apply atomically."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None: ...
    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None: ...
    def delete(self, collection: str, doc_id: str) -> None: ...


class Store(Protocol):
    """Documents by collection path ("sessions" or "sessions/<id>/messages") and id."""

    kind: str

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None: ...
    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None: ...
    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool: ...
    def delete(self, collection: str, doc_id: str) -> None: ...
    def query(
        self,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        order_by: Sequence[Order] = (),
        limit: int | None = None,
    ) -> list[Document]: ...
    def nearest(
        self,
        collection: str,
        *,
        field: str,
        query: Embedding,
        k: int,
        measure: DistanceMeasure = DistanceMeasure.DOT_PRODUCT,
        threshold: float | None = None,
        where: Sequence[Filter] = (),
    ) -> list[Hit]: ...
    def transaction(self, fn: Callable[[Transaction], T]) -> T: ...
    def write_batch(self, writes: Iterable[Write]) -> int: ...
    def ping(self) -> None: ...


def is_expired(data: Mapping[str, Any], now: datetime) -> bool:
    """A document whose `expires_at` has passed is gone, whatever the TTL sweeper has done."""
    expires = data.get(EXPIRES_AT)
    return isinstance(expires, datetime) and expires <= now


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_if_absent(store: Store, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
    """`Store.create` for every adapter: an expired document counts as absent."""

    def attempt(txn: Transaction) -> bool:
        if txn.get(collection, doc_id) is not None:
            return False
        txn.set(collection, doc_id, data)
        return True

    return store.transaction(attempt)
