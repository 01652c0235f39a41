"""The answer ladder: the model, else a cached answer, else a static one, else an apology."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from collections.abc import Generator as Gen
from typing import Literal

from shared.ai.offline_format import money
from shared.ai.ports import ContextDoc, ModelError, ModelUnavailable, Prompt, TextGenerator
from shared.logs import fields

log = logging.getLogger("shared.ai")
Fallback = Literal["cache", "static", "apology"]
APOLOGY = "Sorry, I can't answer that right now. Please try again in a minute."


class Answer:
    """Chunks to stream, and which rung of the ladder they come from (None: the model)."""

    def __init__(self, chunks: Iterator[str], fallback: Fallback | None = None) -> None:
        self.fallback = fallback
        self._complete = False
        self.chunks = self._track(chunks)

    @property
    def cacheable(self) -> bool:
        """Only a model's answer streamed to its end may be cached: never a fallback, never
        an answer cut short."""
        return self.fallback is None and self._complete

    def close(self) -> None:
        """Stop early (the reader left): the model's stream is closed with it."""
        self.chunks.close()

    def _track(self, chunks: Iterator[str]) -> Gen[str, None, None]:
        try:
            yield from chunks
            self._complete = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def answer(generator: TextGenerator, prompt: Prompt, cached: Callable[[], str | None]) -> Answer:
    """The model's stream once its first chunk has arrived; a fallback if it never does.

    A failure after the first chunk is the caller's to report: those bytes are sent."""
    try:
        chunks = generator.stream(prompt)
        head = next(chunks, None)
        if head is None:
            raise ModelError("the model returned an empty answer")
        return Answer(_prepend(head, chunks))
    except (ModelUnavailable, ModelError) as e:
        log.warning("answer falls back", extra=fields(reason=type(e).__name__, detail=str(e)[:200]))
    except Exception:  # a bug or an untranslated error must not cost the user an answer
        log.exception("answer falls back after an unexpected error")
    try:
        text = cached()
    except Exception:  # a fallback must not fail the turn: log it and go one rung down
        log.exception("cached answer lookup failed")
        text = None
    if text:
        return Answer(iter([text]), "cache")
    static = static_answer(prompt)
    if static:
        return Answer(iter([static]), "static")
    return Answer(iter([APOLOGY]), "apology")


def _prepend(head: str, rest: Iterator[str]) -> Gen[str, None, None]:
    try:
        yield head
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def static_answer(prompt: Prompt) -> str | None:
    """Written without a model from the retrieved documents alone; None when there are none."""
    if prompt.intent == "GENERAL_CONVERSATION":
        r = prompt.retailer
        return f"Hello! I can help you with {r.offers}" + (
            ", or find a shop." if r.has_shops else "."
        )
    if not prompt.context:
        return None
    lines = [_line(doc) for doc in prompt.context[:5]]
    return "I can't write a full answer right now, but this is what matched:\n" + "\n".join(lines)


def _line(doc: ContextDoc) -> str:
    f = doc.fields
    price = money(f) if doc.kind == "product" else None
    if price:
        return f"- {doc.name}: {price}"
    if doc.kind == "shop" and f.get("address"):
        return f"- {doc.name}: {f['address']}"
    return f"- {doc.name}"
