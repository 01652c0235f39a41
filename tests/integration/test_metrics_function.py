"""The metrics function through functions-framework: real CloudEvents in, summaries out, and
the chat function's own events counted end to end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.conversion import to_binary

from scripts.devserver import load_function
from shared import wiring
from shared.bus import parse_pubsub_event
from shared.bus.local_bus import LocalBus, wsgi_subscriber
from shared.metrics.aggregate import EDGES, bin_of
from tests.integration.chat_support import Client
from tests.integration.conftest import function_client, pubsub_event


def turn(**kw: Any) -> dict[str, Any]:
    return {
        "turn_id": uuid.uuid4().hex,
        "ts": datetime.now(UTC).isoformat(),
        "intent": "PRODUCT_RAG",
        "confidence": 0.9,
        "method": "embedding",
        "cached": False,
        "fallback": None,
        "top_score": 0.6,
        "result_count": 3,
        "timings_ms": {"embed": 5.0, "search": 6.0, "total": 20.0},
        **kw,
    }


@pytest.fixture
def deliver() -> Any:
    client = function_client("metrics", "cloudevent", "metrics_events")

    def post(payload: Any, **kw: Any) -> int:
        headers, body = to_binary(pubsub_event(payload, topic="metrics", **kw))
        status: int = client.post("/", headers=headers, data=body).status_code
        return status

    return post


def dead_letters() -> list[dict[str, Any]]:
    bus = wiring.get_bus()
    assert isinstance(bus, LocalBus)
    got: list[dict[str, Any]] = []
    bus.subscribe("metrics-dead-letter", lambda e: got.append(parse_pubsub_event(e).json()))
    return got


def summary(**params: Any) -> Any:
    return function_client("metrics").get("/summary", query_string=params)


def test_events_are_counted_once_and_summarised(deliver: Any) -> None:
    first = turn()
    assert deliver(first, message_id="m1") == 200
    assert deliver(first, message_id="m1") == 200  # Pub/Sub redelivers
    assert deliver(first, message_id="m2") == 200  # the publisher retried: same turn
    assert deliver(turn(intent="LOCATION_RAG", cached=True, cache_kind="exact")) == 200
    assert deliver(turn(fallback="apology", error="model_failed")) == 200
    r = summary(minutes=5)
    assert r.status_code == 200
    body = r.get_json()
    assert body["turns"] == 3
    assert body["by_intent"] == {"LOCATION_RAG": 1, "PRODUCT_RAG": 2}
    assert body["cache_hit_rate"] == round(1 / 3, 4)
    assert body["fallbacks"] == {"apology": 1} and body["errors"] == {"model_failed": 1}
    assert set(body["stages_ms"]) == {"embed", "search", "total"}
    assert body["latency_ms"]["p50"] == pytest.approx(EDGES[bin_of(20.0)], abs=1e-3)
    assert len(body["series"]) == 5


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        {"turn_id": "short"},
        [1, 2, 3],
        {**turn(), "intent": "SHOPPING"},
    ],
)
def test_malformed_events_are_dead_lettered_not_retried(deliver: Any, payload: Any) -> None:
    letters = dead_letters()
    assert deliver(payload) == 200
    wiring.get_bus().drain(5)  # type: ignore[attr-defined]
    assert len(letters) == 1 and "reason" in letters[0]
    assert summary(minutes=5).get_json()["turns"] == 0


@pytest.mark.parametrize(
    ("published", "ts"),
    [
        (timedelta(days=-2), timedelta(days=-2)),  # delivered too late
        (timedelta(0), timedelta(days=-2)),  # a turn older than the age limit
        (timedelta(0), timedelta(hours=1)),  # a turn from the future
        (timedelta(0), None),  # the year 9999: its expiry would overflow
    ],
)
def test_an_event_out_of_its_time_range_is_dead_lettered(
    deliver: Any, published: timedelta, ts: timedelta | None
) -> None:
    letters = dead_letters()
    now = datetime.now(UTC)
    when = "9999-12-31T23:59:00+00:00" if ts is None else (now + ts).isoformat()
    assert deliver(turn(ts=when), published=now + published) == 200
    wiring.get_bus().drain(5)  # type: ignore[attr-defined]
    assert len(letters) == 1
    assert summary(minutes=1440).get_json()["turns"] == 0


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"minutes": 0}, 400),
        ({"minutes": 1441}, 400),
        ({"minutes": "abc"}, 400),
        ({"minutes": "5.0"}, 400),
        ({"minutes": "+5"}, 400),
        ({"minutes": 5, "extra": 1}, 400),
        ({}, 200),
        ({"minutes": 1440}, 200),
    ],
)
def test_the_window_is_bounded(params: dict[str, Any], status: int) -> None:
    r = summary(**params)
    assert r.status_code == status and r.mimetype == "application/json"
    if status == 200:
        assert r.get_json()["window"]["minutes"] == params.get("minutes", 60)


def test_after_n_chat_turns_the_summary_counts_exactly_n(chat: Client) -> None:
    """The chat function publishes; the bus delivers to the metrics function, as make dev."""
    bus = wiring.get_bus()
    assert isinstance(bus, LocalBus)
    subscriber = wsgi_subscriber(load_function("metrics", "cloudevent", "metrics_events"))
    bus.subscribe("metrics", subscriber, name="metrics-events")
    questions = [
        "recommend a dark roast coffee",
        "Which shops do you have in Seattle?",
        "hello there",
        "recommend a dark roast coffee",  # a cache hit
        "do you have a decaf?",
        "Which shops do you have in Seattle?",  # a cache hit
    ]
    replies = [chat.turn(chat.session(), q).get_json() for q in questions]
    assert wiring.get_metrics_publisher().flush(10) and bus.drain(30)
    body = summary(minutes=5).get_json()
    assert body["turns"] == len(questions)
    expected: dict[str, int] = {}
    for reply in replies:
        expected[reply["intent"]] = expected.get(reply["intent"], 0) + 1
    assert body["by_intent"] == expected
    assert body["cache_hits"] == sum(r["cached"] for r in replies) == 2


def test_summaries_are_charged_to_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import get_settings

    monkeypatch.setenv("SUMMARY_RATE_LIMIT_PER_MINUTE", "2")
    get_settings.cache_clear()
    wiring.reset()
    client = function_client("metrics")
    statuses = [client.get(f"/summary?minutes={n}").status_code for n in (5, 60, 1440)]
    assert statuses == [200, 200, 429]
    assert client.get("/health").status_code == 200
