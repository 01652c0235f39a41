"""Watching an ingest on the local stack: the ingest function subscribed to the in-process bus
(through its own functions-framework app, as `make dev` does), its work counted, its dead
letters collected, and a wait until the bus has delivered everything."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.catalog.publish import Progress

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

    from shared.bus.local_bus import LocalBus
    from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the local stack runs from it


class IngestWatch:
    """Counts what the in-process ingest function has done, and what was dead-lettered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records = 0
        self.batches = 0
        self.dead_letters: list[str] = []

    def wrap(self, deliver: Callable[[CloudEvent], None]) -> Callable[[CloudEvent], None]:
        def counted(event: CloudEvent) -> None:
            deliver(event)  # raises on failure: the bus retries, then dead-letters
            records = _records_in(event)
            with self._lock:
                self.records += records
                self.batches += 1

        return counted

    def dead_letter(self, event: CloudEvent) -> None:
        try:
            body = _body_of(event)
            what = f"message {body.get('message_id')}: {body.get('reason')}"
        except (ValueError, TypeError, AttributeError):
            what = f"dead letter {event['id']}"
        with self._lock:
            self.dead_letters.append(what[:500])


def _body_of(event: CloudEvent) -> Any:
    return json.loads(base64.b64decode(event.data["message"]["data"]))


def _records_in(event: CloudEvent) -> int:
    try:
        return len(_body_of(event)["records"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0


def subscribe_ingest(bus: LocalBus, settings: Settings, topic: str) -> IngestWatch:
    """Subscribe the ingest function to `topic` as devserver.build_app does (through its own
    functions-framework app), counting its work, and listen on the dead-letter topics."""
    from functions_framework import create_app

    from shared.bus.local_bus import wsgi_subscriber

    app = create_app(  # type: ignore[no-untyped-call, unused-ignore]
        target="ingest",
        source=str(ROOT / "functions" / "ingest" / "main.py"),
        signature_type="cloudevent",
    )
    watch = IngestWatch()
    bus.subscribe(topic, watch.wrap(wsgi_subscriber(app)), name="ingest")
    for dead in {
        settings.dead_letter_topic(topic),
        settings.dead_letter_topic(settings.ingest_topic),
    }:
        bus.subscribe(dead, watch.dead_letter, name="publish-catalog-dead-letters")
    return watch


def wait_for_ingest(
    bus: LocalBus,
    watch: IngestWatch,
    total: int,
    timeout_s: float,
    progress: Progress | None = None,
) -> bool:
    """Wait until the bus has delivered everything; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        if progress:
            progress(min(watch.records, total), total)
        if bus.drain(0.1):
            if progress:
                progress(min(watch.records, total), total)
            return True
        if time.monotonic() >= deadline:
            return False
