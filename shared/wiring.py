"""The one place that picks adapters from settings; each is built lazily, once per instance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.ai import Embedder, TextGenerator
    from shared.ai.resilience import CircuitBreaker
    from shared.bus import EventBus
    from shared.cache.responses import ResponseCache
    from shared.chat.flights import Flights
    from shared.chat.ratelimit import MemoryRateLimiter, RateLimiter
    from shared.chat.sessions import Sessions
    from shared.chat.turn import ChatTurns
    from shared.intent.router import IntentRouter
    from shared.metrics.publisher import TurnPublisher
    from shared.metrics.summary import Summaries
    from shared.search.retrieval import Retriever
    from shared.store import Store

T = TypeVar("T")
_lock = threading.RLock()  # re-entrant: building one instance may need another
_instances: dict[str, Any] = {}


def get_store() -> Store:
    return _once("store", _build_store)


def get_bus() -> EventBus:
    return _once("bus", _build_bus)


def get_embedder() -> Embedder:
    return _once("embedder", _build_embedder)


def get_generator() -> TextGenerator:
    return _once("generator", _build_generator)


def get_intent_router() -> IntentRouter:
    """The intent router of this instance: exemplars from the store, embedded only if missing."""
    return _once("router", _build_router)


def get_retriever() -> Retriever:
    return _once("retriever", _build_retriever)


def get_sessions() -> Sessions:
    return _once("sessions", _build_sessions)


def get_rate_limiter() -> RateLimiter:
    return _once("rate_limiter", _build_rate_limiter)


def get_read_limiter() -> RateLimiter:
    """The buckets that reads (history, resume, delete, health) are charged to, per address."""
    return _once("read_limiter", _build_read_limiter)


def get_route_limiter() -> MemoryRateLimiter:
    """The intent function's per-address buckets (in memory: it holds no session key)."""
    per_minute = get_settings().intent_rate_limit_per_minute
    return _once("route_limiter", lambda: _memory_limiter(per_minute))


def get_summary_limiter() -> MemoryRateLimiter:
    """The metrics function's per-address buckets for GET /summary (in memory, likewise)."""
    per_minute = get_settings().summary_rate_limit_per_minute
    return _once("summary_limiter", lambda: _memory_limiter(per_minute))


def get_flights() -> Flights:
    """This instance's generations in flight: bounded, and shared by identical questions."""
    return _once("flights", _build_flights)


def get_response_cache() -> ResponseCache | None:
    """None when CACHE_ENABLED is false."""
    return _once("response_cache", _build_response_cache)


def get_metrics_publisher() -> TurnPublisher:
    """Per-turn metrics events, published from a bounded queue off the request path."""
    return _once("metrics_publisher", _build_metrics_publisher)


def get_summaries() -> Summaries:
    return _once("summaries", _build_summaries)


def get_chat() -> ChatTurns:
    return _once("chat", _build_chat)


def get_breaker(name: str) -> CircuitBreaker:
    """The circuit breaker of one dependency ("embedder", "generator"), shared by its callers."""
    return _once(f"breaker:{name}", lambda: _build_breaker(name))


def peek(key: str) -> Any:
    """An instance if this process has built it, else None (health checks build nothing)."""
    with _lock:
        return _instances.get(key)


def _once(key: str, build: Callable[[], T]) -> T:
    with _lock:
        if key not in _instances:
            _instances[key] = build()
        built: T = _instances[key]
        return built


def reset() -> None:
    """Forget every instance (tests; the local stack between runs), closing each after the
    ones built on it (the metrics publisher before the bus, the cache before the store)."""
    with _lock:
        for instance in reversed(list(_instances.values())):
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


def _build_generator() -> TextGenerator:
    from shared.ai.guarded import GuardedGenerator

    settings = get_settings()
    inner: TextGenerator
    if settings.genai_kind == "offline":
        from shared.ai.offline_writer import OfflineWriter

        inner = OfflineWriter(settings.offline_stream_delay_ms / 1000)
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


def _build_router() -> IntentRouter:
    from shared.intent.calibration import load_calibration
    from shared.intent.exemplars import exemplar_matrix, load_routes
    from shared.intent.router import IntentRouter

    embedder = get_embedder()
    examples = load_routes()
    return IntentRouter(
        [text for _, text in examples],
        [intent for intent, _ in examples],
        exemplar_matrix(get_store(), embedder, examples),
        load_calibration(embedder.model_id),
        embedder=embedder,
        generator=get_generator(),
    )


def _build_retriever() -> Retriever:
    from shared.search.retrieval import Retriever

    return Retriever(get_store(), get_embedder())


def _build_sessions() -> Sessions:
    from shared.chat.keys import session_key
    from shared.chat.sessions import Sessions

    settings = get_settings()
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    return Sessions(
        get_store(),
        session_key(secret, settings.local_dir),
        ttl_s=settings.session_ttl_s,
        max_age_s=settings.session_max_age_s,
        message_ttl_s=settings.message_ttl_s,
        history_turns=settings.history_turns,
        history_chars=settings.history_chars,
    )


def _build_rate_limiter() -> RateLimiter:
    return _store_limiter(get_settings().rate_limit_per_minute)


def _build_read_limiter() -> RateLimiter:
    return _store_limiter(get_settings().read_rate_limit_per_minute)


def _store_limiter(per_minute: int) -> RateLimiter:
    from shared.chat.ratelimit import RateLimiter

    # Bucket ids are keyed hashes: no address can be read back from them.
    salt = get_sessions().user_hash("rate-limit-salt")
    return RateLimiter(get_store(), per_minute, salt=salt)


def _memory_limiter(per_minute: int) -> MemoryRateLimiter:
    from shared.chat.ratelimit import MemoryRateLimiter

    return MemoryRateLimiter(per_minute)


def _build_flights() -> Flights:
    from shared.chat.flights import Flights

    settings = get_settings()
    return Flights(
        max_in_flight=settings.max_generations_in_flight,
        max_per_client=settings.max_generations_per_client,
        wait_s=settings.model_timeout_s,
    )


def _build_response_cache() -> ResponseCache | None:
    from shared.cache.responses import ResponseCache

    settings = get_settings()
    return (
        ResponseCache(get_store(), ttl_s=settings.cache_ttl_s) if settings.cache_enabled else None
    )


def _build_metrics_publisher() -> TurnPublisher:
    from shared.metrics.publisher import TurnPublisher

    return TurnPublisher(get_bus(), get_settings().metrics_topic)


def _build_chat() -> ChatTurns:
    from shared.chat.turn import ChatTurns

    return ChatTurns(
        sessions=get_sessions(),
        router=get_intent_router(),
        retriever=get_retriever(),
        cache=get_response_cache(),
        generator=get_generator(),
        embedder=get_embedder(),
        publisher=get_metrics_publisher(),
        flights=get_flights(),
    )


def _build_summaries() -> Summaries:
    from shared.metrics.summary import Summaries

    return Summaries(get_store())
