"""Catalog records: their schemas (format v2, which reads every v1 file), the optional manifest,
ids and content hashes, and per-record checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    ValidationError,
    model_validator,
)

from shared.catalog.hours import check_timezone, day_ranges, normalise_week
from shared.errors import first_problem

Kind = Literal["manifest", "products", "shops", "inventory", "documents"]
# In the order a catalog is published: the records inventory rows refer to come first.
KINDS: tuple[str, ...] = ("manifest", "products", "shops", "inventory", "documents")
MANIFEST_ID = "manifest"  # the one manifest record's id (a document of `meta`)
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


_Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
_Url = Annotated[str, StringConstraints(max_length=2000)]
_Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _category_path(value: Any) -> Any:
    """ "Home >Lamps " -> "Home > Lamps": one spelling of each path."""
    if isinstance(value, str):
        return " > ".join(part.strip() for part in value.split(">") if part.strip())
    return value


class Product(Record):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    price: float = Field(ge=0, le=100_000)
    currency: _Currency | None = None  # None: the manifest's currency, else USD
    category: Annotated[str, BeforeValidator(_category_path)] = Field(min_length=1, max_length=300)
    brand: str | None = Field(None, min_length=1, max_length=200)
    url: _Url | None = None
    image_url: _Url | None = None
    attributes: Annotated[dict[_Key, _Attribute], BeforeValidator(_int64_only)] = Field(
        default_factory=dict, max_length=50
    )

    @model_validator(mode="before")
    @classmethod
    def _v1_kind(cls, data: Any) -> Any:
        """Format v1 named the category `kind`."""
        if isinstance(data, dict) and "kind" in data:
            data = dict(data)
            kind = data.pop("kind")
            data.setdefault("category", kind)
        return data


class Location(Record):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


def _week(value: Any) -> dict[str, list[str]]:
    return normalise_week(value)


class HoursException(Record):
    date: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    hours: Annotated[list[str], BeforeValidator(day_ranges)]
    note: str = Field("", max_length=200)


class Shop(Record):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=400)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field("", max_length=100)
    postal_code: str = Field("", max_length=20)
    country: str = Field("", pattern=r"^([A-Z]{2})?$")
    location: Location
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    hours: Annotated[dict[str, list[str]], BeforeValidator(_week)]  # per day, v1 spread out
    hours_exceptions: list[HoursException] = Field(default_factory=list, max_length=400)
    amenities: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    description: str = Field("", max_length=4000)
    phone: str | None = Field(None, max_length=50)
    url: _Url | None = None


class InventoryRow(Record):
    shop_id: str = Field(pattern=_ID)
    product_id: str = Field(pattern=_ID)
    quantity: int = Field(ge=0, le=10_000_000)


class TextDocument(Record):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=200_000)
    url: str | None = Field(None, max_length=2000)


class AttributeInfo(Record):
    model_config = ConfigDict(extra="ignore")

    label: str | None = Field(None, min_length=1, max_length=100)
    unit: str | None = Field(None, min_length=1, max_length=20)


class Manifest(Record):
    """`catalog.json`: who the retailer is and the words it uses. Unknown keys are ignored, so
    a later version of the format still loads."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, min_length=1, max_length=100)
    tagline: str | None = Field(None, min_length=1, max_length=300)
    currency: _Currency | None = None
    attributes: dict[_Key, AttributeInfo] = Field(default_factory=dict, max_length=500)
    synonyms: dict[_Text, Annotated[list[_Text], Field(max_length=50)]] = Field(
        default_factory=dict, max_length=5000
    )


SCHEMAS: dict[str, type[Record]] = {
    "products": Product,
    "shops": Shop,
    "inventory": InventoryRow,
    "documents": TextDocument,
    "manifest": Manifest,
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
    if isinstance(record, Manifest):
        return MANIFEST_ID
    return str(getattr(record, "id"))  # noqa: B009 - every other schema has an id


# Stored beside a product's attributes: their order in the record. A store may hand a map back
# in an order of its own (Firestore does), and the facts a reply shows first follow this order.
ATTRIBUTE_ORDER = "attribute_order"


def stored_fields(record: Record) -> dict[str, Any]:
    """The record as its document holds it: its fields, and a product's attribute order."""
    data = record.model_dump(mode="json")
    if isinstance(record, Product) and record.attributes:
        data[ATTRIBUTE_ORDER] = list(record.attributes)
    return data


def ordered_attributes(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored product's attributes in the record's order (those the order does not name, as
    in a document written before it was kept, after them by key)."""
    attributes = doc.get("attributes")
    if not isinstance(attributes, Mapping):
        return {}
    order = doc.get(ATTRIBUTE_ORDER)
    named = [k for k in order if k in attributes] if isinstance(order, list) else []
    rest = sorted(k for k in attributes if k not in set(named))
    return {k: attributes[k] for k in [*named, *rest]}


def content_hash(record: Record) -> str:
    """What a change is judged by: the fields whatever their order, the attributes' order too."""
    canonical = json.dumps(stored_fields(record), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
