"""After a turn's answer: persist both messages, cache a complete, grounded answer, publish the
turn event and log the turn, once, whatever ended the answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.ai import fallback
from shared.chat.grounding import ungrounded
from shared.chat.plan import Plan
from shared.chat.report import log_turn, turn_event
from shared.logs import fields
from shared.metrics.event import TurnError

if TYPE_CHECKING:
    from shared.cache.responses import ResponseCache
    from shared.chat.sessions import Sessions
    from shared.metrics.publisher import TurnPublisher

log = logging.getLogger("shared.chat")


class Recorder:
    def __init__(
        self,
        sessions: Sessions,
        cache: ResponseCache | None,
        publisher: TurnPublisher | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions, self.cache, self.publisher, self._clock = sessions, cache, publisher, clock

    def record(
        self,
        plan: Plan,
        reply: str,
        answer: fallback.Answer,
        mark: float,
        error: TurnError | None,
        *,
        cacheable: bool,
    ) -> dict[str, Any]:
        """Persist, cache, publish and log the turn; returns the `done` event's body. Whatever
        happens, the turn's generation slot and its session's turn slot are given back."""
        try:
            return self._finish(plan, reply, answer, mark, error, cacheable)
        finally:
            plan.release()  # the generation slot, and the flight its followers wait on
            self._end_turn(plan)

    def _end_turn(self, plan: Plan) -> None:
        """The session's turn slot, if recording did not give it back (a failed write, a bug)."""
        if plan.lease is None:
            return
        lease, plan.lease = plan.lease, None
        try:
            self.sessions.end_turn(plan.session.id, lease)
        except Exception:  # the slot frees itself at TURN_LEASE_S
            log.warning("turn slot not given back", exc_info=True)

    def _finish(
        self,
        plan: Plan,
        reply: str,
        answer: fallback.Answer,
        mark: float,
        error: TurnError | None,
        cacheable: bool,
    ) -> dict[str, Any]:
        plan.timings["generate"] = _ms(mark)
        fell_back, error = _outcome(plan, answer, error)
        if cacheable and plan.cache_hit is None and not self._grounded(plan, reply):
            cacheable, error = False, error or "ungrounded"
        mark = time.perf_counter()
        if cacheable and plan.cache_hit is None:
            plan.share(reply, plan.sources)  # complete and grounded: the followers' answer too
        persisted = self._persist(plan, reply)
        # A session deleted during the turn gets nothing written on its behalf.
        stored = self._store(plan, reply) if cacheable and persisted != "session_gone" else None
        error = error or persisted or stored
        plan.timings["persist"] = _ms(mark)
        plan.timings["total"] = _ms(plan.started)
        body = {
            "reply": reply,
            **plan.meta(),
            "fallback": fell_back,
            "timings_ms": dict(plan.timings),
        }
        self._publish(plan, body, error)
        log_turn(plan, body, error, len(reply))
        return body

    def _grounded(self, plan: Plan, reply: str) -> bool:
        """Whether the reply says only what its documents or the question back (else it is
        shown but never cached: a lapse, or a planted link, is not repeated to others)."""
        lapse = ungrounded(reply, plan.text, plan.prompt.context, self.cache, plan.catalog_version)
        if lapse:
            log.warning("reply not grounded in its sources", extra=fields(what=lapse))
        return lapse is None

    def _persist(self, plan: Plan, reply: str) -> TurnError | None:
        """Both messages into the session; what went wrong, if anything."""
        try:
            recorded = self.sessions.record_turn(
                plan.session.id,
                plan.text,
                reply,
                intent=plan.decision.intent,
                sources=plan.sources,
                asked_at=plan.asked_at,
                lease=plan.lease,
            )
        except Exception:  # the reader has the answer; the history is what is lost
            log.exception("turn not persisted")
            return "persist_failed"
        if recorded:
            plan.lease = None  # given back in the same write
        return None if recorded else "session_gone"  # deleted or expired during the turn

    def _store(self, plan: Plan, reply: str) -> TurnError | None:
        """A model's complete, grounded answer into the cache; what went wrong, if anything."""
        if self.cache is None or plan.cache_query is None or plan.cache_hit is not None:
            return None
        try:
            self.cache.store_answer(plan.cache_query, answer=reply, sources=plan.sources)
            if not self.sessions.exists(plan.session.id):  # deleted while it was stored
                self.cache.forget(plan.cache_query)
        except Exception:  # the reader has the answer; the next asker pays the model again
            log.exception("answer not cached")
            return "cache_failed"
        return None

    def _publish(self, plan: Plan, body: Mapping[str, Any], error: TurnError | None) -> None:
        if self.publisher is None:
            return
        try:
            self.publisher.publish(turn_event(plan, body, error, self._clock()).wire())
        except Exception:  # never fail a turn over metrics
            log.exception("metrics event not queued")


def _outcome(
    plan: Plan, answer: fallback.Answer, error: TurnError | None
) -> tuple[str | None, TurnError | None]:
    """The turn's fallback rung (None: the model's or the cache's answer) and its error."""
    fell_back = None if plan.cache_hit is not None else answer.fallback
    if error in ("model_stream_failed", "internal_error"):
        fell_back = "apology"  # the model's start, then our apology for the rest
    elif error is None and fell_back is not None:
        error = "model_failed"
    return fell_back, error


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
