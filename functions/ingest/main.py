"""The ingest function: catalog batches from the `ingest` Pub/Sub topic, as CloudEvents."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.catalog.ingest import handle_ingest_event


@functions_framework.cloud_event
def ingest(cloud_event: CloudEvent) -> None:
    """Entry point of the `ingest` function: returning acks, raising asks for redelivery."""
    handle_ingest_event(cloud_event)
