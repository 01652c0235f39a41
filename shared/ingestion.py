"""The ingest handler: one Pub/Sub catalog batch in, validated records upserted, bad ones out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import catalog, events, wiring
from shared.ai.ports import ModelError
from shared.config import Settings, get_settings
from shared.errors import PoisonMessage, first_problem
from shared.logs import configure_logging, fields, log_context
from shared.store.base import StoreError

log = logging.getLogger("shared.ingestion")
MAX_RECORDS = 5000


class IngestMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["products", "shops", "inventory", "documents"]
    records: list[Any] = Field(min_length=1, max_length=MAX_RECORDS)  # each checked on its own


def handle_ingest_event(event: Any) -> None:
    """Acknowledge (return) what is done or can never succeed; raise what is worth retrying."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.google_cloud_project)
    with log_context(str(event["id"])[:64], None):
        try:
            message = events.parse_pubsub_event(event)
        except PoisonMessage as e:
            events.dead_letter_event(wiring.get_bus(), _dead_letters(settings), event, e.reason)
            return
        key = f"ingest-{message.message_id}"
        if events.already_processed(wiring.get_store(), key):
            log.info("duplicate delivery ignored", extra=fields(message_id=message.message_id))
            return
        try:
            _ingest(message, settings)
        except PoisonMessage as e:
            payload = message.data.decode(errors="replace")[:10_000]
            events.dead_letter(
                wiring.get_bus(), _dead_letters(settings), message, e.reason, payload
            )
        events.mark_processed(
            wiring.get_store(), key, timedelta(seconds=settings.processed_marker_ttl_s)
        )


def _ingest(message: events.PubSubMessage, settings: Settings) -> None:
    """Upsert the good records, then dead-letter the bad ones (once: after the upsert held)."""
    body = _parse(message, settings.max_event_age_s)
    good, bad = catalog.validate_records(body.kind, body.records)
    published_at = message.published_at or datetime.now(UTC)
    embedder = wiring.get_embedder() if body.kind in catalog.EMBEDDED_KINDS else None
    try:
        result = catalog.upsert(wiring.get_store(), body.kind, good, published_at, embedder)
    except StoreError as e:  # a refusal, not an outage (StoreUnavailable raises on: redelivery)
        raise PoisonMessage(f"The store refused the batch: {e.message}") from e
    except ModelError as e:  # a refusal too (ModelUnavailable raises on: redelivery)
        raise PoisonMessage(f"The embedding model refused the batch: {e}") from e
    if bad:
        rejected = [
            {"index": r.index, "reason": r.reason, "record": body.records[r.index]} for r in bad
        ]
        reason = f"{len(bad)} invalid {body.kind} records"
        events.dead_letter(wiring.get_bus(), _dead_letters(settings), message, reason, rejected)
    log.info(
        "ingested",
        extra=fields(
            kind=body.kind,
            message_id=message.message_id,
            written=result.written,
            unchanged=result.unchanged,
            stale=result.stale,
            embedded=result.embedded,
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
        raise PoisonMessage(f"Not an ingest batch: {first_problem(e)}") from e


def _dead_letters(settings: Settings) -> str:
    return settings.dead_letter_topic(settings.ingest_topic)
