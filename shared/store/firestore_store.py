"""The document store on Cloud Firestore (google-cloud-firestore), with the port's semantics."""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.vector import Vector

from shared.store import rules
from shared.store.base import (
    MAX_NEAREST_LIMIT,
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
    TransactionFailed,
    VectorMismatchError,
    Write,
    create_if_absent,
    is_expired,
    utc_now,
)
from shared.store.batching import chunk_writes
from shared.store.firestore_codec import (
    MEASURES,
    OPS,
    decode,
    encode,
    encode_value,
    translated_errors,
)
from shared.store.matching import effective_order

DISTANCE_FIELD = "_vector_distance"
_MISMATCH_TTL_S = 60.0

# Contention: attempts per transaction, and the full-jitter backoff between them.
TXN_ATTEMPTS = 8
TXN_BACKOFF_S = 0.05
TXN_BACKOFF_CAP_S = 2.0


class FirestoreStore:
    """Every call carries a timeout; reads never return a document past its `expires_at`."""

    kind = "firestore"

    def __init__(
        self, client: firestore.Client, *, clock: Clock = utc_now, timeout_s: float = 10.0
    ) -> None:
        self.client = client
        self._clock = clock
        self._timeout = timeout_s
        self._mismatch: dict[tuple[str, str, str, int], tuple[float, str | None]] = {}
        self._mismatch_lock = threading.Lock()
        self._sleep = time.sleep

    def _ref(self, collection: str, doc_id: str) -> Any:
        rules.check_ref(collection, doc_id)
        return self.client.collection(collection).document(doc_id)

    # --- reads

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        ref = self._ref(collection, doc_id)
        with translated_errors():
            snap = ref.get(timeout=self._timeout)
        return self._live(snap)

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
        q: Any = self.client.collection(collection)
        for f in where:
            q = q.where(filter=FieldFilter(f.field, OPS.get(f.op, f.op), encode_value(f.value)))
        # Explicit, so that the pages after the first order the same way as the first.
        for o in effective_order(where, order_by):
            q = q.order_by(o.field, direction="DESCENDING" if o.descending else "ASCENDING")
        out: list[Document] = []
        page_size = limit
        page_q = q.limit(limit) if limit is not None else q
        while True:
            with translated_errors():
                snaps = page_q.get(timeout=self._timeout)
            for snap in snaps:
                data = self._live(snap)
                if data is not None:
                    out.append(Document(snap.id, data))
            if limit is None or page_size is None or len(out) >= limit:
                return out
            if len(snaps) < page_size:
                return out
            # Expired documents the sweeper has not removed yet took places in the page:
            # fetch on from the last one until the limit is met or the results run out.
            page_size = limit - len(out)
            page_q = q.start_after(snaps[-1]).limit(page_size)

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
        """find_nearest, pre-filtered on the query's model so vectors of two models never mix."""
        rules.check_collection(collection)
        rules.check_nearest(k, threshold, where)
        q: Any = self.client.collection(collection).where(
            filter=FieldFilter(field + MODEL_SUFFIX, "==", query.model)
        )
        for f in where:
            q = q.where(filter=FieldFilter(f.field, "==", encode_value(f.value)))
        search = functools.partial(
            q.find_nearest,
            vector_field=field,
            query_vector=Vector(query.values.tolist()),
            distance_measure=MEASURES[measure],
            distance_result_field=DISTANCE_FIELD,
            distance_threshold=threshold,
        )
        limit = k
        while True:
            found, hits = self._live_hits(search(limit=limit))
            if len(hits) >= k or found < limit or limit == MAX_NEAREST_LIMIT:
                break
            # Expired documents the sweeper has not removed yet took places: ask for as many
            # more as they took, until k are found or the candidates run out.
            limit = min(MAX_NEAREST_LIMIT, k + found - len(hits))
        if not found:
            self._check_model(collection, field, query)
        return hits[:k]

    def _live_hits(self, vector_query: Any) -> tuple[int, list[Hit]]:
        """How many documents the search returned, and those not expired as hits."""
        with translated_errors():
            snaps = vector_query.get(timeout=self._timeout)
        now = self._clock()
        hits = []
        for snap in snaps:
            raw = snap.to_dict() or {}
            distance = float(raw.pop(DISTANCE_FIELD))
            data = decode(raw)
            if not is_expired(data, now):
                hits.append(Hit(snap.id, data, distance))
        return len(snaps), hits

    def ping(self) -> None:
        with translated_errors():
            self.client.collection("meta").document("health").get(timeout=self._timeout)

    # --- writes

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        rules.check_data(data)
        with translated_errors():
            self._ref(collection, doc_id).set(encode(data), timeout=self._timeout)

    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        rules.check_data(data)
        with translated_errors():
            self._ref(collection, doc_id).set(encode(data), merge=True, timeout=self._timeout)

    def delete(self, collection: str, doc_id: str) -> None:
        with translated_errors():
            self._ref(collection, doc_id).delete(timeout=self._timeout)

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """Write only if absent (an expired document counts as absent); True if written."""
        return create_if_absent(self, collection, doc_id, data)

    def write_batch(self, writes: Iterable[Write]) -> int:
        """Commits of at most 500 writes; each commit is atomic, the whole is not."""
        count = 0
        for chunk in chunk_writes(writes):
            batch = self.client.batch()
            for w in chunk:
                _add_write(batch, self._ref(w.collection, w.doc_id), w)
            with translated_errors():
                batch.commit(timeout=self._timeout)
            count += len(chunk)
        return count

    def transaction(self, fn: Callable[[_FsTxn], T]) -> T:
        """Runs fn in a transaction, retried on contention, so fn must be side-effect free.

        The client's own retries come back at once; when several writers read the same
        document they then collide again in lockstep (the emulator, whose locks time out after
        2 s, never gets out of that). So each attempt is one client attempt, and a lost one
        waits a random time up to an exponentially growing bound ("full jitter") first.
        """

        @firestore.transactional
        def run(transaction: Any) -> T:
            return fn(_FsTxn(self, transaction))

        for attempt in range(TXN_ATTEMPTS):
            with translated_errors():
                try:
                    result: T = run(self.client.transaction(max_attempts=1))
                    return result
                except ValueError as e:
                    if not isinstance(e.__cause__, gexc.Aborted):
                        if isinstance(e.__context__, gexc.GoogleAPICallError):
                            # begin_transaction failed, so the client's rollback found no
                            # transaction and raised a ValueError over the RPC error.
                            raise e.__context__ from None
                        raise
            if attempt + 1 < TXN_ATTEMPTS:
                self._sleep(random.uniform(0, min(TXN_BACKOFF_CAP_S, TXN_BACKOFF_S * 2**attempt)))
        raise TransactionFailed(
            f"The transaction lost {TXN_ATTEMPTS} attempts in a row to contention."
        )

    # --- internals

    def _live(self, snap: Any) -> dict[str, Any] | None:
        if not snap.exists:
            return None
        data = decode(snap.to_dict() or {})
        return None if is_expired(data, self._clock()) else data

    def _check_model(self, collection: str, field: str, query: Embedding) -> None:
        """An empty result may mean the stored vectors come from another model or have another
        size (find_nearest then matches nothing): say so."""
        key = (collection, field, query.model, query.dimension)
        now = time.monotonic()
        with self._mismatch_lock:
            cached = self._mismatch.get(key)
        if cached is None or now - cached[0] > _MISMATCH_TTL_S:
            cached = (now, self._mismatch_reason(collection, field, query))
            with self._mismatch_lock:
                self._mismatch[key] = cached
        if cached[1] is not None:
            raise VectorMismatchError(cached[1])

    def _mismatch_reason(self, collection: str, field: str, query: Embedding) -> str | None:
        """Why vectors stored at `field` cannot answer `query`, or None if they can."""
        model_field = field + MODEL_SUFFIX
        ref = self.client.collection(collection)
        same = ref.where(filter=FieldFilter(model_field, "==", query.model)).select([field])
        with translated_errors():
            snaps = same.limit(1).get(timeout=self._timeout)
        if snaps:
            stored = (snaps[0].to_dict() or {}).get(field)
            if isinstance(stored, Vector) and len(stored) != query.dimension:
                return (
                    f"Stored vectors of {query.model!r} have {len(stored)} dimensions; "
                    f"the query has {query.dimension}."
                )
            return None
        other = ref.where(filter=FieldFilter(model_field, "!=", query.model)).select([model_field])
        with translated_errors():
            snaps = other.limit(1).get(timeout=self._timeout)
        if not snaps:
            return None
        return (
            f"The stored vectors come from {snaps[0].get(model_field)!r}, the query from "
            f"{query.model!r}: search with the same embedding model, or re-ingest."
        )


def _add_write(target: Any, ref: Any, w: Write) -> None:
    if w.kind == "delete":
        target.delete(ref)
        return
    rules.check_data(w.data)
    if w.kind == "merge":
        target.set(ref, encode(w.data), merge=True)
    else:
        target.set(ref, encode(w.data))


class _FsTxn:
    def __init__(self, store: FirestoreStore, transaction: Any) -> None:
        self._store = store
        self._txn = transaction
        self._wrote = False

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        if self._wrote:
            raise ReadAfterWriteError("In a transaction, every read comes before any write.")
        ref = self._store._ref(collection, doc_id)
        snap = ref.get(transaction=self._txn, timeout=self._store._timeout)
        return self._store._live(snap)

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self._write(Write("set", collection, doc_id, data))

    def merge(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self._write(Write("merge", collection, doc_id, data))

    def delete(self, collection: str, doc_id: str) -> None:
        self._write(Write("delete", collection, doc_id))

    def _write(self, w: Write) -> None:
        self._wrote = True
        _add_write(self._txn, self._store._ref(w.collection, w.doc_id), w)
