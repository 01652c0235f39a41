"""The event bus port: Pub/Sub in the cloud, an in-process bus on a laptop.

Outside this package, import from here: the port (`EventBus`) and what reading a delivered
message takes (`inbound`). The adapters (`local_bus`, `pubsub_bus`) are chosen by `shared.wiring`.
"""

from shared.bus.base import PUBSUB_EVENT_TYPE, EventBus, dead_letter_body, encode_payload
from shared.bus.inbound import (
    MAX_DEAD_PAYLOAD,
    PROCESSED,
    PubSubMessage,
    already_processed,
    check_age,
    dead_letter,
    dead_letter_event,
    mark_processed,
    parse_pubsub_event,
)

__all__ = [
    "MAX_DEAD_PAYLOAD",
    "PROCESSED",
    "PUBSUB_EVENT_TYPE",
    "EventBus",
    "PubSubMessage",
    "already_processed",
    "check_age",
    "dead_letter",
    "dead_letter_body",
    "dead_letter_event",
    "encode_payload",
    "mark_processed",
    "parse_pubsub_event",
]
