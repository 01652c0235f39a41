"""One contract, every store: the fixtures that build each adapter with a controllable clock.

`store` runs each test on SQLite (in memory and on a file) and, where FIRESTORE_EMULATOR_HOST
was set when the tests started, on the Firestore emulator. Collection names carry a random
prefix (`col`), so tests sharing one emulator never see each other's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.store import Embedding, Store, Write
from shared.store.sqlite_store import SqliteStore
from tests import conftest as root
from tests.fakes.clock import FakeClock

Col = Callable[[str], str]  # a collection name made unique to the test


def ids(docs: list[Any]) -> list[str]:
    return [d.id for d in docs]


EMULATOR_PROJECT = "demo-contract-store"
NO_EMULATOR = (
    "FIRESTORE_EMULATOR_HOST is not set: start `gcloud emulators firestore start "
    "--host-port=127.0.0.1:8765` and export FIRESTORE_EMULATOR_HOST=127.0.0.1:8765, "
    "or run `make test`, to run the contract on Firestore too"
)

STORE_PARAMS = [
    "sqlite-memory",
    "sqlite-file",
    pytest.param("firestore", marks=pytest.mark.emulator),
]


def _firestore_client() -> Any:
    """A client on the emulator (the autouse fixture removed the variable from os.environ)."""
    if root.FIRESTORE_EMULATOR_HOST is None:
        pytest.skip(NO_EMULATOR)
    from google.cloud import firestore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRESTORE_EMULATOR_HOST", root.FIRESTORE_EMULATOR_HOST)
        return firestore.Client(project=EMULATOR_PROJECT)


def build_store(kind: str, clock: Callable[[], datetime], tmp: Path) -> Any:
    if kind == "sqlite-memory":
        return SqliteStore(":memory:", clock=clock)
    if kind == "sqlite-file":
        return SqliteStore(tmp / "store.sqlite3", clock=clock)
    from shared.store.firestore_store import FirestoreStore

    return FirestoreStore(_firestore_client(), clock=clock)


def close_store(store: Any) -> None:
    if isinstance(store, SqliteStore):
        store.close()
    else:
        store.client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2031, 5, 4, 12, 0, 0, 123456, tzinfo=UTC))


@pytest.fixture(params=STORE_PARAMS)
def store(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Store]:
    instance = build_store(request.param, clock, tmp_path)
    yield instance
    close_store(instance)


@pytest.fixture
def col() -> Callable[[str], str]:
    """Collection names unique to this test."""
    prefix = "t" + uuid.uuid4().hex[:12]
    return lambda name: f"{prefix}-{name}"


# --- a shared corpus for exact nearest-neighbour checks (loaded once per store kind)

CORPUS_SIZE = 5_000
CORPUS_DIM = 64
CORPUS_MODEL = "contract-model-1"
CORPUS_GROUPS = 4


@dataclass
class Corpus:
    store: Store
    collection: str
    ids: list[str]
    vectors: np.ndarray  # (n, d) float32, exactly as stored
    groups: np.ndarray  # (n,) the "group" field of each document


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)]
)
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Corpus]:
    real_now = FakeClock(datetime.now(UTC))
    kind = "sqlite-memory" if request.param == "sqlite" else "firestore"
    instance = build_store(kind, real_now, tmp_path_factory.mktemp("corpus"))
    rng = np.random.default_rng(20310504)
    vectors = rng.standard_normal((CORPUS_SIZE, CORPUS_DIM)).astype(np.float32)
    ids = [f"p{i:05d}" for i in range(CORPUS_SIZE)]
    groups = np.arange(CORPUS_SIZE) % CORPUS_GROUPS
    collection = "c" + uuid.uuid4().hex[:12] + "-products"
    written = instance.write_batch(
        Write(
            "set",
            collection,
            ids[i],
            {"embedding": Embedding(vectors[i], CORPUS_MODEL), "group": int(groups[i]), "n": i},
        )
        for i in range(CORPUS_SIZE)
    )
    assert written == CORPUS_SIZE
    yield Corpus(instance, collection, ids, vectors, groups)
    close_store(instance)
