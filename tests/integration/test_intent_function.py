"""The intent function through functions-framework, with the real offline embedder."""

from __future__ import annotations

import pytest

from shared import wiring
from tests.integration.conftest import function_client


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return function_client("intent")


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("what time does the Pike Street shop open on sunday", "LOCATION_RAG"),
        ("recommend a light roast with fruity notes", "PRODUCT_RAG"),
        ("hi there, how are you doing?", "GENERAL_CONVERSATION"),
    ],
)
def test_route_answers_the_contract(client, query: str, intent: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/route", json={"query": query})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"intent", "confidence", "exemplar", "method"}
    assert body["intent"] == intent and body["method"] == "embedding"
    assert isinstance(body["exemplar"], str) and -1.0 <= body["confidence"] <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"query": ""}}, 400, "invalid_request"),
        ({"json": {"query": "   "}}, 400, "invalid_request"),
        ({"json": {"query": "x" * 1001}}, 400, "invalid_request"),
        ({"json": {}}, 400, "invalid_request"),
        ({"json": {"query": "hi", "extra": 1}}, 400, "invalid_request"),
        ({"data": "{oops", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "query=hi", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, kwargs: dict, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/route", **kwargs)
    assert r.status_code == status and r.get_json()["error"]["code"] == code


def test_an_embedder_outage_is_a_503_not_a_500(client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from shared.ai import ModelUnavailable

    router = wiring.get_intent_router()

    def down(texts, task):  # type: ignore[no-untyped-def]
        raise ModelUnavailable("embedding: HTTP 503")

    monkeypatch.setattr(router.embedder, "embed", down)
    r = client.post("/route", json={"query": "hello"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"


def test_health_shows_the_exemplar_cache_once_loaded(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/health/details").get_json()["checks"]["router"]["loaded"] is False
    client.post("/route", json={"query": "hello"})
    router = client.get("/health/details").get_json()["checks"]["router"]
    assert router["loaded"] and router["exemplars"] >= 75 and router["calibration_version"] >= 1


def test_routes_are_charged_to_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import get_settings

    monkeypatch.setenv("INTENT_RATE_LIMIT_PER_MINUTE", "3")
    get_settings.cache_clear()
    wiring.reset()
    client = function_client("intent")
    statuses = [client.post("/route", json={"query": "hi there"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.post("/route", json={"query": "hi there"})
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/health").status_code == 200  # health is not charged here
