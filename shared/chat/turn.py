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
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Literal

from shared.ai import ModelError, ModelUnavailable, Prompt, fallback
from shared.ai.prompts import echoes_instructions, refusal, system_prompt
from shared.cache.privacy import full_name, personal
from shared.cache.responses import (
    CacheHit,
    CacheQuery,
    ResponseCache,
    context_fingerprint,
    names_nothing,
)
from shared.chat.flights import Flights, Ticket
from shared.chat.plan import Plan
from shared.chat.record import Recorder
from shared.chat.sources import card, context_doc, search_for
from shared.intent.evidence import Evidence
from shared.intent.router import Decision
from shared.logs import fields
from shared.metrics.event import TurnError
from shared.search.understand import Understood, understand
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
_CUT = CUT_SHORT.strip()


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
        flights: Flights | None = None,
        clock: Any = utc_now,
    ) -> None:
        self.sessions, self.router, self.retriever = sessions, router, retriever
        self.cache, self.generator, self.embedder = cache, generator, embedder
        self.publisher = publisher
        self.flights = flights
        self.recorder = Recorder(sessions, cache, publisher, clock)
        self._clock = clock

    # --- before the model

    def plan(self, session: Session, text: str, client: str = "") -> Plan:
        """Everything before the model; raises Busy or ClientBusy (and holds nothing) when the
        answer would need a generation this instance or this client may not start now."""
        started = time.perf_counter()
        asked_at = self._clock()
        timings: dict[str, float] = {}
        errors: list[TurnError] = []
        # The version first: an ingest landing during retrieval must not get an answer built
        # from the old documents stored under the new version.
        version = self._catalog_version(errors)
        vector = self._embed(text, timings, errors)
        mark = time.perf_counter()
        understood = self._understand(text)  # once: routing and every search read it
        evidence = Evidence.of(understood)
        decision = (
            self.router.decide(vector, text, evidence)
            if vector is not None
            else Decision("GENERAL_CONVERSATION", 0.0, None, "default", {})
        )
        timings["route"] = _ms(mark)
        mark = time.perf_counter()
        hits = self._search(text, vector, decision, understood)
        timings["search"] = _ms(mark)
        # A question that stands on its own is answered without the conversation, so that its
        # answer (cached, maybe served to others) holds nothing private. Only such a question,
        # and only one that says nothing about the asker, meets the shared cache: one that
        # leans on the conversation would be keyed on a window that changes every turn.
        context = self._context(text, session, version)
        history = session.turns if context or self.cache is None else ()
        query = None
        if (
            vector is not None
            and version is not None
            and not context
            and self._shareable(text, version)
        ):
            model = self.embedder.model_id
            query = CacheQuery(text, vector, model, decision.intent, context, version)
        mark = time.perf_counter()
        hit = self._lookup(query, errors) if query is not None else None
        ticket = None
        if hit is None and self.flights is not None:
            hit, ticket = self._take_off(query, client, errors)
        timings["cache"] = _ms(mark)
        retailer = self.retriever.retailer()
        prompt = Prompt(
            system=system_prompt(retailer),
            user=text,
            intent=decision.intent,
            history=history,
            context=[context_doc(h) for h in hits],
            retailer=retailer,
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
            release=ticket.release if ticket is not None else _nothing,
            share=ticket.share if ticket is not None else _share_nothing,
        )

    def _take_off(
        self, query: CacheQuery | None, client: str, errors: list[TurnError]
    ) -> tuple[CacheHit | None, Ticket | None]:
        """A generation slot, leading the flight of the question's key; or, when the same
        question is being answered right now, its answer from the cache once it lands."""
        assert self.flights is not None
        entered = self.flights.enter(client, query.key if query is not None else None)
        if isinstance(entered, Ticket):
            return None, entered
        entered.done.wait(self.flights.wait_s)
        assert query is not None
        hit = self._lookup(query, errors)
        if hit is None and entered.answer is not None:  # complete, asked at the same moment
            answer, sources = entered.answer
            hit = CacheHit(answer, sources, "exact", 1.0, query.key)
        return (hit, None) if hit is not None else (None, self.flights.solo(client))

    def _search(
        self,
        text: str,
        vector: np.ndarray | None,
        decision: Decision,
        understood: Understood,
    ) -> list[SearchHit]:
        """The intent's searches, each kind's hits cut to those worth showing."""
        if vector is None:
            return []
        return search_for(self.retriever, decision.intent, text, vector, understood)

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

    def _shareable(self, text: str, version: int) -> bool:
        """Whether the question may enter the shared cache: nothing about the asker in it, and
        no full name the catalog does not know (a person, most likely). Unsure: no."""
        reason: str | None = personal(text)
        if reason is None and self.cache is not None:
            try:
                guard = self.cache.guard(version)
                if full_name(text, lambda phrase: guard.details(phrase).others):
                    reason = "name"
            except Exception:
                log.exception("guard unavailable")
                reason = "unknown"
        if reason is not None:
            log.debug("question kept out of the shared cache", extra=fields(why=reason))
        return reason is None

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

    def _understand(self, text: str) -> Understood:
        """The text read against the catalog's words (its profile, read once per catalog
        version). A store that cannot be read fails the turn as it does everywhere: 503."""
        return understand(text, self.retriever.view().lexicon)

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
                    said = "".join([*parts, chunk])[-4000:]
                    if echoes_instructions(said, plan.prompt.system):
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
                _close(answer)  # ends the model's stream: at the end, on a break, on a leave
            tails = {"echo": refusal(plan.prompt.retailer), "cut": _CUT}
            tail = tails.get(stop or "", "")
            if tail:
                tail = ("\n\n" if parts else "") + tail
                parts.append(tail)
                yield ("delta", tail)
            cacheable = answer.cacheable and stop is None
            body = self.recorder.record(
                plan, "".join(parts), answer, mark, error, cacheable=cacheable
            )
        except GeneratorExit:
            if body is None:
                self.recorder.record(
                    plan, "".join(parts), answer, mark, "client_closed", cacheable=False
                )
            raise
        except BaseException:  # a bug past the stream: the turn is still recorded, once
            if body is None:
                log.exception("turn failed")
                self.recorder.record(
                    plan, "".join(parts), answer, mark, "internal_error", cacheable=False
                )
            raise
        yield ("done", body)

    def abandon(self, plan: Plan) -> None:
        """The reader left before the answer started: the turn is still recorded."""
        nothing = fallback.Answer(iter(()))
        self.recorder.record(
            plan, "", nothing, time.perf_counter(), "client_closed", cacheable=False
        )

    def _cached(self, plan: Plan) -> str | None:
        """The ladder's cache rung: a guarded neighbour a little further away than a normal
        hit may be (the model being down, a near answer beats none). The guard's word and
        detail checks still apply in full."""
        if plan.cache_query is None:
            return None
        hit = self._lookup(plan.cache_query, [], relax=0.05)
        return hit.answer if hit is not None else None


def _close(answer: fallback.Answer) -> None:
    try:
        answer.close()
    except Exception:  # a stream that fails to close must not lose the turn
        log.warning("model stream did not close cleanly", exc_info=True)


def _nothing() -> None:
    return None


def _share_nothing(answer: str, sources: list[dict[str, Any]]) -> None:
    return None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
