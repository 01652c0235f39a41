"""The embedded store's reads by many documents at once: a run of ids in one statement,
string equality filters answered by an index on the field, a memo of the documents
searches decoded (a catalog's records come back in search after search), and the vectors put
back in a document read."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.store import codec
from shared.store.base import Embedding, Filter
from shared.store.vector_index import VectorIndex, attach_vectors

_IN_LIMIT = 500  # ids per "IN (...)" read, far under SQLite's limit on parameters
_MEMO_SIZE = 10_000  # decoded documents kept for search (a few kB each in memory)
# A field name json_extract reads as one top-level key (quoted in the path).
_TOP_LEVEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Reads:
    """Bound to the store's connection; the caller holds the store's lock."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._field_indexes: set[str] = set()
        self._memo: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def raw(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        """The stored text of each of `ids` that exists, in one statement per 500."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), _IN_LIMIT):
            part = ids[start : start + _IN_LIMIT]
            out.update(
                self._db.execute(
                    f"SELECT id, data FROM docs WHERE collection = ? "  # noqa: S608 (placeholders)
                    f"AND id IN ({','.join('?' * len(part))})",
                    (collection, *part),
                ).fetchall()
            )
        return out

    def matching(self, collection: str, where: Sequence[Filter]) -> set[str] | None:
        """The ids `narrowing` lets through, or None when it has nothing to narrow by."""
        clause, params, source = self.narrowing(where)
        if not clause:
            return None
        rows = self._db.execute(
            f"SELECT id FROM {source} WHERE collection = ? AND {clause}",  # noqa: S608 (placeholders)
            (collection, *params),
        ).fetchall()
        return {r[0] for r in rows}

    def narrowing(self, where: Sequence[Filter]) -> tuple[str, list[str], str]:
        """An SQL condition that every document passing the string equality filters on
        top-level fields passes ("" when there is none), its parameters, and the table to read
        it from (through the first field's index). A field's value is read from the stored
        JSON, or from under the "$map" wrapper of a document with a "$" key (the two never
        both exist). `matches` still decides on each document."""
        said = [
            f
            for f in where
            if f.op == "==" and isinstance(f.value, str) and _TOP_LEVEL.fullmatch(f.field)
        ]
        for f in said:
            self._index(f.field)
        clause = " AND ".join(f"{_field_sql(f.field)} = ?" for f in said)
        # SQLite has no statistics to choose the index by: without ANALYZE it would rather
        # walk the whole collection.
        source = f'docs INDEXED BY "docs_by_{said[0].field}"' if said else "docs"
        return clause, [f.value for f in said], source

    def decoded(self, collection: str, doc_id: str, text: str) -> dict[str, Any]:
        """The document stored as `text`, decoded: from the memo when this very text was
        decoded before, as a copy the caller may change."""
        memo = self._memo.get((collection, doc_id))
        if memo is not None and memo[0] == text:
            return codec.fresh(memo[1])  # type: ignore[no-any-return]
        data = codec.decode(text)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()  # a bound, not a policy: a catalog's pool fits many times
        self._memo[(collection, doc_id)] = (text, codec.fresh(data))
        return data

    def searched(
        self,
        collection: str,
        doc_id: str,
        data: dict[str, Any],
        field: str,
        index: VectorIndex,
        query: Embedding,
    ) -> dict[str, Any]:
        """A hit's document with its vectors: the searched one from the index, when it is
        the document's only one; otherwise read as `_with_vectors` does."""
        vector = index.vector_of(query, doc_id) if codec.vector_fields(data) == [field] else None
        if vector is None:
            return self.with_vectors(collection, doc_id, data)
        return attach_vectors(data, {field: (query.model, vector)})

    def with_vectors(self, collection: str, doc_id: str, data: dict[str, Any]) -> dict[str, Any]:
        names = codec.vector_fields(data)
        if not names:
            return data
        rows = self._db.execute(
            "SELECT field, model, vec FROM vectors WHERE collection = ? AND id = ?",
            (collection, doc_id),
        ).fetchall()
        found = {f: (m, np.frombuffer(v, dtype=np.float32)) for f, m, v in rows if f in names}
        return attach_vectors(data, found)

    def _index(self, name: str) -> None:
        """An index on a field filtered by equality, made the first time it is (Firestore
        keeps one for every field), so the filter reads no other document."""
        if name not in self._field_indexes:
            self._db.execute(
                f'CREATE INDEX IF NOT EXISTS "docs_by_{name}" '
                f"ON docs(collection, {_field_sql(name)})"
            )
            self._field_indexes.add(name)


def _field_sql(field: str) -> str:
    """A top-level field's value in SQL (the name checked by _TOP_LEVEL: no quote in it),
    the very expression its index is on."""
    return (
        f"""COALESCE(json_extract(data, '$."{field}"'), """
        f"""json_extract(data, '$."$map"."{field}"'))"""
    )
