"""The ingest handler: one Pub/Sub catalog batch in, validated records upserted, bad ones out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import catalog, events, wiring
from shared.config import get_settings
from shared.errors import PoisonMessage
from shared.logs import configure_logging, fields, log_context

log = logging.getLogger("shared.ingestion")
MAX_RECORDS = 5000


class IngestMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["products", "shops", "inventory", "documents"]
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_RECORDS)


def handle_ingest_event(event: Any) -> None:
    """Acknowledge (return) what is done or can never succeed; raise what is worth retrying."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.google_cloud_project)
    bus, store = wiring.get_bus(), wiring.get_store()
    dead_letters = settings.dead_letter_topic(settings.ingest_topic)
    with log_context(str(event["id"])[:64], None):
        try:
            message = events.parse_pubsub_event(event)
        except PoisonMessage as e:
            log.error("unreadable event dropped to the dead-letter topic: %s", e.reason)
            bus.publish(dead_letters, {"reason": e.reason, "event_id": str(event["id"])})
            return
        key = f"ingest-{message.message_id}"
        if events.already_processed(store, key):
            log.info("duplicate delivery ignored", extra=fields(message_id=message.message_id))
            return
        try:
            body = _parse(message, settings.max_event_age_s)
        except PoisonMessage as e:
            events.dead_letter(
                bus, dead_letters, message, e.reason, message.data.decode(errors="replace")[:10_000]
            )
            events.mark_processed(store, key, timedelta(seconds=settings.processed_marker_ttl_s))
            return
        good, bad = catalog.validate_records(body.kind, body.records)
        if bad:
            rejected = [
                {"index": r.index, "reason": r.reason, "record": body.records[r.index]} for r in bad
            ]
            events.dead_letter(
                bus, dead_letters, message, f"{len(bad)} invalid {body.kind} records", rejected
            )
        result = catalog.upsert(store, body.kind, good)
        events.mark_processed(store, key, timedelta(seconds=settings.processed_marker_ttl_s))
        log.info(
            "ingested",
            extra=fields(
                kind=body.kind,
                message_id=message.message_id,
                written=result.written,
                unchanged=result.unchanged,
                rejected=len(bad),
            ),
        )


def _parse(message: events.PubSubMessage, max_age_s: int) -> IngestMessage:
    if message.published_at is not None:
        age = datetime.now(UTC) - message.published_at
        if age > timedelta(seconds=max_age_s):
            raise PoisonMessage(
                f"The event is {int(age.total_seconds())} s old; the limit is {max_age_s} s."
            )
    try:
        return IngestMessage.model_validate(message.json())
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise PoisonMessage(f"Not an ingest batch: {where}: {first['msg']}") from e
