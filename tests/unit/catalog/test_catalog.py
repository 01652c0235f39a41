import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import catalog
from shared.catalog.files import batches, catalog_files, kind_of, read_jsonl
from shared.store.sqlite_store import SqliteStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PRODUCT = {
    "id": "cof-1",
    "kind": "coffee",
    "name": "Test Roast",
    "description": "Bright and sweet.",
    "price": 12.5,
    "currency": "USD",
    "attributes": {"roast": "light", "decaf": False},
}


def test_records_are_validated_one_by_one() -> None:
    good, bad = catalog.validate_records(
        "products", [PRODUCT, {**PRODUCT, "price": -1}, {**PRODUCT, "colour": "red"}, "text"]
    )
    assert [r.id for r in good] == ["cof-1"]
    assert [b.index for b in bad] == [1, 2, 3]
    assert bad[0].reason.startswith("price:") and bad[1].reason.startswith("colour:")


def test_ids_and_hashes_are_deterministic() -> None:
    (row,), _ = catalog.validate_records(
        "inventory", [{"shop_id": "s1", "product_id": "p1", "quantity": 3}]
    )
    assert catalog.record_id(row) == "s1_p1"
    (a,), _ = catalog.validate_records("products", [PRODUCT])
    (b,), _ = catalog.validate_records("products", [dict(reversed(PRODUCT.items()))])
    (c,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 13}])
    assert catalog.content_hash(a) == catalog.content_hash(b) != catalog.content_hash(c)


def test_upsert_writes_changes_only_and_moves_the_version() -> None:
    store = SqliteStore()
    (p,), _ = catalog.validate_records("products", [PRODUCT])
    assert catalog.upsert(store, "products", [p], T0).written == 1
    assert catalog.upsert(store, "products", [p], T0).unchanged == 1
    assert catalog.read_catalog_meta(store) == catalog.CatalogMeta(1, {"products": 1})
    (p2,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 14}])
    assert catalog.upsert(store, "products", [p2], T0 + timedelta(seconds=1)).written == 1
    assert catalog.read_catalog_meta(store) == catalog.CatalogMeta(2, {"products": 1})
    assert store.get("products", "cof-1")["price"] == 14


def test_duplicate_ids_in_one_batch_keep_the_last() -> None:
    store = SqliteStore()
    good, _ = catalog.validate_records("products", [PRODUCT, {**PRODUCT, "name": "Second"}])
    assert catalog.upsert(store, "products", good, T0).written == 1
    assert store.get("products", "cof-1")["name"] == "Second"


def test_jsonl_reading_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(json.dumps(PRODUCT) + "\n\n{broken\n" + json.dumps(PRODUCT) + "\n")
    lines, bad = read_jsonl(path)
    assert [line.number for line in lines] == [1, 4] and [b.number for b in bad] == [3]
    assert kind_of(path) == "products"
    with pytest.raises(ValueError, match="must start with"):
        kind_of(tmp_path / "stuff.jsonl")


def test_batches_stay_under_the_event_limit() -> None:
    records = [{**PRODUCT, "id": f"p{i}", "description": "x" * 3000} for i in range(400)]
    out = list(batches("products", records, max_bytes=100_000))
    assert sum(len(b["records"]) for b in out) == 400 and len(out) > 1
    assert all(len(json.dumps(b).encode()) < 100_000 + 200 for b in out)
    assert all(len(b["records"]) <= 500 for b in batches("products", records))
    with pytest.raises(ValueError, match="cannot fit"):
        list(batches("products", [{"x": "y" * 1000}], max_bytes=100))


def test_catalog_files_put_inventory_last(tmp_path: Path) -> None:
    for name in ("inventory.jsonl", "shops.jsonl", "products.jsonl", "notes.jsonl"):
        (tmp_path / name).write_text("")
    assert [p.name for p in catalog_files(tmp_path)] == [
        "products.jsonl",
        "shops.jsonl",
        "inventory.jsonl",
    ]


