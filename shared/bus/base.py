"""What publishing an event means to the code that does it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

PUBSUB_EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


class EventBus(Protocol):
    kind: str

    def publish(
        self, topic: str, payload: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None
    ) -> str:
        """Publish one JSON message; returns its message id once the bus has accepted it."""
        ...


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The one JSON encoding of a message body, for every bus."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def dead_letter_body(
    source_topic: str, message_id: str, reason: str, payload: Any
) -> dict[str, Any]:
    """The one shape of a dead-letter message, whoever sends it."""
    return {
        "source_topic": source_topic,
        "message_id": message_id,
        "reason": reason,
        "payload": payload,
    }
