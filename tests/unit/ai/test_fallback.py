"""The answer ladder, with a scripted generator standing in for our TextGenerator port."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from shared.ai import ContextDoc, ModelError, ModelUnavailable, Prompt
from shared.ai.fallback import APOLOGY, answer

SHOP = ContextDoc("shop-a1", "shop", "Cymbal Coffee Pike Street", {"address": "1420 Pike St"})
COFFEE = ContextDoc("cof-104", "product", "Nightcap Decaf", {"price": 15.95})


class Scripted:
    """Streams `chunks`, or raises `error` before the first one."""

    model_id, can_classify = "scripted", False

    def __init__(self, chunks: Sequence[str] = (), error: Exception | None = None) -> None:
        self.chunks, self.error = chunks, error

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: Prompt) -> Iterator[str]:
        if self.error:
            raise self.error
        yield from self.chunks

    def classify(self, text: str, labels: Sequence[str]) -> str:
        raise ModelError("no")


def prompt(intent: str = "PRODUCT_RAG", *context: ContextDoc) -> Prompt:
    return Prompt(system="s", user="u", intent=intent, context=context)  # type: ignore[arg-type]


def test_the_model_answers_and_may_be_cached() -> None:
    a = answer(Scripted(["Night", "cap"]), prompt("PRODUCT_RAG", COFFEE), lambda: "old")
    assert "".join(a.chunks) == "Nightcap" and a.fallback is None and a.cacheable


@pytest.mark.parametrize("error", [ModelUnavailable("503"), ModelError("malformed")])
def test_a_failed_model_falls_back_to_the_cached_answer(error: Exception) -> None:
    a = answer(Scripted(error=error), prompt("PRODUCT_RAG", COFFEE), lambda: "cached answer")
    assert "".join(a.chunks) == "cached answer"
    assert a.fallback == "cache" and not a.cacheable


def test_then_to_a_static_answer_from_the_documents() -> None:
    a = answer(Scripted(error=ModelUnavailable("x")), prompt("LOCATION_RAG", SHOP), lambda: None)
    text = "".join(a.chunks)
    assert a.fallback == "static" and not a.cacheable
    assert "Cymbal Coffee Pike Street: 1420 Pike St" in text


def test_small_talk_has_a_static_answer_too() -> None:
    a = answer(Scripted(error=ModelUnavailable("x")), prompt("GENERAL_CONVERSATION"), lambda: None)
    assert a.fallback == "static" and "Hello" in "".join(a.chunks)


def test_with_nothing_to_go_on_it_apologises() -> None:
    a = answer(Scripted(error=ModelUnavailable("x")), prompt("PRODUCT_RAG"), lambda: None)
    assert (a.fallback, "".join(a.chunks)) == ("apology", APOLOGY)


def test_an_empty_answer_counts_as_a_failure() -> None:
    a = answer(Scripted([]), prompt("PRODUCT_RAG", COFFEE), lambda: None)
    assert a.fallback == "static" and "$15.95" in "".join(a.chunks)


def test_a_failing_cache_lookup_goes_one_rung_down() -> None:
    def broken() -> str:
        raise RuntimeError("store down")

    a = answer(Scripted(error=ModelUnavailable("x")), prompt("PRODUCT_RAG", COFFEE), broken)
    assert a.fallback == "static"


def test_a_failure_after_the_first_chunk_reaches_the_caller() -> None:
    def breaks() -> Iterator[str]:
        yield "partial "
        raise ModelUnavailable("connection reset")

    class Breaking(Scripted):
        def stream(self, prompt: Prompt) -> Iterator[str]:
            return breaks()

    a = answer(Breaking(), prompt("PRODUCT_RAG", COFFEE), lambda: "cached")
    assert next(a.chunks) == "partial " and a.fallback is None
    with pytest.raises(ModelUnavailable):
        next(a.chunks)
    assert not a.cacheable  # an answer cut short is never cached


def test_closing_an_answer_closes_the_models_stream() -> None:
    closed: list[bool] = []

    def chunks() -> Iterator[str]:
        try:
            yield "one "
            yield "two"
        finally:
            closed.append(True)

    class Closing(Scripted):
        def stream(self, prompt: Prompt) -> Iterator[str]:
            return chunks()

    a = answer(Closing(), prompt("PRODUCT_RAG", COFFEE), lambda: None)
    assert next(a.chunks) == "one "
    a.close()
    assert closed == [True] and not a.cacheable