def test_an_older_message_never_overwrites_a_newer_one() -> None:
    store = SqliteStore()
    (new,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 2}])
    (old,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 1}])
    catalog.upsert(store, "products", [new], T0 + timedelta(minutes=5))
    late = catalog.upsert(store, "products", [old], T0)  # redelivered after the newer one
    assert (late.written, late.stale) == (0, 1)
    assert store.get("products", "cof-1")["price"] == 2


def test_an_unchanged_record_still_records_the_newer_message() -> None:
    store = SqliteStore()
    (p1,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 1}])
    (p2,), _ = catalog.validate_records("products", [{**PRODUCT, "price": 2}])
    catalog.upsert(store, "products", [p1], T0)
    assert catalog.upsert(store, "products", [p1], T0 + timedelta(minutes=10)).unchanged == 1
    # A message published between the two must not win over the later one that said price 1.
    assert catalog.upsert(store, "products", [p2], T0 + timedelta(minutes=5)).stale == 1
    assert store.get("products", "cof-1")["price"] == 1
    assert catalog.read_catalog_meta(store).version == 1


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"grid": [[1, 2]]}, "attributes.grid"),
        ({"": 1}, "attributes"),
        ({"big": 2**64}, "attributes: Value error, integers must fit"),
        ({"deep": {"a": {"b": 1}}}, "attributes.deep"),
        ({"n": float("nan")}, "attributes.n"),
        ({f"k{i}": i for i in range(51)}, "attributes"),
    ],
)
def test_attributes_are_bounded_to_what_the_store_and_a_prompt_carry(
    attributes: dict, problem: str
) -> None:
    good, bad = catalog.validate_records("products", [{**PRODUCT, "attributes": attributes}])
    assert good == [] and bad[0].reason.startswith(problem)


def test_attributes_take_scalars_lists_and_flat_maps() -> None:
    attributes = {
        "notes": ["plum", "cocoa"],
        "decaf": True,
        "grams": 250,
        "ratio": 1.5,
        "origin": {"country": "Kenya", "altitude_m": 1800},
        "region": None,
    }
    good, bad = catalog.validate_records("products", [{**PRODUCT, "attributes": attributes}])
    assert bad == [] and good[0].attributes == attributes  # type: ignore[attr-defined]


def test_ids_cannot_make_inventory_ids_collide() -> None:
    _, bad = catalog.validate_records(
        "inventory", [{"shop_id": "a_b", "product_id": "c", "quantity": 1}]
    )
    assert bad[0].reason.startswith("shop_id")


def test_a_products_attribute_order_is_kept_and_is_part_of_its_content() -> None:
    attributes = {"roast": "dark", "origin": "Kenya", "decaf": False}
    (a,), _ = catalog.validate_records("products", [{**PRODUCT, "attributes": attributes}])
    reordered = dict(reversed(list(attributes.items())))
    (b,), _ = catalog.validate_records("products", [{**PRODUCT, "attributes": reordered}])
    assert catalog.stored_fields(a)["attribute_order"] == ["roast", "origin", "decaf"]
    assert catalog.content_hash(a) != catalog.content_hash(b)  # a reply shows them in order
    doc = {"attributes": {"decaf": False, "origin": "Kenya", "roast": "dark", "body": "full"},
           "attribute_order": ["roast", "gone", "origin"]}  # fmt: skip
    assert list(catalog.ordered_attributes(doc)) == ["roast", "origin", "body", "decaf"]
    assert list(catalog.ordered_attributes({"attributes": {"b": 1, "a": 2}})) == ["a", "b"]
    assert catalog.ordered_attributes({}) == {}
    (shop,), _ = catalog.validate_records(
        "inventory", [{"shop_id": "s1", "product_id": "p1", "quantity": 3}]
    )
    assert "attribute_order" not in catalog.stored_fields(shop)
