"""What only the embedded store has: its search index is rebuilt only when vectors change;
its file is its owner's only."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most machines have (0022): what leaves files readable by all by default."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_database_and_its_directories_are_its_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "local" / "nested" / "store.sqlite3"
    store = SqliteStore(path)
    try:
        store.set("cache", "a", {"answer": "private"})  # WAL mode: -wal and -shm now exist
        assert mode(tmp_path / "local") == mode(path.parent) == 0o700
        assert mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert side.exists() and mode(side) == 0o600  # SQLite copies the main file's mode
    finally:
        store.close()


@pytest.mark.usefixtures("usual_umask")
def test_a_database_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    SqliteStore(path).close()
    wal = path.with_name(path.name + "-wal")  # left behind by a crash: empty, SQLite reuses it
    wal.write_bytes(b"")
    for file in (path, wal):
        file.chmod(0o644)
    tmp_path.chmod(0o755)
    store = SqliteStore(path)
    try:
        assert mode(path) == mode(wal) == 0o600
        assert mode(tmp_path) == 0o755  # a directory it did not create is not its to change
    finally:
        store.close()


def test_a_store_in_memory_touches_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    SqliteStore(":memory:").close()
    assert list(tmp_path.iterdir()) == []
