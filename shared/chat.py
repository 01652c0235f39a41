"""One chat turn: route, retrieve, look in the cache, answer through the ladder, record.

The text is embedded once; routing, retrieval and the semantic cache all use that vector.
`plan` does everything before the model (its result is what SSE's `meta` event reports);
`run` streams the answer, then persists both messages, caches a model's complete answer and
publishes one metrics event. A reader that leaves mid-answer closes `run`, which closes the
model's stream with it.
"""

from __future__ import annotations

import json
import logging
import re
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
from shared.response_cache import CacheHit, ResponseCache, context_fingerprint, names_nothing
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
_TAILS = {"echo": REFUSAL, "cut": CUT_SHORT.strip()}
_MONEY = re.compile(r"\$\s?(\d{1,6}(?:,\d{3})*(?:\.\d{1,2})?)")
_LINK = re.compile(r"https?://[^\s<>()\"'\]\[]+[^\s<>()\"'\]\[.,;:!?]")
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
    catalog_version: int | None  # None: the cache is off or unreadable for this turn
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
        errors: list[str] = []
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
        hits: list[SearchHit] = []
        if vector is not None:
            for kind, k in SEARCHES[decision.intent]:
                found = self.retriever.search(text, kind, k, vector=vector)  # type: ignore[arg-type]
                hits.extend(relevant(found.hits, text, others=hits))
        timings["search"] = _ms(mark)
        # A question that stands on its own is answered without the conversation, so that its
        # answer (cached, maybe served to others) holds nothing private. One that leans on the
        # conversation is keyed on exactly the window the model sees.
        context = self._context(text, session, version)
        history = session.turns if context or self.cache is None else ()
        mark = time.perf_counter()
        hit = None
        if vector is not None and version is not None:
            hit = self._lookup(text, vector, decision.intent, context, version, errors)
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
            error=errors[0] if errors else None,
        )

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

    def _embed(self, text: str, timings: dict[str, float], errors: list[str]) -> np.ndarray | None:
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

    def _catalog_version(self, errors: list[str]) -> int | None:
        if self.cache is None:
            return None
        try:
            return self.cache.catalog_version()
        except Exception as e:  # the cache is an optimisation: without it, answer anyway
            errors.append("cache_failed")
            log.warning("catalog version unreadable", extra=fields(error=type(e).__name__))
            return None

    def _lookup(
        self,
        text: str,
        vector: np.ndarray,
        intent: str,
        context: str,
        version: int,
        errors: list[str],
        relax: float = 0.0,
    ) -> CacheHit | None:
        """A cache hit, or None; a failing cache (store down, vectors of another model) is a
        miss, logged and counted, never a failed turn."""
        if self.cache is None:
            return None
        try:
            return self.cache.lookup(
                text,
                vector,
                self.embedder.model_id,
                intent=intent,
                context=context,
                catalog_version=version,
                relax=relax,
            )
        except Exception as e:
            errors.append("cache_failed")
            log.warning("cache lookup failed", extra=fields(error=type(e).__name__))
            return None

    # --- the answer

    def run(self, plan: Plan) -> Generator[Event, None, None]:
        """`delta` events as the answer arrives, then `done` with the whole reply. Whatever
        happens (the model failing mid-stream, a bug, the reader leaving at any point) the
        turn is recorded once, with what was said and why it stopped."""
        mark = time.perf_counter()
        if plan.cache_hit is not None:
            answer = fallback.Answer(iter([plan.cache_hit.answer]))
        else:
            answer = fallback.answer(self.generator, plan.prompt, lambda: self._cached(plan))
        parts: list[str] = []
        error = plan.error
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
        if plan.vector is None or plan.catalog_version is None:
            return None
        errors: list[str] = []
        hit = self._lookup(
            plan.text,
            plan.vector,
            plan.decision.intent,
            plan.context,
            plan.catalog_version,
            errors,
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
        if error in ("model_stream_failed", "internal_error"):
            fell_back = "apology"  # the model's start, then our apology for the rest
        elif error is None and fell_back is not None:
            error = "model_failed"
        if cacheable and plan.cache_hit is None:
            ungrounded = self._ungrounded(plan, reply)
            if ungrounded:
                cacheable, error = False, error or "ungrounded"
                log.warning("reply not grounded in its sources", extra=fields(what=ungrounded))
        mark = time.perf_counter()
        try:
            if not self.sessions.record_turn(
                plan.session.id,
                plan.text,
                reply,
                intent=plan.decision.intent,
                sources=plan.sources,
                asked_at=plan.asked_at,
            ):
                error = error or "session_gone"  # deleted or expired during the turn
        except Exception:  # the reader has the answer; the history is what is lost
            error = error or "persist_failed"
            log.exception("turn not persisted")
        if (
            cacheable
            and self.cache is not None
            and plan.vector is not None
            and plan.catalog_version is not None
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
            except Exception:  # the reader has the answer; the next asker pays the model again
                error = error or "cache_failed"
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

    def _ungrounded(self, plan: Plan, reply: str) -> str | None:
        """What in a reply neither its documents nor the question back: a link, a price, or a
        catalog coffee or shop (drinks and equipment are named for what they are: "espresso"
        is a word before it is a product). Such a reply is still shown (it is the model's), but
        never cached, and counted, so that a lapse (or a planted phishing link) is not repeated
        to others."""
        docs = [f"{d.name}. {json.dumps(dict(d.fields), default=str)}" for d in plan.prompt.context]
        backed = [*docs, plan.text]
        if any(all(link not in text for text in backed) for link in _LINK.findall(reply)):
            return "link"
        amounts = {_amount(m) for text in backed for m in _MONEY.findall(text)}
        amounts |= {
            _amount(str(d.fields["price"]))
            for d in plan.prompt.context
            if d.fields.get("price") is not None
        }
        if any(_amount(m) not in amounts for m in _MONEY.findall(reply)):
            return "price"
        if self.cache is None or plan.catalog_version is None:
            return None
        try:
            guard = self.cache.guard(plan.catalog_version)
            named = set(guard.details(reply[:4000]).names)
            named -= self.cache.generic_names(plan.catalog_version)
            for text in backed:
                named -= guard.details(text).names
        except Exception:  # a safeguard must not fail the turn
            log.exception("grounding check failed")
            return None
        return "name" if named else None

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


def _amount(text: str) -> str:
    return f"{float(text.replace(',', '')):.2f}"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
