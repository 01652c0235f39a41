"""What `make dev-cloud` declares in the emulators, as terraform/pubsub.tf and Eventarc do in the
cloud: topics, push subscriptions (Eventarc's trigger subscriptions) with a dead-letter topic, and
the review subscriptions on the dead-letter topics; and the wait for a published catalog to be
stored.

Pub/Sub through the emulator's REST API (https://cloud.google.com/pubsub/docs/reference/rest):
the same resources and fields as the cloud's.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# A push the emulator sent to a process that was then killed is not failed at once: it waits for
# its ack deadline, then is redelivered. Eventarc's is the function's timeout (up to 600 s);
# here a minute, so a restarted function gets its lost work back soon.
ACK_DEADLINE_S = 60
# The emulator tries a refused push again about a second later: as many deliveries as Pub/Sub
# allows, so a function down for up to about 100 s (a restart, a crash) loses nothing to the
# dead-letter topic.
MAX_DELIVERY_ATTEMPTS = 100
# No retryPolicy on the push subscriptions, unlike terraform/pubsub.tf: with one, the emulator
# (0.8.20) can file a failed message twice in its table of delayed redeliveries; the task that
# releases them then fails on the second copy and never runs again, so no failed message of that
# subscription is pushed any more, ever. Two messages refused together are enough
# (tests/cloud/test_push_delivery.py). Without one, a refused push is retried after a second.


class AdminError(RuntimeError):
    pass


class Admin:
    def __init__(self, host: str, project: str) -> None:
        self.base = f"http://{host}/v1/projects/{project}"
        self.project = project

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - an http:// URL made here, to the emulator
            f"{self.base}/{path}",
            data=json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as e:
            if method == "PUT" and e.code == 409:  # already there: declaring twice is harmless
                return {}
            raise AdminError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from e

    def _put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", path, body)

    def topic(self, name: str) -> None:
        self._put(f"topics/{name}", {})

    def pull_subscription(self, name: str, topic: str) -> None:
        self._put(
            f"subscriptions/{name}",
            {"topic": self._topic(topic), "ackDeadlineSeconds": 60},
        )

    def push_subscription(self, name: str, topic: str, endpoint: str, *, dead_letter: str) -> None:
        self._put(
            f"subscriptions/{name}",
            {
                "topic": self._topic(topic),
                "pushConfig": {"pushEndpoint": endpoint},
                "ackDeadlineSeconds": ACK_DEADLINE_S,
                "deadLetterPolicy": {
                    "deadLetterTopic": self._topic(dead_letter),
                    "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS,
                },
            },
        )

    def pull(self, subscription: str, max_messages: int = 100) -> list[dict[str, Any]]:
        """Pull and acknowledge what a (review) subscription holds: the messages."""
        path = f"subscriptions/{subscription}"
        # an empty subscription answers at once instead of waiting for a message
        asked = {"maxMessages": max_messages, "returnImmediately": True}
        received = self._call("POST", f"{path}:pull", asked).get("receivedMessages", [])
        if received:
            self._call("POST", f"{path}:acknowledge", {"ackIds": [m["ackId"] for m in received]})
        return [m["message"] for m in received]

    def publish(self, topic: str, data: bytes) -> str:
        """Publish one message as the REST API takes it; its id."""
        body = {"messages": [{"data": base64.b64encode(data).decode()}]}
        return str(self._call("POST", f"topics/{topic}:publish", body)["messageIds"][0])

    def _topic(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"


def expected_counts(catalog: Path) -> dict[str, int]:
    """The distinct records of each kind a catalog directory holds: what a fresh store holds
    once all of it is ingested."""
    from shared.catalog.publish import read_catalog
    from shared.catalog.records import record_id, validate_records

    ids: dict[str, set[str]] = {}
    for f in read_catalog([catalog]).files:
        good, _ = validate_records(f.kind, f.records)
        ids.setdefault(f.kind, set()).update(record_id(r) for r in good)
    return {kind: len(found) for kind, found in ids.items() if found}


def emulator_client(host: str, project: str) -> Any:
    """A Firestore client on the emulator at `host`. The client reads the variable when it is
    made, so it is set only for that moment: nothing else in this process sees it."""
    from google.cloud import firestore

    before = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        return firestore.Client(project=project)
    finally:
        if before is None:
            del os.environ["FIRESTORE_EMULATOR_HOST"]
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = before


def wait_ingested(
    catalog: Path, firestore_host: str, project: str, timeout_s: float
) -> dict[str, int]:
    """Wait until the store's catalog counts reach what the directory holds; those counts."""
    from shared.catalog.upsert import read_catalog_meta
    from shared.store.firestore_store import FirestoreStore

    want = expected_counts(catalog)
    store = FirestoreStore(emulator_client(firestore_host, project))
    end = time.monotonic() + timeout_s
    counts: dict[str, int] = {}
    while time.monotonic() < end:
        meta = read_catalog_meta(store)
        counts = dict(meta.counts) if meta else {}
        if all(counts.get(kind, 0) >= n for kind, n in want.items()):
            return counts
        time.sleep(0.5)
    raise TimeoutError(f"after {timeout_s:.0f} s the store holds {counts}, not {want}")
