"""The catalog: what a retailer sells and where, from its files to the store.

- `records`: the record schemas (products, shops, inventory, documents), ids, content hashes.
- `indexing`: the text each record is embedded by; documents cut into chunks.
- `upsert`: idempotent, ordered upserts that embed what changed; the catalog version.
- `files`: reading a catalog directory's JSON Lines files into bounded batches.
- `ingest`: the ingest function's Pub/Sub handler (one batch in, good records upserted).
- `publish`: the operator CLI's library: read, plan, publish batches and watch them land.

This module re-exports what the rest of `shared/` uses; inside the package, modules import
each other directly.
"""

from shared.catalog.indexing import CHUNKS
from shared.catalog.records import (
    EMBEDDED_KINDS,
    KINDS,
    SCHEMAS,
    HoursException,
    InventoryRow,
    Kind,
    Location,
    Manifest,
    Product,
    Record,
    Rejected,
    Shop,
    TextDocument,
    content_hash,
    ordered_attributes,
    record_id,
    stored_fields,
    validate_records,
)
from shared.catalog.upsert import (
    CATALOG_DOC,
    META,
    PUBLISHED_AT,
    CatalogMeta,
    UpsertResult,
    read_catalog_meta,
    upsert,
)

__all__ = [
    "CATALOG_DOC",
    "CHUNKS",
    "EMBEDDED_KINDS",
    "KINDS",
    "META",
    "PUBLISHED_AT",
    "SCHEMAS",
    "CatalogMeta",
    "HoursException",
    "InventoryRow",
    "Kind",
    "Location",
    "Manifest",
    "Product",
    "Record",
    "Rejected",
    "Shop",
    "TextDocument",
    "UpsertResult",
    "content_hash",
    "ordered_attributes",
    "read_catalog_meta",
    "record_id",
    "stored_fields",
    "upsert",
    "validate_records",
]
