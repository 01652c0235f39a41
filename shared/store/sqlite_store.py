"""The embedded document store: one SQLite file, exact vector search with numpy."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.store import codec, rules
from shared.store.base import (
    EXPIRES_AT,
    MODEL_SUFFIX,
    Clock,
    DistanceMeasure,
    Document,
    Embedding,
    Filter,
    Hit,
    Order,
    ReadAfterWriteError,
    T,
    Write,
    create_if_absent,
    is_expired,
    utc_now,
)
from shared.store.batching import chunk_writes
from shared.store.matching import matches, run_query
from shared.store.sqlite_reads import Reads
from shared.store.vector_index import VectorIndex

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
  collection TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, expires_at REAL,
  PRIMARY KEY (collection, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vectors (
  collection TEXT NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL, model TEXT NOT NULL,
  vec BLOB NOT NULL, PRIMARY KEY (collection, id, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vector_versions (
  collection TEXT NOT NULL, field TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (collection, field)) WITHOUT ROWID;
"""


def _make_private(path: Path) -> None:
    """Create the file, and each directory it needs, for its owner only (0600, 0700); take
    group and other access off files an older version left open. SQLite gives the -wal and
    -shm files it creates the main file's mode."""
    for directory in reversed([d for d in (path.parent, *path.parent.parents) if not d.exists()]):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)  # the umask may have taken some of mkdir's mode
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if file.exists() and (mode := stat.S_IMODE(file.stat().st_mode)) & 0o077:
            file.chmod(mode & 0o700)


