"""Catalog records: their schemas (format v1), ids and content hashes, and per-record checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    ValidationError,
)

from shared.errors import first_problem

Kind = Literal["products", "shops", "inventory", "documents"]
KINDS: tuple[str, ...] = ("products", "shops", "inventory", "documents")
# No "_" in ids: it joins shop and product ids into inventory ids ("shop-1_cof-2").
_ID = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$"
EMBEDDED_KINDS = frozenset({"products", "shops", "documents"})

# Free-form attributes, bounded to what the store and a prompt can carry.
_Key = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_Scalar = (
    StrictBool
    | int
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
    | Annotated[str, StringConstraints(max_length=2000)]
    | None
)
_Attribute = _Scalar | Annotated[list[_Scalar], Field(max_length=50)] | dict[_Key, _Scalar]


def _int64_only(value: Any) -> Any:
    """Pydantic would turn an integer too big for the store into a float: refuse it instead."""
    items = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
    )
    for item in items:
        if isinstance(item, dict | list):
            _int64_only(item)
        elif isinstance(item, int) and not -(2**63) <= item < 2**63:
            raise ValueError("integers must fit in 64 bits")
    return value


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Product(Record):
    id: str = Field(pattern=_ID)
    kind: Literal["coffee", "drink", "equipment"]
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    price: float = Field(ge=0, le=100_000)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    attributes: Annotated[dict[_Key, _Attribute], BeforeValidator(_int64_only)] = Field(
        default_factory=dict, max_length=50
    )


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


def validate_records(kind: str, records: Sequence[Any]) -> tuple[list[Record], list[Rejected]]:
    """Each record on its own: a bad one is reported with its reason and never blocks the rest."""
    schema = SCHEMAS[kind]
    good: list[Record] = []
    bad: list[Rejected] = []
    for index, raw in enumerate(records):
        try:
            good.append(schema.model_validate(raw))
        except ValidationError as e:
            bad.append(Rejected(index, first_problem(e)))
    return good, bad


def record_id(record: Record) -> str:
    if isinstance(record, InventoryRow):
        return f"{record.shop_id}_{record.product_id}"
    return str(getattr(record, "id"))  # noqa: B009 - every other schema has an id


def content_hash(record: Record) -> str:
    canonical = json.dumps(record.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
