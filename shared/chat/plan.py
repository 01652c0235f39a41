"""A turn's plan: everything known before the model is called."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.ai import Prompt
    from shared.cache.responses import CacheHit, CacheQuery
    from shared.chat.sessions import Session
    from shared.intent.router import Decision
    from shared.metrics.event import TurnError


@dataclass
class Plan:
    """Everything known before the model is called."""

    session: Session
    text: str
    asked_at: datetime
    started: float
    decision: Decision
    sources: list[dict[str, Any]]
    prompt: Prompt
    catalog_version: int | None  # None: the cache is off or unreadable for this turn
    context: str
    cache_query: CacheQuery | None  # None: no cache, no catalog version or no vector
    cache_hit: CacheHit | None
    top_score: float | None
    timings: dict[str, float] = field(default_factory=dict)
    error: TurnError | None = None  # what degraded the turn, for the turn event
    release: Callable[[], None] = field(default=lambda: None, repr=False)  # its generation slot
    lease: str | None = None  # the session's turn slot this turn holds (api.py takes it)
    # a complete answer, for whoever asked the very same question at the same time
    share: Callable[[str, list[dict[str, Any]]], None] = field(
        default=lambda answer, sources: None, repr=False
    )

    def meta(self) -> dict[str, Any]:
        return {
            "intent": self.decision.intent,
            "confidence": round(self.decision.confidence, 4),
            "method": self.decision.method,
            "sources": self.sources,
            "cached": self.cache_hit is not None,
        }
