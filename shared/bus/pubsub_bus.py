"""The event bus on Cloud Pub/Sub (google-cloud-pubsub), honouring PUBSUB_EMULATOR_HOST."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.bus.base import encode_payload
from shared.config import Settings
from shared.errors import TransientError

if TYPE_CHECKING:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined, unused-ignore]


EMULATOR_PROJECT = "demo-local"


class PubSubBus:
    """Publishes JSON messages; waits for the server's message id (CPU is throttled after a
    Cloud Functions request ends, so nothing may be left in the background batch)."""

    kind = "pubsub"

    def __init__(
        self,
        project: str,
        *,
        timeout_s: float = 10.0,
        client: pubsub_v1.PublisherClient | None = None,
    ) -> None:
        self.project = project
        self.timeout_s = timeout_s
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> PubSubBus:
        project = settings.google_cloud_project
        if not project and settings.pubsub_emulator_host:
            project = EMULATOR_PROJECT  # the emulator takes any project id
        if not project:
            raise ValueError("GOOGLE_CLOUD_PROJECT must be set to publish to Pub/Sub.")
        return cls(project, timeout_s=settings.publish_timeout_s)

    @property
    def client(self) -> pubsub_v1.PublisherClient:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1  # type: ignore[attr-defined, unused-ignore]

                self._client = pubsub_v1.PublisherClient()
            return self._client

    def publish(
        self, topic: str, payload: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None
    ) -> str:
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc

        data = encode_payload(payload)
        path = self.client.topic_path(self.project, topic)
        try:
            future = self.client.publish(path, data, **dict(attributes or {}))
            return str(future.result(timeout=self.timeout_s))
        # The batch fails a publish with an API error or, when fetching credentials from the
        # metadata server fails, with google.auth's TransportError (python-pubsub#1173).
        except (
            gexc.GoogleAPICallError,
            gexc.RetryError,
            auth_exc.TransportError,
            TimeoutError,
        ) as e:
            raise TransientError(f"Publishing to {topic} failed: {type(e).__name__}") from e

    def close(self) -> None:
        """Flush and stop the publisher; closing twice is harmless."""
        with self._lock:
            if self._client is not None:
                self._client.stop()
                self._client = None
