"""The ingest function's Pub/Sub handler: one catalog batch in, valid records upserted, the
invalid ones dead-lettered with their reasons."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import events, wiring
from shared.ai import ModelError
from shared.bus import PubSubMessage, dead_letter
from shared.catalog import profile
from shared.catalog.records import EMBEDDED_KINDS, validate_records
from shared.catalog.upsert import upsert
from shared.config import Settings
from shared.errors import PoisonMessage, first_problem
from shared.logs import fields
from shared.store import StoreError

log = logging.getLogger("shared.catalog.ingest")
MAX_RECORDS = 5000
PROFILED_KINDS = frozenset({"manifest", "products", "shops"})


class IngestMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["manifest", "products", "shops", "inventory", "documents"]
    records: list[Any] = Field(min_length=1, max_length=MAX_RECORDS)  # each checked on its own


def parse(message: PubSubMessage, settings: Settings) -> IngestMessage:
    try:
        return IngestMessage.model_validate(message.json())
    except ValidationError as e:
        raise PoisonMessage(f"Not an ingest batch: {first_problem(e)}") from e


def handle(message: PubSubMessage, body: IngestMessage, settings: Settings) -> None:
    """Upsert the good records, then dead-letter the bad ones (once: after the upsert held)."""
    good, bad = validate_records(body.kind, body.records)
    published_at = message.published_at or datetime.now(UTC)
    embedder = wiring.get_embedder() if body.kind in EMBEDDED_KINDS else None
    store = wiring.get_store()
    try:
        result = upsert(store, body.kind, good, published_at, embedder)
        # The profile summarises manifest, products and shops: rebuilt when they moved past
        # it (a redelivery after a crash between the two finds it stale and rebuilds).
        rebuilt = profile.refresh(store) if body.kind in PROFILED_KINDS else None
    except StoreError as e:  # a refusal, not an outage (StoreUnavailable raises on: redelivery)
        raise PoisonMessage(f"The store refused the batch: {e.message}") from e
    except ModelError as e:  # a refusal too (ModelUnavailable raises on: redelivery)
        raise PoisonMessage(f"The embedding model refused the batch: {e}") from e
    if bad:
        rejected = [
            {"index": r.index, "reason": r.reason, "record": body.records[r.index]} for r in bad
        ]
        reason = f"{len(bad)} invalid {body.kind} records"
        dead = settings.dead_letter_topic(settings.ingest_topic)
        dead_letter(wiring.get_bus(), dead, message, reason, rejected)
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
            profile_version=rebuilt.version if rebuilt else None,
        ),
    )


SUBSCRIBER = events.Subscriber(
    name="ingest", topic=lambda s: s.ingest_topic, parse=parse, handle=handle
)


def handle_ingest_event(event: Any) -> None:
    """Acknowledge (return) what is done or can never succeed; raise what is worth retrying."""
    events.receive(event, SUBSCRIBER)
