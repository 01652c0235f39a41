"""The one place that picks adapters from settings; each is built lazily, once per instance."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.ai.ports import Embedder, Generator
    from shared.ai.resilience import CircuitBreaker
    from shared.bus.base import EventBus
    from shared.routing.router import Router
    from shared.store.base import Store

_lock = threading.RLock()  # re-entrant: building one instance may need another
_instances: dict[str, Any] = {}


def get_store() -> Store:
    store: Store = _once("store", _build_store)
    return store


def get_bus() -> EventBus:
    bus: EventBus = _once("bus", _build_bus)
    return bus


def get_embedder() -> Embedder:
    embedder: Embedder = _once("embedder", _build_embedder)
    return embedder


def get_generator() -> Generator:
    generator: Generator = _once("generator", _build_generator)
    return generator


def get_router() -> Router:
    """The intent router of this instance: exemplars from the store, embedded only if missing."""
    router: Router = _once("router", _build_router)
    return router


def get_breaker(name: str) -> CircuitBreaker:
    """The circuit breaker of one dependency ("embedder", "generator"), shared by its callers."""
    breaker: CircuitBreaker = _once(f"breaker:{name}", lambda: _build_breaker(name))
    return breaker


def peek(key: str) -> Any:
    """An instance if this process has built it, else None (health checks build nothing)."""
    with _lock:
        return _instances.get(key)


def _once(key: str, build: Any) -> Any:
    with _lock:
        if key not in _instances:
            _instances[key] = build()
        return _instances[key]


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


def _build_breaker(name: str) -> CircuitBreaker:
    from shared.ai.resilience import CircuitBreaker

    settings = get_settings()
    return CircuitBreaker(
        name, threshold=settings.breaker_failures, cooldown_s=settings.breaker_cooldown_s
    )


def _retry_policy() -> Any:
    from shared.ai.resilience import RetryPolicy

    settings = get_settings()
    return RetryPolicy(attempts=settings.model_attempts, budget_s=settings.model_retry_budget_s)


def _build_embedder() -> Embedder:
    from shared.ai.guarded import GuardedEmbedder

    settings = get_settings()
    inner: Embedder
    if settings.genai_kind == "offline":
        from shared.ai.local_embedder import LocalEmbedder

        inner = LocalEmbedder()
    else:
        from shared.ai.gemini import GeminiEmbedder

        inner = GeminiEmbedder(
            _genai_client(), settings.embedding_model, settings.embedding_dimensions
        )
    return GuardedEmbedder(inner, _retry_policy(), get_breaker("embedder"))


def _build_generator() -> Generator:
    from shared.ai.guarded import GuardedGenerator

    settings = get_settings()
    inner: Generator
    if settings.genai_kind == "offline":
        from shared.ai.offline_writer import OfflineWriter

        inner = OfflineWriter()
    else:
        from shared.ai.gemini import GeminiGenerator

        inner = GeminiGenerator(
            _genai_client(),
            settings.generation_model,
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
        )
    return GuardedGenerator(inner, _retry_policy(), get_breaker("generator"))


def _genai_client() -> Any:
    """One google-genai client per instance, shared by the embedder and the generator."""

    def build() -> Any:
        from shared.ai.gemini import make_client

        return make_client(get_settings())

    return _once("genai_client", build)


def _build_router() -> Router:
    from shared.routing.calibration import load_calibration
    from shared.routing.exemplars import exemplar_matrix, load_routes
    from shared.routing.router import Router

    embedder = get_embedder()
    examples = load_routes()
    return Router(
        [text for _, text in examples],
        [intent for intent, _ in examples],
        exemplar_matrix(get_store(), embedder, examples),
        load_calibration(embedder.model_id),
        embedder=embedder,
        generator=get_generator(),
    )
