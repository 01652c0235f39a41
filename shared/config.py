"""Settings: the one reader of the environment. Every field is documented in .env.example."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Typed configuration, read from the environment (and `.env` locally) once per process."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True
    )

    # --- local stack and logs
    port: int = Field(8080, ge=1, le=65535, description="Port of the local stack.")
    host: str = Field("127.0.0.1", description="Address the local stack listens on.")
    catalog: str = Field(
        "data/catalog", description="Local stack: the catalog directory it ingests at start."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    local_dir: str = Field(".local", description="Where the embedded adapters keep their data.")

    # --- document store
    store_backend: Literal["auto", "sqlite", "firestore"] = "auto"
    sqlite_path: str = Field("", description="SQLite file; empty means <local_dir>/store.sqlite3.")
    google_cloud_project: str | None = None
    firestore_database: str = "(default)"
    firestore_emulator_host: str | None = None
    store_timeout_s: float = Field(10.0, gt=0, le=120)

    # --- event bus
    bus_backend: Literal["auto", "local", "pubsub"] = "auto"
    pubsub_emulator_host: str | None = None
    ingest_topic: str = "ingest"
    metrics_topic: str = "metrics"
    dead_letter_suffix: str = "-dead-letter"
    publish_timeout_s: float = Field(10.0, gt=0, le=120)
    bus_max_attempts: int = Field(5, ge=1, le=100, description="Local bus: deliveries per message.")
    bus_backoff_s: float = Field(0.5, ge=0, le=60, description="Local bus: first retry delay.")
    max_event_age_s: int = Field(
        86_400, ge=60, description="An event older than this is dead-lettered, not retried."
    )
    metrics_shards: int = Field(
        32,
        ge=1,
        le=128,
        description="Documents per minute the metrics spread their writes over: about one "
        "write a second each at this many turns a second.",
    )
    metrics_ttl_days: int = Field(30, ge=1, le=400, description="How long minute documents stay.")
    processed_marker_ttl_s: int = Field(
        7 * 86_400, ge=600, description="How long a handled message id is remembered."
    )

    # --- HTTP
    cors_allowed_origins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Comma-separated origins a browser may call from; unset: the local stack's.",
    )
    max_body_bytes: int = Field(16 * 1024, ge=256, le=1024 * 1024)
    rate_limit_per_minute: int = Field(100, ge=1, le=100_000)
    read_rate_limit_per_minute: int = Field(
        120,
        ge=1,
        le=100_000,
        description="Per address: reads (history pages, resume, delete, health), each charged "
        "by its cost.",
    )
    intent_rate_limit_per_minute: int = Field(
        6000,
        ge=1,
        le=1_000_000,
        description="POST /route per minute and client address, per instance of the intent "
        "function (each is an embedding call). Terraform sets a tighter one where it is public.",
    )
    summary_rate_limit_per_minute: int = Field(
        600,
        ge=1,
        le=1_000_000,
        description="GET /summary per minute and client address, per instance of the metrics "
        "function (a dashboard asks 6 a minute).",
    )
    max_generations_in_flight: int = Field(
        64, ge=1, le=10_000, description="Per instance: answers being written at once; then 503."
    )
    max_generations_per_client: int = Field(
        8, ge=1, le=10_000, description="Per instance and client address: the same; then 429."
    )
    turn_lease_s: int = Field(
        300,
        ge=10,
        le=3600,
        description="A session answers one message at a time; a turn that never ends frees "
        "its slot after this long.",
    )
    forwarded_hops: int | None = Field(
        None,
        ge=0,
        le=5,
        description="Proxies in front that append to X-Forwarded-For; unset: 1 on Cloud Run "
        "(its front end), 0 elsewhere (the socket's address). Add 1 per load balancer in front.",
    )

    health_details: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Serve /health/details (adapters, models, breakers): on where only "
        "operators can call the function; auto: on locally, off when deployed.",
    )

    # --- chat sessions and the response cache
    session_secret: SecretStr | None = Field(
        None,
        description="HMAC key of session tokens and user-id hashes (at least 32 characters); "
        "unset locally: a random one kept in <local_dir>/session_secret.",
    )
    session_ttl_s: int = Field(3600, ge=60, le=30 * 86_400, description="Sliding session TTL.")
    session_max_age_s: int = Field(
        86_400,
        ge=60,
        le=365 * 86_400,
        description="A session's absolute lifetime: no turn or resume extends it past this.",
    )
    message_ttl_s: int = Field(
        86_400, ge=60, le=365 * 86_400, description="How long each stored message is kept."
    )
    max_message_chars: int = Field(2000, ge=16, le=16_000)
    history_turns: int = Field(8, ge=0, le=50, description="Recent messages the prompt sees.")
    history_chars: int = Field(6000, ge=0, le=100_000, description="...and at most this text.")
    cache_enabled: bool = True
    cache_ttl_s: int = Field(
        3600, ge=0, le=7 * 86_400, description="Cached answers' TTL (hours and stock: 1/12)."
    )

    # --- models: Gemini API (key), Vertex AI (project + location, ADC), or offline
    genai_backend: Literal["auto", "gemini", "vertex", "offline"] = "auto"
    gemini_api_key: SecretStr | None = None
    google_cloud_location: str = Field("us-central1", description="Vertex AI region.")
    gemini_base_url: str | None = Field(None, description="Another endpoint (a proxy, a fake).")
    embedding_model: str = "gemini-embedding-001"
    embedding_dimensions: int = Field(768, ge=128, le=2048, description="Firestore allows 2048.")
    generation_model: str = "gemini-3.5-flash"
    max_output_tokens: int = Field(1024, ge=16, le=8192)
    temperature: float = Field(0.3, ge=0, le=2)
    offline_stream_delay_ms: int = Field(
        0, ge=0, le=2000, description="The offline writer's pause between chunks (a model's pace)."
    )
    model_timeout_s: float = Field(20.0, gt=0, le=300, description="Each model call's timeout.")
    model_attempts: int = Field(3, ge=1, le=10, description="Tries of a transient failure.")
    model_retry_budget_s: float = Field(5.0, ge=0, le=60, description="Total waiting on retries.")
    breaker_failures: int = Field(5, ge=1, le=100, description="Failures in a row that open it.")
    breaker_cooldown_s: float = Field(
        30.0, gt=0, le=3600, description="Open this long, then probe."
    )

    # --- set by Cloud Run on a deployed function
    k_service: str | None = Field(None, description="The deployed service's name (Cloud Run).")
    function_target: str | None = Field(None, description="The entry point (Cloud Run functions).")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.processed_marker_ttl_s < self.max_event_age_s:
            raise ValueError("PROCESSED_MARKER_TTL_S must be at least MAX_EVENT_AGE_S.")
        if (
            self.k_service
            and not self.google_cloud_project
            and (self.store_backend == "auto" or self.bus_backend == "auto")
        ):
            raise ValueError(
                "A deployed function needs GOOGLE_CLOUD_PROJECT: without it, it would keep its "
                "data in a local file and drop its events."
            )
        if self.k_service and self.genai_kind == "offline" and self.genai_backend == "auto":
            raise ValueError(
                "A deployed function needs GEMINI_API_KEY or GENAI_BACKEND=vertex: the offline "
                "models are not shipped with it."
            )
        if self.session_secret is not None and len(self.session_secret.get_secret_value()) < 32:
            raise ValueError("SESSION_SECRET must be at least 32 characters.")
        if self.k_service and self.function_target == "chat" and self.session_secret is None:
            raise ValueError(
                "The deployed chat function needs SESSION_SECRET (from Secret Manager): tokens "
                "signed with a per-instance key would fail on every other instance."
            )
        if self.genai_kind == "vertex" and not self.google_cloud_project:
            raise ValueError("GENAI_BACKEND=vertex needs GOOGLE_CLOUD_PROJECT.")
        return self

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @property
    def store_kind(self) -> Literal["sqlite", "firestore"]:
        """Firestore when asked for, or when a project or emulator is configured."""
        if self.store_backend != "auto":
            return self.store_backend
        return (
            "firestore" if (self.google_cloud_project or self.firestore_emulator_host) else "sqlite"
        )

    @property
    def bus_kind(self) -> Literal["local", "pubsub"]:
        if self.bus_backend != "auto":
            return self.bus_backend
        return "pubsub" if (self.google_cloud_project or self.pubsub_emulator_host) else "local"

    @property
    def genai_kind(self) -> Literal["gemini", "vertex", "offline"]:
        """Gemini when a key is set (or asked for), else the offline models."""
        if self.genai_backend != "auto":
            return self.genai_backend
        return "gemini" if self.gemini_api_key else "offline"

    @property
    def allowed_origins(self) -> list[str]:
        """The CORS allowlist: as configured; unconfigured, none on a deployed function (Cloud
        Run's PORT is no page's origin), and the local stack's own origin elsewhere."""
        if self.cors_allowed_origins is not None:
            return self.cors_allowed_origins
        if self.k_service:
            return []
        return [f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"]

    @property
    def proxy_hops(self) -> int:
        """Trusted proxies appending to X-Forwarded-For: as set, else 1 on Cloud Run."""
        if self.forwarded_hops is not None:
            return self.forwarded_hops
        return 1 if self.k_service else 0

    @property
    def health_details_served(self) -> bool:
        if self.health_details != "auto":
            return self.health_details == "on"
        return self.k_service is None

    @property
    def sqlite_file(self) -> str:
        return self.sqlite_path or f"{self.local_dir}/store.sqlite3"

    def dead_letter_topic(self, topic: str) -> str:
        return topic + self.dead_letter_suffix


@functools.cache
def get_settings() -> Settings:
    return Settings()
