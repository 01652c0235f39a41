"""Split writes into commits that stay inside Firestore's per-commit limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shared.store.base import MAX_BATCH_BYTES, MAX_BATCH_WRITES, Write
from shared.store.rules import estimate_size


def chunk_writes(
    writes: Iterable[Write],
    *,
    max_writes: int = MAX_BATCH_WRITES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[Write]]:
    """Chunks of at most `max_writes` writes and about `max_bytes` of data each."""
    chunk: list[Write] = []
    size = 0
    for w in writes:
        w_size = estimate_size(w.data) + len(w.collection) + len(w.doc_id) + 64
        if chunk and (len(chunk) == max_writes or size + w_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(w)
        size += w_size
    if chunk:
        yield chunk
