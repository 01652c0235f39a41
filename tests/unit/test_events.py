import base64

import pytest
from cloudevents.http import CloudEvent

from shared.bus import parse_pubsub_event
from shared.errors import PoisonMessage

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
