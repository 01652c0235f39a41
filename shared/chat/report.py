"""What a finished turn tells the operator: one turn event (to the metrics function) and one
log line; neither holds the user's text or id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.chat.plan import Plan
from shared.logs import fields
from shared.metrics.event import TurnError, TurnEvent

log = logging.getLogger("shared.chat")


def turn_event(
    plan: Plan, body: Mapping[str, Any], error: TurnError | None, now: datetime
) -> TurnEvent:
    """The turn event of a finished turn (`body`: the `done` event's)."""
    return TurnEvent(
        turn_id=uuid.uuid4().hex,
        ts=now,
        intent=plan.decision.intent,
        confidence=round(plan.decision.confidence, 4),
        method=plan.decision.method,
        cached=body["cached"],
        cache_kind=plan.cache_hit.kind if plan.cache_hit else None,
        fallback=body["fallback"],
        top_score=None if plan.top_score is None else round(plan.top_score, 4),
        result_count=len(plan.sources),
        timings_ms=body["timings_ms"],
        error=error,
    )


def log_turn(
    plan: Plan, body: Mapping[str, Any], error: TurnError | None, reply_chars: int
) -> None:
    log.info(
        "turn",
        extra=fields(
            intent=plan.decision.intent,
            method=plan.decision.method,
            cached=body["cached"],
            fallback=body["fallback"],
            sources=len(plan.sources),
            error=error,
            reply_chars=reply_chars,
            **{f"{k}_ms": v for k, v in plan.timings.items()},
        ),
    )
