"""The chat function on a copy of the benchmark catalog, and a client that speaks its contract."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scripts.eval_retrieval import BENCHMARK
from shared import catalog, wiring
from shared.ai.local_embedder import LocalEmbedder
from shared.catalog import profile
from shared.catalog.files import catalog_files, kind_of, read_jsonl
from shared.config import get_settings
from shared.intent.exemplars import exemplar_matrix, load_routes
from shared.store.sqlite_store import SqliteStore


@dataclass(frozen=True)
class Session:
    id: str
    token: str
    expires_at: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Client:
    """functions-framework's test client for `chat`, with the contract's calls spelled out."""

    def __init__(self) -> None:
        from tests.integration.conftest import function_client  # which imports this module

        self.http = function_client("chat")

    def __getattr__(self, name: str) -> Any:  # get, post, delete, options...
        return getattr(self.http, name)

    def session(self, user_id: str | None = None, *, address: str | None = None) -> Session:
        body = {"user_id": user_id} if user_id else {}
        r = self.http.post("/sessions", json=body, headers=_forwarded(address))
        assert r.status_code == 201, r.get_data(as_text=True)
        data = r.get_json()
        return Session(data["session_id"], data["token"], data["expires_at"])

    def turn(
        self,
        s: Session,
        message: str,
        *,
        stream: bool = False,
        buffered: bool = True,
        address: str | None = None,
    ) -> Any:
        accept = "text/event-stream" if stream else "application/json"
        return self.http.post(
            f"/sessions/{s.id}/messages",
            json={"message": message},
            headers={**s.auth, "Accept": accept, **_forwarded(address)},
            buffered=buffered,
        )

    def catalog(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in (BENCHMARK / f"{kind}.jsonl").read_text().splitlines() if x]

    def reset_settings(self) -> None:
        """Settings changed in the environment: read them again, rebuild every adapter."""
        get_settings.cache_clear()
        wiring.reset()


def _forwarded(address: str | None) -> dict[str, str]:
    return {"X-Forwarded-For": address} if address else {}


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture(scope="session")
def catalog_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark catalog and the router's exemplars, embedded once per test run."""
    path = tmp_path_factory.mktemp("chat-catalog") / "store.sqlite3"
    store = SqliteStore(path)
    embedder = LocalEmbedder()
    for file in catalog_files(BENCHMARK):
        lines, bad = read_jsonl(file)
        assert not bad
        good, rejected = catalog.validate_records(kind_of(file), [x.record for x in lines])
        assert not rejected
        catalog.upsert(store, kind_of(file), good, datetime.now(UTC), embedder)
    profile.refresh(store)  # as the ingest function does after a batch
    exemplar_matrix(store, embedder, load_routes())
    store.close()
    return path


@pytest.fixture
def chat(catalog_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    for suffix in ("", "-wal", "-shm"):
        source = catalog_db.with_name(catalog_db.name + suffix)
        if source.exists():
            shutil.copy(source, tmp_path / f"store.sqlite3{suffix}")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "store.sqlite3"))
    get_settings.cache_clear()
    return Client()
