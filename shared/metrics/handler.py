"""The metrics function's Pub/Sub handler: a turn event in, counted once in its minute."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared import events, wiring
from shared.bus import PubSubMessage
from shared.config import Settings
from shared.errors import PoisonMessage, first_problem
from shared.logs import fields
from shared.metrics.aggregate import record
from shared.metrics.event import TurnEvent

log = logging.getLogger("shared.metrics")
FUTURE_SLACK = timedelta(minutes=5)  # clock skew allowed between the chat and us


def parse(message: PubSubMessage, settings: Settings) -> TurnEvent:
    """The turn event, or PoisonMessage: not one, or a turn's time no redelivery explains."""
    try:
        event = TurnEvent.model_validate(message.json())
    except ValidationError as e:
        raise PoisonMessage(f"Not a metrics event: {first_problem(e)}") from e
    now = datetime.now(UTC)
    oldest = now - timedelta(seconds=settings.max_event_age_s)
    if not oldest <= event.ts <= now + FUTURE_SLACK:
        raise PoisonMessage(f"The turn's time {event.ts.isoformat()} is out of range.")
    return event


def handle(message: PubSubMessage, event: TurnEvent, settings: Settings) -> None:
    """Count the turn; its id is marked in the same transaction, so a redelivery counts 0."""
    counted = record(
        wiring.get_store(),
        event,
        shards=settings.metrics_shards,
        ttl=timedelta(days=settings.metrics_ttl_days),
        marker_ttl=timedelta(seconds=settings.processed_marker_ttl_s),
    )
    if not counted:
        log.info("duplicate turn ignored", extra=fields(message_id=message.message_id))


SUBSCRIBER = events.Subscriber(
    name="metrics", topic=lambda s: s.metrics_topic, parse=parse, handle=handle, dedupe=False
)


def handle_metrics_event(cloud_event: Any) -> None:
    """Acknowledge what is counted or can never be; raise what is worth retrying."""
    events.receive(cloud_event, SUBSCRIBER)
