"""One chat turn: route, retrieve, look in the cache, answer through the ladder, record.

The text is embedded once; routing, retrieval and the semantic cache all use that vector.
`plan` does everything before the model (its result is what SSE's `meta` event reports);
`run` streams the answer, then persists both messages, caches a model's complete answer and
publishes one metrics event. A reader that leaves mid-answer closes `run`, which closes the
model's stream with it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.ai import fallback
from shared.ai.offline_format import content_words
from shared.ai.ports import ContextDoc, ModelError, ModelUnavailable, Prompt
from shared.ai.prompts import REFUSAL, SYSTEM, echoes_instructions
from shared.logs import fields
from shared.response_cache import CacheHit, ResponseCache, context_fingerprint
from shared.routing.router import Decision
from shared.store.base import utc_now

if TYPE_CHECKING:
    import numpy as np

    from shared.ai.ports import Embedder
    from shared.ai.ports import Generator as TextGenerator
    from shared.retrieval import Retriever, SearchHit
    from shared.routing.router import Router
    from shared.sessions import Session, Sessions
    from shared.turn_events import EventPublisher

log = logging.getLogger("shared.chat")
Event = tuple[Literal["delta", "done"], Any]
SEARCHES: dict[str, tuple[tuple[str, int], ...]] = {
    "PRODUCT_RAG": (("products", 5), ("documents", 2)),
    "LOCATION_RAG": (("shops", 5),),
    "GENERAL_CONVERSATION": (),
}
CUT_SHORT = "\n\n(The answer was cut short. Please ask again.)"
# A hit this far below the best of its kind is noise next to it (a named shop, then four
# others that merely passed the floor): it neither reaches the model nor becomes a card.
RELATIVE_CUT = 0.2
# What a source card may show, besides id, kind, name and score.
_CARD_FIELDS = {
    "product": ("price", "currency", "category"),
    "shop": ("address", "city", "state", "hours"),
    "document": ("title", "url"),
}


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
    vector: np.ndarray | None
    catalog_version: int
    context: str
    cache_hit: CacheHit | None
    top_score: float | None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # what degraded the turn, for the metrics event

    def meta(self) -> dict[str, Any]:
        return {
            "intent": self.decision.intent,
            "confidence": round(self.decision.confidence, 4),
            "method": self.decision.method,
            "sources": self.sources,
            "cached": self.cache_hit is not None,
        }


class ChatTurns:
    def __init__(
        self,
        *,
        sessions: Sessions,
        router: Router,
        retriever: Retriever,
        cache: ResponseCache | None,
        generator: TextGenerator,
        embedder: Embedder,
        events: EventPublisher | None,
        clock: Any = utc_now,
    ) -> None:
        self.sessions, self.router, self.retriever = sessions, router, retriever
        self.cache, self.generator, self.embedder, self.events = cache, generator, embedder, events
        self._clock = clock

    # --- before the model

    def plan(self, session: Session, text: str) -> Plan:
        started = time.perf_counter()
        asked_at = self._clock()
        timings: dict[str, float] = {}
        error = None
        vector = None
        mark = time.perf_counter()
        try:
            vector = self.embedder.embed([text], "query")[0]
        except (ModelUnavailable, ModelError) as e:
            # No vector: no routing, no search, no semantic cache. The model may still answer.
            error = "embed_failed"
            log.warning("turn without embedding", extra=fields(error=type(e).__name__))
        timings["embed"] = _ms(mark)
        mark = time.perf_counter()
        decision = (
            self.router.decide(vector, text)
            if vector is not None
            else Decision("GENERAL_CONVERSATION", 0.0, None, "default", {})
        )
        timings["route"] = _ms(mark)
        mark = time.perf_counter()
        hits: list[SearchHit] = []
        if vector is not None:
            for kind, k in SEARCHES[decision.intent]:
                found = self.retriever.search(text, kind, k, vector=vector)  # type: ignore[arg-type]
                hits.extend(relevant(found.hits, text, others=hits))
        timings["search"] = _ms(mark)
        mark = time.perf_counter()
        history = session.turns
        context = context_fingerprint(text, history)
        version, hit = 0, None
        if self.cache is not None:
            version = self.cache.catalog_version()
            if vector is not None:
                hit = self.cache.lookup(
                    text,
                    vector,
                    self.embedder.model_id,
                    intent=decision.intent,
                    context=context,
                    catalog_version=version,
                )
        timings["cache"] = _ms(mark)
        prompt = Prompt(
            system=SYSTEM,
            user=text,
            intent=decision.intent,
            history=history,
            context=[_context_doc(h) for h in hits],
        )
        return Plan(
            session=session,
            text=text,
            asked_at=asked_at,
            started=started,
            decision=decision,
            sources=hit.sources if hit is not None else [_source(h) for h in hits],
            prompt=prompt,
            vector=vector,
            catalog_version=version,
            context=context,
            cache_hit=hit,
            top_score=hits[0].score if hits else None,
            timings=timings,
            error=error,
        )

    # --- the answer

    def run(self, plan: Plan) -> Generator[Event, None, None]:
        """`delta` events as the answer arrives, then `done` with the whole reply."""
        mark = time.perf_counter()
        if plan.cache_hit is not None:
            answer = fallback.Answer(iter([plan.cache_hit.answer]))
        else:
            answer = fallback.answer(self.generator, plan.prompt, lambda: self._cached(plan))
        parts: list[str] = []
        error = plan.error
        cut = echoed = False
        try:
            for chunk in answer.chunks:
                if echoes_instructions("".join([*parts, chunk])[-4000:]):
                    echoed = True
                    log.warning("reply echoed the instructions; replaced")
                    break
                parts.append(chunk)
                yield ("delta", chunk)
        except (ModelUnavailable, ModelError) as e:
            cut, error = True, "model_stream_failed"
            log.warning("answer cut short", extra=fields(error=type(e).__name__))
        except GeneratorExit:
            error = "client_closed"
            answer.close()
            self._record(plan, "".join(parts), answer, mark, error, cacheable=False)
            raise
        finally:
            answer.close()  # ends the model's stream: at the end, on a break, on a disconnect
        tail = ("\n\n" if parts else "") + REFUSAL if echoed else (CUT_SHORT if cut else "")
        if tail:
            parts.append(tail)
            yield ("delta", tail)
        reply = "".join(parts)
        body = self._record(
            plan, reply, answer, mark, error, cacheable=answer.cacheable and not echoed
        )
        yield ("done", body)

    def _cached(self, plan: Plan) -> str | None:
        """The ladder's cache rung: a guarded neighbour a little further away than a normal
        hit may be (the model being down, a near answer beats none)."""
        if self.cache is None or plan.vector is None:
            return None
        hit = self.cache.lookup(
            plan.text,
            plan.vector,
            self.embedder.model_id,
            intent=plan.decision.intent,
            context=plan.context,
            catalog_version=plan.catalog_version,
            relax=0.05,
        )
        return hit.answer if hit is not None else None

    def _record(
        self,
        plan: Plan,
        reply: str,
        answer: fallback.Answer,
        mark: float,
        error: str | None,
        *,
        cacheable: bool,
    ) -> dict[str, Any]:
        timings = plan.timings
        timings["generate"] = _ms(mark)
        fell_back = None if plan.cache_hit is not None else answer.fallback
        if error == "model_stream_failed":
            fell_back = "apology"  # the model's start, then our apology for the rest
        elif error is None and fell_back is not None:
            error = "model_failed"
        mark = time.perf_counter()
        try:
            self.sessions.record_turn(
                plan.session.id,
                plan.text,
                reply,
                intent=plan.decision.intent,
                sources=plan.sources,
                asked_at=plan.asked_at,
            )
        except Exception:  # the reader has the answer; the history is what is lost
            error = error or "persist_failed"
            log.exception("turn not persisted")
        if (
            cacheable
            and self.cache is not None
            and plan.vector is not None
            and plan.cache_hit is None
        ):
            try:
                self.cache.store_answer(
                    plan.text,
                    plan.vector,
                    self.embedder.model_id,
                    intent=plan.decision.intent,
                    context=plan.context,
                    catalog_version=plan.catalog_version,
                    answer=reply,
                    sources=plan.sources,
                )
            except Exception:
                log.exception("answer not cached")
        timings["persist"] = _ms(mark)
        timings["total"] = _ms(plan.started)
        body = {
            "reply": reply,
            **plan.meta(),
            "fallback": fell_back,
            "timings_ms": dict(timings),
        }
        self._publish(plan, body, error)
        log.info(
            "turn",
            extra=fields(
                intent=plan.decision.intent,
                method=plan.decision.method,
                cached=body["cached"],
                fallback=body["fallback"],
                sources=len(plan.sources),
                error=error,
                reply_chars=len(reply),
                **{f"{k}_ms": v for k, v in timings.items()},
            ),
        )
        return body

    def _publish(self, plan: Plan, body: Mapping[str, Any], error: str | None) -> None:
        if self.events is None:
            return
        event: dict[str, Any] = {
            "turn_id": uuid.uuid4().hex,
            "ts": self._clock().isoformat().replace("+00:00", "Z"),
            "intent": plan.decision.intent,
            "confidence": round(plan.decision.confidence, 4),
            "method": plan.decision.method,
            "cached": body["cached"],
            "cache_kind": plan.cache_hit.kind if plan.cache_hit else None,
            "fallback": body["fallback"],
            "top_score": None if plan.top_score is None else round(plan.top_score, 4),
            "result_count": len(plan.sources),
            "timings_ms": body["timings_ms"],
        }
        if error:
            event["error"] = error
        try:
            self.events.publish(event)
        except Exception:  # never fail a turn over metrics
            log.exception("metrics event not queued")


def relevant(hits: list[SearchHit], text: str, *, others: list[SearchHit]) -> list[SearchHit]:
    """The hits worth showing: close to the best of their kind, and passages (which the floor
    lets through on tone alone) only when they share a word with the question or nothing
    else was found."""
    if not hits:
        return []
    best = hits[0].score
    kept = [h for h in hits if h.score >= best - RELATIVE_CUT]
    if hits[0].kind == "document" and others:
        words = content_words(text)
        kept = [h for h in kept if words & content_words(f"{h.name} {h.fields.get('text', '')}")]
    return kept


def _context_doc(hit: SearchHit) -> ContextDoc:
    data = dict(hit.fields)
    if hit.stock is not None:
        data["stock_by_shop"] = hit.stock
    return ContextDoc(hit.id, hit.kind, hit.name, data)


def _source(hit: SearchHit) -> dict[str, Any]:
    fields = {**hit.fields, "category": hit.fields.get("kind")}  # a product's own "kind"
    card = {key: fields[key] for key in _CARD_FIELDS[hit.kind] if fields.get(key) is not None}
    return {"id": hit.id, "kind": hit.kind, "name": hit.name, "score": round(hit.score, 4), **card}


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
