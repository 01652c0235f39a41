"""Functions loaded by functions-framework itself, as the runtime loads them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from functions_framework import create_app

ROOT = Path(__file__).resolve().parents[2]


def function_client(name: str, signature_type: str = "http", target: str | None = None) -> Any:
    app = create_app(
        target=target or name,
        source=str(ROOT / "functions" / name / "main.py"),
        signature_type=signature_type,
    )
    return app.test_client()


def pubsub_event(
    payload: Any,
    *,
    message_id: str = "1001",
    topic: str = "ingest",
    published: datetime | None = None,
) -> CloudEvent:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    when = (published or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": f"//pubsub.googleapis.com/projects/p/topics/{topic}",
            "id": message_id,
        },
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": message_id,
                "publishTime": when,
            },
            "subscription": "projects/p/subscriptions/eventarc-sub",
        },
    )


@pytest.fixture
def post_event() -> Callable[..., Any]:
    client = function_client("ingest", "cloudevent")

    def post(event: CloudEvent) -> Any:
        headers, body = to_binary(event)
        return client.post("/", headers=headers, data=body)

    return post


from tests.integration.chat_support import catalog_db, chat  # noqa: E402, F401 - fixtures
