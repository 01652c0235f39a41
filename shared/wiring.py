"""The one place that picks adapters from settings; each is built lazily, once per instance."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

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


def get_generator() -> TextGenerator:
    generator: TextGenerator = _once("generator", _build_generator)
    return generator


def get_intent_router() -> IntentRouter:
    """The intent router of this instance: exemplars from the store, embedded only if missing."""
    router: IntentRouter = _once("router", _build_router)
    return router


def get_retriever() -> Retriever:
    retriever: Retriever = _once("retriever", _build_retriever)
    return retriever


def get_sessions() -> Sessions:
    sessions: Sessions = _once("sessions", _build_sessions)
    return sessions


def get_rate_limiter() -> RateLimiter:
    limiter: RateLimiter = _once("rate_limiter", _build_rate_limiter)
    return limiter


def get_read_limiter() -> RateLimiter:
    """The buckets that reads (history, resume, delete, health) are charged to, per address."""
    limiter: RateLimiter = _once("read_limiter", _build_read_limiter)
    return limiter


def get_route_limiter() -> MemoryRateLimiter:
    """The intent function's per-address buckets (in memory: it holds no session key)."""
    limiter: MemoryRateLimiter = _once("route_limiter", _build_route_limiter)
    return limiter


def get_summary_limiter() -> MemoryRateLimiter:
    """The metrics function's per-address buckets for GET /summary (in memory, likewise)."""
    limiter: MemoryRateLimiter = _once("summary_limiter", _build_summary_limiter)
    return limiter


def get_flights() -> Flights:
    """This instance's generations in flight: bounded, and shared by identical questions."""
    flights: Flights = _once("flights", _build_flights)
    return flights


def get_response_cache() -> ResponseCache | None:
    """None when CACHE_ENABLED is false."""
    cache: ResponseCache | None = _once("response_cache", _build_response_cache)
    return cache


def get_metrics_publisher() -> TurnPublisher:
    """Per-turn metrics events, published from a bounded queue off the request path."""
    publisher: TurnPublisher = _once("metrics_publisher", _build_metrics_publisher)
    return publisher


def get_summaries() -> Summaries:
    summaries: Summaries = _once("summaries", _build_summaries)
    return summaries


def get_chat() -> ChatTurns:
    chat: ChatTurns = _once("chat", _build_chat)
    return chat


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
    from shared.chat.ratelimit import RateLimiter

    settings = get_settings()
    # Bucket ids are keyed hashes: no address can be read back from them.
    salt = get_sessions().user_hash("rate-limit-salt")
    return RateLimiter(get_store(), settings.rate_limit_per_minute, salt=salt)


def _build_read_limiter() -> RateLimiter:
    from shared.chat.ratelimit import RateLimiter

    settings = get_settings()
    salt = get_sessions().user_hash("rate-limit-salt")
    return RateLimiter(get_store(), settings.read_rate_limit_per_minute, salt=salt)


def _build_route_limiter() -> MemoryRateLimiter:
    from shared.chat.ratelimit import MemoryRateLimiter

    return MemoryRateLimiter(get_settings().intent_rate_limit_per_minute)


def _build_summary_limiter() -> MemoryRateLimiter:
    from shared.chat.ratelimit import MemoryRateLimiter

    return MemoryRateLimiter(get_settings().summary_rate_limit_per_minute)


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
