"""Pub/Sub messages in: decoding a CloudEvent, the age limit, dead letters, and the markers that
make an at-least-once delivery count once."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bus.base import PUBSUB_EVENT_TYPE, EventBus, dead_letter_body
from shared.errors import PoisonMessage
from shared.logs import fields
from shared.store import EXPIRES_AT, Store

log = logging.getLogger("shared.bus")
PROCESSED = "processed_events"
MAX_DEAD_PAYLOAD = 10_000  # characters of an unreadable body kept in its dead letter


@dataclass(frozen=True)
class PubSubMessage:
    message_id: str
    topic: str
    data: bytes
    attributes: dict[str, str]
    published_at: datetime | None

    def json(self) -> Any:
        """The body as JSON, or PoisonMessage: a body that is not JSON never will be."""
        try:
            return json.loads(self.data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PoisonMessage(f"The message body is not JSON: {e}") from e


def check_age(message: PubSubMessage, max_age_s: int) -> None:
    """PoisonMessage for a message published longer ago than redeliveries are worth."""
    if message.published_at is None:
        return
    age = datetime.now(UTC) - message.published_at
    if age > timedelta(seconds=max_age_s):
        raise PoisonMessage(
            f"The event is {int(age.total_seconds())} s old; the limit is {max_age_s} s."
        )


def parse_pubsub_event(event: Any) -> PubSubMessage:
    """A messagePublished CloudEvent as a message; anything else is a PoisonMessage."""
    if event["type"] != PUBSUB_EVENT_TYPE:
        raise PoisonMessage(f"Unexpected event type {event['type']!r}.")
    body = event.data if isinstance(event.data, dict) else {}
    message = body.get("message")
    if not isinstance(message, dict):
        raise PoisonMessage("The event carries no Pub/Sub message.")
    message_id = str(message.get("messageId") or message.get("message_id") or event["id"])
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError) as e:
        raise PoisonMessage("The message data is not base64.") from e
    attributes = message.get("attributes") or {}
    source = str(event["source"])
    return PubSubMessage(
        message_id=message_id,
        topic=source.rsplit("/topics/", 1)[-1] if "/topics/" in source else "",
        data=data,
        attributes={str(k): str(v) for k, v in attributes.items()},
        published_at=_parse_time(message.get("publishTime") or message.get("publish_time")),
    )


def dead_letter(
    bus: EventBus, topic: str, message: PubSubMessage, reason: str, payload: Any
) -> None:
    """Send what can never succeed to the dead-letter topic, with its reason."""
    log.warning(
        "dead-lettered",
        extra=fields(topic=topic, message_id=message.message_id, reason=reason[:300]),
    )
    bus.publish(
        topic,
        dead_letter_body(message.topic, message.message_id, reason, payload),
        attributes={"source_topic": message.topic, "message_id": message.message_id},
    )


def dead_letter_event(bus: EventBus, topic: str, event: Any, reason: str) -> None:
    """An event too broken to read as a message: keep what can be kept of it."""
    log.error("unreadable event dead-lettered: %s", reason)
    bus.publish(topic, dead_letter_body(str(event["source"]), str(event["id"]), reason, None))


def already_processed(store: Store, key: str) -> bool:
    return store.get(PROCESSED, key) is not None


def mark_processed(store: Store, key: str, ttl: timedelta) -> None:
    """Record a handled message; the marker lives as long as redeliveries can arrive."""
    now = datetime.now(UTC)
    store.set(PROCESSED, key, {"handled_at": now, EXPIRES_AT: now + ttl})


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
