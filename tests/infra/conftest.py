"""What the code really does to the store and the bus, recorded while the functions run their
main paths through functions-framework; the Terraform checks compare it with terraform/."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary

from shared import wiring
from shared.bus.local_bus import LocalBus, wsgi_subscriber
from shared.config import get_settings
from shared.store import EXPIRES_AT, DistanceMeasure, Embedding, Filter, Hit, Write
from shared.store.sqlite_store import SqliteStore
from tests.infra.terraform_model import Terraform, load
from tests.integration.chat_support import Client, catalog_db  # noqa: F401 - a fixture
from tests.integration.conftest import function_client, pubsub_event


@dataclass
class Usage:
    expiring: set[str] = field(default_factory=set)  # collection ids written with expires_at
    nearest: set[tuple[str, str, tuple[str, ...]]] = field(default_factory=set)
    published: set[str] = field(default_factory=set)


def collection_id(path: str) -> str:
    """`sessions/abc/messages` -> `messages`: TTL policies and indexes name collection ids."""
    return path.rsplit("/", 1)[-1]


class RecordingStore(SqliteStore):
    usage: Usage

    def _apply(self, w: Write) -> None:
        if w.kind != "delete" and EXPIRES_AT in w.data:
            self.usage.expiring.add(collection_id(w.collection))
        super()._apply(w)

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
        self.usage.nearest.add(
            (collection_id(collection), field, tuple(sorted(f.field for f in where)))
        )
        return super().nearest(
            collection,
            field=field,
            query=query,
            k=k,
            measure=measure,
            threshold=threshold,
            where=where,
        )


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    return load()


@pytest.fixture
def usage(catalog_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Usage:  # noqa: F811
    """Run the product's paths once and record what they touch."""
    for suffix in ("", "-wal", "-shm"):
        source = catalog_db.with_name(catalog_db.name + suffix)
        if source.exists():
            shutil.copy(source, tmp_path / f"store.sqlite3{suffix}")
    get_settings.cache_clear()
    seen = Usage()
    store = RecordingStore(tmp_path / "store.sqlite3")
    store.usage = seen
    wiring._instances["store"] = store
    bus = wiring.get_bus()
    assert isinstance(bus, LocalBus)
    real_publish = bus.publish

    def publish(topic: str, payload: Mapping[str, Any], **kw: Any) -> str:
        seen.published.add(topic)
        return real_publish(topic, payload, **kw)

    monkeypatch.setattr(bus, "publish", publish)
    settings = get_settings()
    bus.subscribe(
        settings.metrics_topic,
        wsgi_subscriber(function_client_app("metrics", "metrics_events")),
        name="metrics-events",
    )
    chat = Client()
    s = chat.session("someone")
    for question in (
        "recommend a dark roast coffee",
        "recommend a dark roast coffee",
        "which shops are open on sunday in Seattle?",
        "is it open late?",
    ):
        assert chat.turn(s, question).status_code == 200
    chat.get(f"/sessions/{s.id}", headers=s.auth)
    chat.post(f"/sessions/{s.id}/resume", headers=s.auth)
    assert chat.delete(f"/sessions/{s.id}", headers=s.auth).status_code == 204
    function_client("intent").post("/route", json={"query": "hello"})
    ingest = function_client("ingest", "cloudevent")
    for payload in ({"kind": "shops", "records": [{"id": "x"}]}, b"not json"):
        headers, body = to_binary(pubsub_event(payload, message_id=str(id(payload))))
        ingest.post("/", headers=headers, data=body)
    wiring.get_metrics_publisher().flush(10)
    bus.drain(30)
    cache = wiring.get_response_cache()
    assert cache is not None
    cache.flush_hits()
    function_client("metrics").get("/summary")
    return seen


def function_client_app(name: str, target: str) -> Any:
    from scripts.devserver import load_function

    return load_function(name, "cloudevent", target)
