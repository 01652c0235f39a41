"""The catalog: record schemas, ids and content hashes, idempotent upserts, and its version."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.store.base import Increment, Store, Transaction

Kind = Literal["products", "shops", "inventory", "documents"]
KINDS: tuple[str, ...] = ("products", "shops", "inventory", "documents")
META, CATALOG_DOC = "meta", "catalog"
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_CHUNK = 200  # records per transaction: reads + writes stay well under Firestore's 500


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Product(Record):
    id: str = Field(pattern=_ID)
    kind: Literal["coffee", "drink", "equipment"]
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    price: float = Field(ge=0, le=100_000)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    attributes: dict[str, Any] = Field(default_factory=dict)


class Location(Record):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Hours(Record):
    mon_fri: str = Field(pattern=r"^(closed|\d{2}:\d{2}-\d{2}:\d{2})$")
    sat_sun: str = Field(pattern=r"^(closed|\d{2}:\d{2}-\d{2}:\d{2})$")


class Shop(Record):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=400)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field("", max_length=100)
    location: Location
    hours: Hours
    amenities: list[str] = Field(default_factory=list, max_length=50)
    description: str = Field("", max_length=4000)


class InventoryRow(Record):
    shop_id: str = Field(pattern=_ID)
    product_id: str = Field(pattern=_ID)
    quantity: int = Field(ge=0, le=10_000_000)


class TextDocument(Record):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=200_000)
    url: str | None = Field(None, max_length=2000)


SCHEMAS: dict[str, type[Record]] = {
    "products": Product,
    "shops": Shop,
    "inventory": InventoryRow,
    "documents": TextDocument,
}


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass
class UpsertResult:
    written: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogMeta:
    version: int
    counts: dict[str, int]


def validate_records(kind: str, records: Sequence[Any]) -> tuple[list[Record], list[Rejected]]:
    """Each record on its own: a bad one is reported with its reason and never blocks the rest."""
    schema = SCHEMAS[kind]
    good: list[Record] = []
    bad: list[Rejected] = []
    for index, raw in enumerate(records):
        try:
            good.append(schema.model_validate(raw))
        except ValidationError as e:
            first = e.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(record)"
            bad.append(Rejected(index, f"{where}: {first['msg']}"))
    return good, bad


def record_id(record: Record) -> str:
    if isinstance(record, InventoryRow):
        return f"{record.shop_id}_{record.product_id}"
    return str(getattr(record, "id"))  # noqa: B009 - every other schema has an id


def content_hash(record: Record) -> str:
    canonical = json.dumps(record.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def upsert(store: Store, kind: str, records: Sequence[Record]) -> UpsertResult:
    """Write records whose content changed; redelivering the same batch changes nothing."""
    result = UpsertResult()
    unique = {record_id(r): r for r in records}  # the last of duplicate ids wins
    items = list(unique.items())
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        written: int = store.transaction(functools.partial(_upsert_chunk, kind=kind, chunk=chunk))
        result.written += written
        result.unchanged += len(chunk) - written
    return result


def _upsert_chunk(txn: Transaction, kind: str, chunk: list[tuple[str, Record]]) -> int:
    """One atomic step: changed documents and the catalog version move together."""
    current = {doc_id: txn.get(kind, doc_id) for doc_id, _ in chunk}
    now = datetime.now(UTC)
    changes = []
    created = 0
    for doc_id, record in chunk:
        digest = content_hash(record)
        stored = current[doc_id]
        if stored is not None and stored.get("content_hash") == digest:
            continue
        created += stored is None
        changes.append((doc_id, {**record.model_dump(mode="json"), "content_hash": digest}))
    for doc_id, data in changes:
        txn.set(kind, doc_id, {**data, "updated_at": now})
    if changes:
        txn.merge(
            META,
            CATALOG_DOC,
            {"version": Increment(1), "counts": {kind: Increment(created)}, "updated_at": now},
        )
    return len(changes)


def read_catalog_meta(store: Store) -> CatalogMeta | None:
    data = store.get(META, CATALOG_DOC)
    if data is None:
        return None
    counts = data.get("counts") or {}
    return CatalogMeta(int(data.get("version", 0)), {k: int(v) for k, v in counts.items()})
