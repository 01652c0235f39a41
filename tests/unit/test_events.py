"""Pub/Sub messages in: decoding a delivered CloudEvent, and the one skeleton every
Pub/Sub-triggered function runs (decode, age limit, dedupe, dead letters)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from shared import wiring
from shared.bus import PROCESSED, PubSubMessage, parse_pubsub_event
from shared.config import Settings, get_settings
from shared.errors import PoisonMessage, TransientError
from shared.events import Subscriber, receive

ATTRS = {
    "type": "google.cloud.pubsub.topic.v1.messagePublished",
    "source": "//pubsub.googleapis.com/projects/p/topics/ingest",
    "id": "42",
}


def event(data: object, **attrs: str) -> CloudEvent:
    return CloudEvent({**ATTRS, **attrs}, data)


def test_a_message_is_decoded() -> None:
    m = parse_pubsub_event(
        event(
            {
                "message": {
                    "data": base64.b64encode(b'{"a":1}').decode(),
                    "messageId": "7",
                    "publishTime": "2026-01-01T00:00:00.5Z",
                    "attributes": {"k": "v"},
                }
            }
        )
    )
    assert (m.message_id, m.topic, m.json(), m.attributes) == ("7", "ingest", {"a": 1}, {"k": "v"})
    assert m.published_at is not None and m.published_at.microsecond == 500000


def test_the_event_id_stands_in_for_a_missing_message_id() -> None:
    m = parse_pubsub_event(event({"message": {"data": ""}}))
    assert m.message_id == "42" and m.data == b""


@pytest.mark.parametrize(
    ("data", "attrs"),
    [
        ({"message": {"data": "b64"}}, {"type": "google.cloud.storage.object.v1.finalized"}),
        ({"nothing": 1}, {}),
        ({"message": "text"}, {}),
        ({"message": {"data": "not base64!!"}}, {}),
    ],
)
def test_malformed_events_are_poison(data: object, attrs: dict) -> None:
    with pytest.raises(PoisonMessage):
        parse_pubsub_event(event(data, **attrs))


def test_a_body_that_is_not_json_is_poison() -> None:
    m = parse_pubsub_event(event({"message": {"data": base64.b64encode(b"\xff{").decode()}}))
    with pytest.raises(PoisonMessage, match="not JSON"):
        m.json()


# --- the skeleton every Pub/Sub-triggered function runs (shared/events.py)


class Recorder:
    """A subscriber's parse and handle, recording what reached them."""

    def __init__(self, *, handle_raises: Exception | None = None) -> None:
        self.handled: list[tuple[str, dict[str, Any]]] = []
        self.handle_raises = handle_raises

    def parse(self, message: PubSubMessage, settings: Settings) -> dict[str, Any]:
        body = message.json()
        if not isinstance(body, dict) or "n" not in body:
            raise PoisonMessage("Not a test body.")
        return body

    def handle(self, message: PubSubMessage, body: dict[str, Any], settings: Settings) -> None:
        if self.handle_raises is not None:
            raise self.handle_raises
        self.handled.append((message.message_id, body))

    def subscriber(self, *, dedupe: bool = True) -> Subscriber[dict[str, Any]]:
        return Subscriber("test", lambda s: "things", self.parse, self.handle, dedupe=dedupe)


def delivered(body: bytes, message_id: str = "m-1", age: timedelta = timedelta(0)) -> CloudEvent:
    published = (datetime.now(UTC) - age).isoformat().replace("+00:00", "Z")
    return event(
        {
            "message": {
                "data": base64.b64encode(body).decode(),
                "messageId": message_id,
                "publishTime": published,
            }
        },
        source="//pubsub.googleapis.com/projects/p/topics/things",
    )


@pytest.fixture
def dead() -> list[dict[str, Any]]:
    """What reaches the dead-letter topic of `things`."""
    got: list[dict[str, Any]] = []
    wiring.get_bus().subscribe(
        "things-dead-letter", lambda e: got.append(parse_pubsub_event(e).json())
    )
    return got


def drained(letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert wiring.get_bus().drain(5)
    return letters


def test_a_message_is_handled_once_however_often_it_is_delivered(dead: list) -> None:
    r = Recorder()
    for _ in range(3):
        receive(delivered(b'{"n": 1}'), r.subscriber())
    receive(delivered(b'{"n": 2}', message_id="m-2"), r.subscriber())
    assert r.handled == [("m-1", {"n": 1}), ("m-2", {"n": 2})]
    assert wiring.get_store().get(PROCESSED, "test-m-1") is not None
    assert drained(dead) == []


def test_without_dedupe_the_handler_sees_every_delivery(dead: list) -> None:
    r = Recorder()
    for _ in range(2):
        receive(delivered(b'{"n": 1}'), r.subscriber(dedupe=False))
    assert [m for m, _ in r.handled] == ["m-1", "m-1"]
    assert wiring.get_store().get(PROCESSED, "test-m-1") is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"\xff{", "not JSON"), (b"[1, 2]", "Not a test body"), (b'{"other": 1}', "Not a test")],
)
def test_a_body_that_cannot_be_parsed_is_dead_lettered_once(
    dead: list, body: bytes, reason: str
) -> None:
    r = Recorder()
    receive(delivered(body), r.subscriber())
    receive(delivered(body), r.subscriber())  # a redelivery: already settled
    (letter,) = drained(dead)
    assert r.handled == []
    assert reason in letter["reason"] and letter["source_topic"] == "things"
    assert letter["message_id"] == "m-1" and letter["payload"] == body.decode(errors="replace")


def test_what_the_handler_finds_poison_is_dead_lettered_and_settled(dead: list) -> None:
    r = Recorder(handle_raises=PoisonMessage("The store refused it."))
    receive(delivered(b'{"n": 1}'), r.subscriber())
    (letter,) = drained(dead)
    assert letter["reason"] == "The store refused it."
    assert wiring.get_store().get(PROCESSED, "test-m-1") is not None


def test_a_transient_failure_raises_for_redelivery_and_marks_nothing(dead: list) -> None:
    r = Recorder(handle_raises=TransientError("The store is down."))
    with pytest.raises(TransientError):
        receive(delivered(b'{"n": 1}'), r.subscriber())
    assert wiring.get_store().get(PROCESSED, "test-m-1") is None
    r.handle_raises = None
    receive(delivered(b'{"n": 1}'), r.subscriber())  # the redelivery is handled
    assert r.handled == [("m-1", {"n": 1})] and drained(dead) == []


def test_a_message_older_than_the_age_limit_is_dead_lettered_unhandled(dead: list) -> None:
    r = Recorder()
    limit = get_settings().max_event_age_s
    receive(delivered(b'{"n": 1}', age=timedelta(seconds=limit + 60)), r.subscriber())
    (letter,) = drained(dead)
    assert r.handled == [] and f"the limit is {limit} s" in letter["reason"]


def test_an_event_that_is_no_pubsub_message_is_dead_lettered(dead: list) -> None:
    r = Recorder()
    broken = event({"nothing": 1}, source="//pubsub.googleapis.com/projects/p/topics/things")
    receive(broken, r.subscriber())
    (letter,) = drained(dead)
    assert r.handled == [] and "no Pub/Sub message" in letter["reason"]
