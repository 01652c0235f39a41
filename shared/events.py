"""The one skeleton every Pub/Sub-triggered function runs.

`receive` decodes the CloudEvent, refuses a message older than the age limit, skips one already
handled, and sends what can never succeed to the topic's dead-letter topic, all under the
message's log context; a `Subscriber` says only how its body is parsed and what handling it
means. Pub/Sub delivers at least once, so every handler is idempotent: by a marker per message
id here, or inside its own transaction (`dedupe=False`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from shared import wiring
from shared.bus import (
    MAX_DEAD_PAYLOAD,
    PubSubMessage,
    already_processed,
    check_age,
    dead_letter,
    dead_letter_event,
    mark_processed,
    parse_pubsub_event,
)
from shared.config import Settings, get_settings
from shared.errors import PoisonMessage
from shared.logs import configure_logging, fields, log_context

log = logging.getLogger("shared.events")
T = TypeVar("T")


@dataclass(frozen=True)
class Subscriber(Generic[T]):
    """What one Pub/Sub-triggered function does with a message.

    `parse` turns the message into its body or raises PoisonMessage; `handle` does the work
    and raises PoisonMessage for what can never succeed (dead-lettered) or anything else for
    what is worth retrying. With `dedupe`, a message id already handled is skipped and one
    handled is marked (`{name}-{message id}`); without it, `handle` dedupes by itself.
    """

    name: str
    topic: Callable[[Settings], str]
    parse: Callable[[PubSubMessage, Settings], T]
    handle: Callable[[PubSubMessage, T, Settings], None]
    dedupe: bool = True


def receive(cloud_event: Any, subscriber: Subscriber[T]) -> None:
    """Acknowledge (return) what is done or can never succeed; raise what is worth retrying."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.google_cloud_project)
    dead = settings.dead_letter_topic(subscriber.topic(settings))
    with log_context(str(cloud_event["id"])[:64], None):
        try:
            message = parse_pubsub_event(cloud_event)
        except PoisonMessage as e:
            dead_letter_event(wiring.get_bus(), dead, cloud_event, e.reason)
            return
        marker = f"{subscriber.name}-{message.message_id}" if subscriber.dedupe else None
        if marker is not None and already_processed(wiring.get_store(), marker):
            log.info("duplicate delivery ignored", extra=fields(message_id=message.message_id))
            return
        try:
            check_age(message, settings.max_event_age_s)
            subscriber.handle(message, subscriber.parse(message, settings), settings)
        except PoisonMessage as e:
            payload = message.data.decode(errors="replace")[:MAX_DEAD_PAYLOAD]
            dead_letter(wiring.get_bus(), dead, message, e.reason, payload)
        if marker is not None:
            ttl = timedelta(seconds=settings.processed_marker_ttl_s)
            mark_processed(wiring.get_store(), marker, ttl)
