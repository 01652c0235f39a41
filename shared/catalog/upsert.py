"""Idempotent catalog upserts (embedding what changed) and the catalog's version document."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.catalog.indexing import (
    CHUNKS,
    chunk_document,
    chunk_fields,
    chunk_id,
    embedding_text,
)
from shared.catalog.records import (
    EMBEDDED_KINDS,
    Record,
    TextDocument,
    content_hash,
    record_id,
    stored_fields,
)
from shared.errors import TransientError
from shared.store import Embedding, Filter, Increment, Store, Transaction, Write

if TYPE_CHECKING:
    from shared.ai import Embedder

META, CATALOG_DOC = "meta", "catalog"
PUBLISHED_AT = "source_published_at"
_CHUNKS_MODEL = "chunks_model"  # a document's: the model of its chunks' vectors
_CHUNK = 200  # records per transaction: reads + writes stay well under Firestore's 500
# Where each kind's records live: the manifest is one document beside the catalog version.
COLLECTIONS = {"manifest": META}


def collection_of(kind: str) -> str:
    return COLLECTIONS.get(kind, kind)


@dataclass
class UpsertResult:
    written: int = 0
    unchanged: int = 0
    stale: int = 0  # a newer message had already written these
    embedded: int = 0  # records embedded (a document counts once, whatever its chunks)


@dataclass(frozen=True)
class CatalogMeta:
    version: int
    counts: dict[str, int]


def upsert(
    store: Store,
    kind: str,
    records: Sequence[Record],
    published_at: datetime,
    embedder: Embedder | None = None,
) -> UpsertResult:
    """Write what changed; a redelivery changes nothing, and an older message never overwrites
    what a newer one wrote (each document keeps the publish time of the message behind it).

    With an embedder, products and shops get an `embedding` of their text and documents get
    one vector per chunk (in `document_chunks`); only records whose content (or embedding
    model) changed are embedded, before the transaction that writes them."""
    result = UpsertResult()
    unique = {record_id(r): r for r in records}  # the last of duplicate ids wins
    items = list(unique.items())
    model = embedder.model_id if embedder is not None and kind in EMBEDDED_KINDS else None
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        vectors = _embed_changed(store, kind, chunk, published_at, embedder) if model else {}
        step = functools.partial(
            _upsert_chunk,
            kind=kind,
            chunk=chunk,
            published_at=published_at,
            model=model,
            vectors=vectors,
        )
        chunk_result: UpsertResult = store.transaction(step)
        result.written += chunk_result.written
        result.unchanged += chunk_result.unchanged
        result.stale += chunk_result.stale
        result.embedded += len(vectors)
        if kind == "documents" and model:
            _drop_old_chunks(store, chunk)
    return result


def _needs_writing(
    stored: dict[str, Any] | None, digest: str, published_at: datetime, model: str | None
) -> bool:
    stored_at = stored.get(PUBLISHED_AT) if stored else None
    if isinstance(stored_at, datetime) and stored_at > published_at:
        return False  # stale: a newer message wrote this document
    if stored is None or stored.get("content_hash") != digest:
        return True
    return model is not None and _stored_model(stored) != model


def _stored_model(stored: dict[str, Any]) -> str | None:
    """The model behind a stored record's vector(s): another model means embedding again."""
    vector = stored.get("embedding")
    return vector.model if isinstance(vector, Embedding) else stored.get(_CHUNKS_MODEL)


def _embed_changed(
    store: Store,
    kind: str,
    chunk: list[tuple[str, Record]],
    published_at: datetime,
    embedder: Embedder | None,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Embed the records the transaction will write; documents' chunks are written here, under
    ids of their own version, so the document record written next always finds them."""
    assert embedder is not None
    model = embedder.model_id
    todo = [
        (doc_id, record, content_hash(record))
        for doc_id, record in chunk
        if _needs_writing(
            store.get(collection_of(kind), doc_id), content_hash(record), published_at, model
        )
    ]
    if not todo:
        return {}
    if kind != "documents":
        rows = embedder.embed([embedding_text(r) for _, r, _ in todo], "document")
        return {
            doc_id: (digest, {"embedding": Embedding(row, model)})
            for (doc_id, _, digest), row in zip(todo, rows, strict=True)
        }
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for doc_id, record, digest in todo:
        assert isinstance(record, TextDocument)
        pieces = chunk_document(record)
        rows = embedder.embed([c.text for c in pieces], "document")
        store.write_batch(
            Write(
                "set",
                CHUNKS,
                chunk_id(doc_id, digest, c.position),
                {**chunk_fields(record, digest, c), "embedding": Embedding(row, model)},
            )
            for c, row in zip(pieces, rows, strict=True)
        )
        out[doc_id] = (digest, {"chunks": len(pieces), _CHUNKS_MODEL: model})
    return out


def _drop_old_chunks(store: Store, chunk: list[tuple[str, Record]]) -> None:
    """Delete the chunks of versions other than each document's current one."""
    for doc_id, _ in chunk:
        current = store.get("documents", doc_id)
        if current is None:
            continue
        old = [
            d.id
            for d in store.query(CHUNKS, where=[Filter("doc_id", "==", doc_id)])
            if d.data.get("doc_hash") != current.get("content_hash")
        ]
        if old:
            store.write_batch(Write("delete", CHUNKS, i) for i in old)


def _upsert_chunk(
    txn: Transaction,
    kind: str,
    chunk: list[tuple[str, Record]],
    published_at: datetime,
    model: str | None = None,
    vectors: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> UpsertResult:
    """One atomic step: changed documents and the catalog version move together."""
    collection = collection_of(kind)
    current = {doc_id: txn.get(collection, doc_id) for doc_id, _ in chunk}
    now = datetime.now(UTC)
    result = UpsertResult()
    created = 0
    for doc_id, record in chunk:
        digest, stored = content_hash(record), current[doc_id]
        stored_at = stored.get(PUBLISHED_AT) if stored else None
        if isinstance(stored_at, datetime) and stored_at > published_at:
            result.stale += 1
        elif not _needs_writing(stored, digest, published_at, model):
            result.unchanged += 1
            if stored_at != published_at:  # the newest message to say so
                txn.merge(collection, doc_id, {PUBLISHED_AT: published_at})
        else:
            extra: dict[str, Any] = {}
            if model is not None:
                made = (vectors or {}).get(doc_id)
                if made is None or made[0] != digest:  # changed since it was embedded
                    raise TransientError("A catalog record changed while it was being embedded.")
                extra = made[1]
            result.written += 1
            created += stored is None
            data = {**stored_fields(record), "content_hash": digest, **extra}
            txn.set(collection, doc_id, {**data, PUBLISHED_AT: published_at, "updated_at": now})
    if result.written:
        txn.merge(
            META,
            CATALOG_DOC,
            {"version": Increment(1), "counts": {kind: Increment(created)}, "updated_at": now},
        )
    return result


def read_catalog_meta(store: Store) -> CatalogMeta | None:
    data = store.get(META, CATALOG_DOC)
    if data is None:
        return None
    counts = data.get("counts") or {}
    return CatalogMeta(int(data.get("version", 0)), {k: int(v) for k, v in counts.items()})
