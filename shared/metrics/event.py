"""The turn event: what the chat function publishes after each turn and the metrics function
counts. One model for both ends; no user text and no user id ever go in it."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Stage = Literal["embed", "route", "search", "cache", "generate", "persist", "total"]
STAGES: tuple[str, ...] = get_args(Stage)
# What degraded a turn. The consumer accepts any code of this shape, not only these: a chat
# function deployed with a new code must not have its events dead-lettered by an older
# metrics function.
TurnError = Literal[
    "embed_failed",
    "cache_failed",
    "model_failed",
    "model_stream_failed",
    "internal_error",
    "client_closed",
    "ungrounded",
    "session_gone",
    "persist_failed",
]
TURN_ERRORS: tuple[str, ...] = get_args(TurnError)


class TurnEvent(BaseModel):
    """One chat turn, as the chat function publishes it (no user text, no user id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    turn_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    ts: AwareDatetime
    intent: Literal["PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"]
    confidence: float = Field(ge=-1, le=1)
    method: Literal["embedding", "llm", "default"]
    cached: bool
    cache_kind: Literal["exact", "semantic"] | None = None
    fallback: Literal["cache", "static", "apology"] | None = None
    top_score: float | None = None
    result_count: int = Field(ge=0, le=1000)
    timings_ms: dict[Stage, float] = Field(default_factory=dict)
    error: str | None = Field(None, pattern=r"^[a-z_]{1,40}$")

    def wire(self) -> dict[str, Any]:
        """The JSON body published to the metrics topic ("error" only when there is one)."""
        return self.model_dump(mode="json", exclude={"error"} if self.error is None else None)
