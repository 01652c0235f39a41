"""What only the embedded store has: its search index is rebuilt only when vectors change."""

from shared.store import Embedding, Increment
from shared.store.sqlite_store import SqliteStore


def search(store: SqliteStore) -> None:
    store.nearest("cache", field="embedding", query=Embedding([1.0, 0.0], "m"), k=1)


def test_writes_that_leave_vectors_alone_keep_the_index() -> None:
    store = SqliteStore()
    store.set("cache", "a", {"embedding": Embedding([1.0, 0.0], "m"), "hits": 0})
    search(store)
    index = store._indexes[("cache", "embedding")]
    store.merge("cache", "a", {"hits": Increment(1)})
    store.set("cache", "b", {"answer": "no vector here"})
    store.set("cache", "a", {"embedding": Embedding([1.0, 0.0], "m"), "hits": 5})  # same vector
    search(store)
    assert store._indexes[("cache", "embedding")] is index


def test_a_changed_or_deleted_vector_rebuilds_it() -> None:
    store = SqliteStore()
    store.set("cache", "a", {"embedding": Embedding([1.0, 0.0], "m")})
    search(store)
    first = store._indexes[("cache", "embedding")]
    store.merge("cache", "a", {"embedding": Embedding([0.0, 1.0], "m")})
    search(store)
    second = store._indexes[("cache", "embedding")]
    assert second is not first
    store.delete("cache", "a")
    search(store)
    assert store._indexes[("cache", "embedding")] is not second
