"""The fault matrix: every model dependency under every kind of failure, through the SDK.

Each case ends in a well-formed answer (the fallback ladder) or a clear error. Faulty answers
come 30 s late at worst, and the timeout is 0.3 s: a case that waited would hang the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import wiring
from shared.ai import ContextDoc, ModelError, ModelUnavailable, Prompt
from shared.ai.fallback import answer
from tests.fakes.gemini_server import FakeGemini

FAULTS: dict[str, dict[str, Any]] = {
    "timeout": {"delay_s": 30},
    "429": {"status": 429},
    "500": {"status": 500},
    "malformed": {"malformed": True},
}
PROMPT = Prompt(
    system="s",
    user="a decaf please",
    intent="PRODUCT_RAG",
    context=(ContextDoc("cof-104", "product", "Nightcap Decaf", {"price": 15.95}),),
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        for name, value in {
            "GEMINI_API_KEY": "k",
            "GEMINI_BASE_URL": server.url,
            "MODEL_TIMEOUT_S": "0.3",
            "MODEL_ATTEMPTS": "2",
            "MODEL_RETRY_BUDGET_S": "5",  # two tries always fit: the count is exact
        }.items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.mark.parametrize("fault", FAULTS)
def test_the_generator_always_gives_a_well_formed_answer(fake: FakeGemini, fault: str) -> None:
    fake.fail_next(10, **FAULTS[fault])
    result = answer(wiring.get_generator(), PROMPT, cached=lambda: None)
    text = "".join(result.chunks)
    assert result.fallback == "static" and "Nightcap Decaf: $15.95" in text
    assert not result.cacheable


@pytest.mark.parametrize("fault", FAULTS)
def test_the_embedder_fails_with_a_clear_error(fake: FakeGemini, fault: str) -> None:
    fake.fail_next(10, **FAULTS[fault])
    expected = ModelError if fault == "malformed" else ModelUnavailable
    with pytest.raises(expected) as caught:
        wiring.get_embedder().embed(["decaf"], "query")
    assert str(caught.value).startswith("embedding")
    attempts = len(fake.calls("batchEmbedContents"))
    assert attempts == (1 if fault == "malformed" else 2)


@pytest.mark.parametrize("dependency", ["embedder", "generator"])
def test_an_open_breaker_fails_without_calling_the_model(
    fake: FakeGemini, monkeypatch: pytest.MonkeyPatch, dependency: str
) -> None:
    monkeypatch.setenv("BREAKER_FAILURES", "2")
    fake.fail_next(10, status=503)
    call = (
        (lambda: wiring.get_embedder().embed(["x"], "query"))
        if dependency == "embedder"
        else (lambda: wiring.get_generator().generate(PROMPT))
    )
    with pytest.raises(ModelUnavailable):
        call()
    sent = len(fake.requests)
    with pytest.raises(ModelUnavailable, match="not calling it"):
        call()
    assert len(fake.requests) == sent
