"""One chat turn: route, retrieve, look in the cache, answer through the ladder, record.

The text is embedded once; routing, retrieval and the semantic cache all use that vector.
`plan` does everything before the model (its result is what SSE's `meta` event reports);
`run` streams the answer, then persists both messages, caches a model's complete answer and
publishes one turn event. A reader that leaves mid-answer closes `run`, which closes the
model's stream with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from shared.ai import ModelError, ModelUnavailable, Prompt, fallback
from shared.ai.prompts import REFUSAL, SYSTEM, echoes_instructions
from shared.cache.responses import (
    CacheHit,
    CacheQuery,
    ResponseCache,
    context_fingerprint,
    names_nothing,
)
from shared.chat.grounding import ungrounded
from shared.chat.plan import Plan
from shared.chat.report import log_turn, turn_event
from shared.chat.sources import SEARCHES, card, context_doc, relevant
from shared.intent.router import Decision
from shared.logs import fields
from shared.metrics.event import TurnError
from shared.store import utc_now

if TYPE_CHECKING:
    import numpy as np

    from shared.ai import Embedder, TextGenerator
    from shared.chat.sessions import Session, Sessions
    from shared.intent.router import IntentRouter
    from shared.metrics.publisher import TurnPublisher
    from shared.search.retrieval import Retriever, SearchHit

log = logging.getLogger("shared.chat")
StreamEvent = tuple[Literal["delta", "done"], Any]
CUT_SHORT = "\n\n(The answer was cut short. Please ask again.)"
_TAILS = {"echo": REFUSAL, "cut": CUT_SHORT.strip()}


class ChatTurns:
    def __init__(
        self,
        *,
        sessions: Sessions,
        router: IntentRouter,
        retriever: Retriever,
        cache: ResponseCache | None,
        generator: TextGenerator,
        embedder: Embedder,
        publisher: TurnPublisher | None,
        clock: Any = utc_now,
    ) -> None:
        self.sessions, self.router, self.retriever = sessions, router, retriever
        self.cache, self.generator, self.embedder = cache, generator, embedder
        self.publisher = publisher
        self._clock = clock

    # --- before the model

    def plan(self, session: Session, text: str) -> Plan:
        started = time.perf_counter()
        asked_at = self._clock()
        timings: dict[str, float] = {}
        errors: list[TurnError] = []
        # The version first: an ingest landing during retrieval must not get an answer built
        # from the old documents stored under the new version.
        version = self._catalog_version(errors)
        vector = self._embed(text, timings, errors)
        mark = time.perf_counter()
        decision = (
            self.router.decide(vector, text)
            if vector is not None
            else Decision("GENERAL_CONVERSATION", 0.0, None, "default", {})
        )
        timings["route"] = _ms(mark)
        mark = time.perf_counter()
        hits = self._search(text, vector, decision)
        timings["search"] = _ms(mark)
        # A question that stands on its own is answered without the conversation, so that its
        # answer (cached, maybe served to others) holds nothing private. One that leans on the
        # conversation is keyed on exactly the window the model sees.
        context = self._context(text, session, version)
        history = session.turns if context or self.cache is None else ()
        query = None
        if vector is not None and version is not None:
            query = CacheQuery(
                text, vector, self.embedder.model_id, decision.intent, context, version
            )
        mark = time.perf_counter()
        hit = self._lookup(query, errors) if query is not None else None
        timings["cache"] = _ms(mark)
        prompt = Prompt(
            system=SYSTEM,
            user=text,
            intent=decision.intent,
            history=history,
            context=[context_doc(h) for h in hits],
        )
        return Plan(
            session=session,
            text=text,
            asked_at=asked_at,
            started=started,
            decision=decision,
            sources=hit.sources if hit is not None else [card(h) for h in hits],
            prompt=prompt,
            catalog_version=version,
            context=context,
            cache_query=query,
            cache_hit=hit,
            top_score=hits[0].score if hits else None,
            timings=timings,
            error=errors[0] if errors else None,
        )

    def _search(self, text: str, vector: np.ndarray | None, decision: Decision) -> list[SearchHit]:
        """The intent's searches, each kind's hits cut to those worth showing."""
        hits: list[SearchHit] = []
        if vector is not None:
            for kind, k in SEARCHES[decision.intent]:
                found = self.retriever.search(text, kind, k, vector=vector)  # type: ignore[arg-type]
                hits.extend(relevant(found.hits, text, others=hits))
        return hits

    def _context(self, text: str, session: Session, version: int | None) -> str:
        """The conversation fingerprint of the cache key: "" for a standalone question."""
        vague = False
        if session.turns and self.cache is not None and version is not None:
            try:
                vague = names_nothing(self.cache.guard(version).details(text))
            except Exception:  # unsure: treat it as leaning on the conversation
                log.exception("guard unavailable")
                vague = True
        return context_fingerprint(text, session.turns, names_nothing=vague)

    def _embed(
        self, text: str, timings: dict[str, float], errors: list[TurnError]
    ) -> np.ndarray | None:
        """The query's vector, or None when the embedder is down: then no routing, search or
        semantic cache, and the model (which may still be up) answers alone."""
        mark = time.perf_counter()
        try:
            vector: np.ndarray = self.embedder.embed([text], "query")[0]
            return vector
        except (ModelUnavailable, ModelError) as e:
            errors.append("embed_failed")
            log.warning("turn without embedding", extra=fields(error=type(e).__name__))
            return None
        finally:
            timings["embed"] = _ms(mark)

    def _catalog_version(self, errors: list[TurnError]) -> int | None:
        if self.cache is None:
            return None
        try:
            return self.cache.catalog_version()
        except Exception as e:  # the cache is an optimisation: without it, answer anyway
            errors.append("cache_failed")
            log.warning("catalog version unreadable", extra=fields(error=type(e).__name__))
            return None

    def _lookup(
        self, query: CacheQuery, errors: list[TurnError], relax: float = 0.0
    ) -> CacheHit | None:
        """A cache hit, or None; a failing cache (store down, vectors of another model) is a
        miss, logged and counted, never a failed turn."""
        if self.cache is None:
            return None
        try:
            return self.cache.lookup(query, relax=relax)
        except Exception as e:
            errors.append("cache_failed")
            log.warning("cache lookup failed", extra=fields(error=type(e).__name__))
            return None

    # --- the answer

    def run(self, plan: Plan) -> Generator[StreamEvent, None, None]:
        """`delta` events as the answer arrives, then `done` with the whole reply. Whatever
        happens (the model failing mid-stream, a bug, the reader leaving at any point) the
        turn is recorded once, with what was said and why it stopped."""
        mark = time.perf_counter()
        if plan.cache_hit is not None:
            answer = fallback.Answer(iter([plan.cache_hit.answer]))
        else:
            answer = fallback.answer(self.generator, plan.prompt, lambda: self._cached(plan))
        parts: list[str] = []
        error: TurnError | None = plan.error
        stop: str | None = None  # why the stream ended early: "echo", "cut"
        body: dict[str, Any] | None = None
        try:
            try:
                for chunk in answer.chunks:
                    if echoes_instructions("".join([*parts, chunk])[-4000:]):
                        stop = "echo"
                        log.warning("reply echoed the instructions; replaced")
                        break
                    parts.append(chunk)
                    yield ("delta", chunk)
            except (ModelUnavailable, ModelError) as e:
                stop, error = "cut", "model_stream_failed"
                log.warning("answer cut short", extra=fields(error=type(e).__name__))
            except Exception:  # a bug must not lose the turn or the reader's answer so far
                stop, error = "cut", "internal_error"
                log.exception("answer failed")
            finally:
                answer.close()  # ends the model's stream: at the end, on a break, on a leave
            tail = _TAILS.get(stop or "", "")
            if tail:
                tail = ("\n\n" if parts else "") + tail
                parts.append(tail)
                yield ("delta", tail)
            cacheable = answer.cacheable and stop is None
            body = self._record(plan, "".join(parts), answer, mark, error, cacheable=cacheable)
        except GeneratorExit:
            if body is None:
                self._record(plan, "".join(parts), answer, mark, "client_closed", cacheable=False)
            raise
        yield ("done", body)

    def abandon(self, plan: Plan) -> None:
        """The reader left before the answer started: the turn is still recorded."""
        nothing = fallback.Answer(iter(()))
        self._record(plan, "", nothing, time.perf_counter(), "client_closed", cacheable=False)

    def _cached(self, plan: Plan) -> str | None:
        """The ladder's cache rung: a guarded neighbour a little further away than a normal
        hit may be (the model being down, a near answer beats none). The guard's word and
        detail checks still apply in full."""
        if plan.cache_query is None:
            return None
        hit = self._lookup(plan.cache_query, [], relax=0.05)
        return hit.answer if hit is not None else None

    # --- after the answer

    def _record(
        self,
        plan: Plan,
        reply: str,
        answer: fallback.Answer,
        mark: float,
        error: TurnError | None,
        *,
        cacheable: bool,
    ) -> dict[str, Any]:
        """Persist, cache, publish and log the turn; returns the `done` event's body."""
        plan.timings["generate"] = _ms(mark)
        fell_back, error = _outcome(plan, answer, error)
        if cacheable and plan.cache_hit is None and not self._grounded(plan, reply):
            cacheable, error = False, error or "ungrounded"
        mark = time.perf_counter()
        persisted = self._persist(plan, reply)
        stored = self._store(plan, reply) if cacheable else None
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
            )
        except Exception:  # the reader has the answer; the history is what is lost
            log.exception("turn not persisted")
            return "persist_failed"
        return None if recorded else "session_gone"  # deleted or expired during the turn

    def _store(self, plan: Plan, reply: str) -> TurnError | None:
        """A model's complete, grounded answer into the cache; what went wrong, if anything."""
        if self.cache is None or plan.cache_query is None or plan.cache_hit is not None:
            return None
        try:
            self.cache.store_answer(plan.cache_query, answer=reply, sources=plan.sources)
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
