"""The one place that picks adapters from settings; each is built lazily, once per instance."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.bus.base import EventBus
    from shared.store.base import Store

_lock = threading.Lock()
_instances: dict[str, Any] = {}


def get_store() -> Store:
    with _lock:
        if "store" not in _instances:
            _instances["store"] = _build_store()
        store: Store = _instances["store"]
        return store


def get_bus() -> EventBus:
    with _lock:
        if "bus" not in _instances:
            _instances["bus"] = _build_bus()
        bus: EventBus = _instances["bus"]
        return bus


def reset() -> None:
    """Forget every instance (tests; the local stack between runs)."""
    with _lock:
        for instance in _instances.values():
            close = getattr(instance, "close", None)
            if close is not None:
                close()
        _instances.clear()


def _build_store() -> Store:
    settings = get_settings()
    if settings.store_kind == "firestore":
        from google.cloud import firestore

        from shared.store.firestore_store import FirestoreStore

        client = firestore.Client(
            project=settings.google_cloud_project, database=settings.firestore_database
        )
        return FirestoreStore(client, timeout_s=settings.store_timeout_s)
    from shared.store.sqlite_store import SqliteStore

    return SqliteStore(settings.sqlite_file)


def _build_bus() -> EventBus:
    settings = get_settings()
    if settings.bus_kind == "pubsub":
        from shared.bus.pubsub_bus import PubSubBus

        return PubSubBus.from_settings(settings)
    from shared.bus.local_bus import LocalBus

    return LocalBus(
        max_attempts=settings.bus_max_attempts,
        backoff_s=settings.bus_backoff_s,
        dead_letter_suffix=settings.dead_letter_suffix,
    )