class SqliteStore:
    """Safe across threads of one process: one connection, every operation under one lock."""

    kind = "sqlite"

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock = utc_now) -> None:
        self.path = str(path)
        if self.path not in (":memory:", ""):  # "": SQLite's own private temporary file
            _make_private(Path(self.path))
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._indexes: dict[tuple[str, str], VectorIndex] = {}
        self._reads = Reads(self._db)

    # --- reads

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        rules.check_ref(collection, doc_id)
        with self._lock:
            data = self._read(collection, doc_id)
        return None if data is None or is_expired(data, self._clock()) else data

    def query(
        self,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        order_by: Sequence[Order] = (),
        limit: int | None = None,
    ) -> list[Document]:
        rules.check_collection(collection)
        rules.check_limit(limit)
        now = self._clock()
        with self._lock:
            clause, params, source = self._reads.narrowing(where)
            rows = self._db.execute(
                f"SELECT id, data FROM {source} WHERE collection = ? "  # noqa: S608 (placeholders)
                f"AND (expires_at IS NULL OR expires_at > ?) AND {clause or 1}",
                (collection, now.timestamp(), *params),
            ).fetchall()
            docs = [Document(i, codec.decode(d)) for i, d in rows]
            docs = [d for d in docs if not is_expired(d.data, now)]
            # Filter on the stored fields (with "<field>_model"), then give back Embeddings.
            found = run_query(docs, where, order_by, limit)
            return [
                Document(d.id, self._reads.with_vectors(collection, d.id, d.data)) for d in found
            ]

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
    ) -> list[Hit]:
        rules.check_collection(collection)
        rules.check_nearest(k, threshold, where)
        now = self._clock()
        with self._lock:
            index = self._index(collection, field)
            raw: dict[str, str] = {}
            cache: dict[str, dict[str, Any] | None] = {}

            def fetch(ids: list[str]) -> None:
                raw.update(self._reads.raw(collection, ids))

            def keep(doc_id: str) -> bool:
                text = raw.get(doc_id)
                data = None if text is None else self._reads.decoded(collection, doc_id, text)
                cache[doc_id] = data
                return (
                    data is not None
                    and not is_expired(data, now)
                    and all(matches(data, f) for f in where)
                )

            only = self._reads.matching(collection, where)
            found = index.search(query, k, measure, threshold, keep, only=only, fetch=fetch)
            return [
                Hit(i, self._reads.searched(collection, i, cache[i] or {}, field, index, query), d)
                for i, d in found
            ]

    def ping(self) -> None:
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    # --- writes

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self.write_batch([Write("set", collection, doc_id, data)])

    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self.write_batch([Write("merge", collection, doc_id, data)])

    def delete(self, collection: str, doc_id: str) -> None:
        self.write_batch([Write("delete", collection, doc_id)])

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """Write only if absent (an expired document counts as absent); True if written."""
        return create_if_absent(self, collection, doc_id, data)

    def write_batch(self, writes: Iterable[Write]) -> int:
        """Apply writes in chunks of at most 500, each chunk atomically."""
        count = 0
        for chunk in chunk_writes(writes):
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for w in chunk:
                        self._apply(w)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            count += len(chunk)
        return count

    def transaction(self, fn: Callable[[_Txn], T]) -> T:
        """Run fn serialised with every other operation of this process, then commit."""
        with self._lock:
            txn = _Txn(self)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(txn)
                for w in txn.writes:
                    self._apply(w)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- internals (callers hold the lock)

    def _read(self, collection: str, doc_id: str, *, vectors: bool = True) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data FROM docs WHERE collection = ? AND id = ?", (collection, doc_id)
        ).fetchone()
        if row is None:
            return None
        data = codec.decode(row[0])
        return self._reads.with_vectors(collection, doc_id, data) if vectors else data

    def _apply(self, w: Write) -> None:
        rules.check_ref(w.collection, w.doc_id)
        if w.kind == "delete":
            changed = self._delete_row(w.collection, w.doc_id)
        else:
            rules.check_data(w.data)
            # Like Firestore, a merge lands on the stored fields as they are (vector markers
            # and "<field>_model" included), even on a document past its expiry that the
            # sweeper has not removed yet: code that cares reads it first.
            stored = (
                self._read(w.collection, w.doc_id, vectors=False) if w.kind == "merge" else None
            )
            changed = self._write_row(
                w.collection, w.doc_id, rules.apply_merge(stored or {}, w.data)
            )
        for name in changed:  # only a changed vector invalidates the search index
            self._db.execute(
                "INSERT INTO vector_versions VALUES (?, ?, 1) "
                "ON CONFLICT(collection, field) DO UPDATE SET version = version + 1",
                (w.collection, name),
            )

    def _write_row(self, collection: str, doc_id: str, data: dict[str, Any]) -> frozenset[str]:
        """Store the document; returns the vector fields whose vector changed."""
        rules.check_size(data)
        before = self._vectors_of(collection, doc_id)
        after: dict[str, tuple[str, bytes]] = {}
        plain: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, Embedding):
                plain[name] = codec.vector_marker()
                plain[name + MODEL_SUFFIX] = value.model  # a real field, as in Firestore
                after[name] = (value.model, value.values.tobytes())
            elif codec.is_vector_marker(value) and name in before:
                plain[name] = value  # a merge that left this vector alone
                after[name] = before[name]
            elif not codec.is_vector_marker(value):
                plain[name] = value
        changed = frozenset(
            n for n in before.keys() | after.keys() if before.get(n) != after.get(n)
        )
        for name in changed:
            self._db.execute(
                "DELETE FROM vectors WHERE collection = ? AND id = ? AND field = ?",
                (collection, doc_id, name),
            )
            if name in after:
                self._db.execute(
                    "INSERT INTO vectors VALUES (?, ?, ?, ?, ?)",
                    (collection, doc_id, name, *after[name]),
                )
        expires = data.get(EXPIRES_AT)
        self._db.execute(
            "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)",
            (
                collection,
                doc_id,
                codec.encode(plain),
                expires.timestamp() if isinstance(expires, datetime) else None,
            ),
        )
        return changed

    def _delete_row(self, collection: str, doc_id: str) -> frozenset[str]:
        changed = frozenset(self._vectors_of(collection, doc_id))
        self._db.execute("DELETE FROM docs WHERE collection = ? AND id = ?", (collection, doc_id))
        self._db.execute(
            "DELETE FROM vectors WHERE collection = ? AND id = ?", (collection, doc_id)
        )
        return changed

    def _vectors_of(self, collection: str, doc_id: str) -> dict[str, tuple[str, bytes]]:
        rows = self._db.execute(
            "SELECT field, model, vec FROM vectors WHERE collection = ? AND id = ?",
            (collection, doc_id),
        ).fetchall()
        return {f: (m, bytes(v)) for f, m, v in rows}

    def _index(self, collection: str, field: str) -> VectorIndex:
        row = self._db.execute(
            "SELECT version FROM vector_versions WHERE collection = ? AND field = ?",
            (collection, field),
        ).fetchone()
        version = row[0] if row else 0
        index = self._indexes.get((collection, field))
        if index is None or index.version != version:
            rows = self._db.execute(
                "SELECT id, model, vec FROM vectors WHERE collection = ? AND field = ?",
                (collection, field),
            ).fetchall()
            index = VectorIndex.build(version, rows)
            self._indexes[(collection, field)] = index
        return index


class _Txn:
    """Reads see committed state; writes are buffered and applied on commit."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.writes: list[Write] = []

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        if self.writes:
            raise ReadAfterWriteError("In a transaction, every read comes before any write.")
        return self._store.get(collection, doc_id)

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self._buffer(Write("set", collection, doc_id, data))

    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self._buffer(Write("merge", collection, doc_id, data))

    def delete(self, collection: str, doc_id: str) -> None:
        self._buffer(Write("delete", collection, doc_id))

    def _buffer(self, w: Write) -> None:
        rules.check_ref(w.collection, w.doc_id)
        if w.kind != "delete":
            rules.check_data(w.data)
        self.writes.append(w)
