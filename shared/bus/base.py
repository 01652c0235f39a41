"""What publishing an event means to the code that does it."""

from __future__ import annotations

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
