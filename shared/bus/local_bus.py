"""The in-process bus: real Pub/Sub-shaped CloudEvents, retries with backoff, a dead-letter list."""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.http import CloudEvent

from shared.bus.base import PUBSUB_EVENT_TYPE, dead_letter_body, encode_payload
from shared.logs import fields

log = logging.getLogger("shared.bus")
Subscriber = Callable[[CloudEvent], None]
PROJECT = "local"
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    subscription: str
    message_id: str
    payload: Any
    attempts: int
    reason: str


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    topic: str = field(compare=False)
    subscription: str = field(compare=False)
    message: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)


class LocalBus:
    """Each subscription gets each message at least once, on worker threads, like Pub/Sub push."""

    kind = "local"

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        dead_letter_suffix: str = "-dead-letter",
        workers: int = 4,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.dead_letter_suffix = dead_letter_suffix
        self.dead_letters: list[DeadLetter] = []
        self._subs: dict[str, dict[str, Subscriber]] = {}
        self._queue: list[_Delivery] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(time.time_ns() // 1000)  # unique across restarts too
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None

    def subscribe(self, topic: str, subscriber: Subscriber, *, name: str | None = None) -> None:
        with self._cond:
            self._subs.setdefault(topic, {})[
                name or f"{topic}-sub-{len(self._subs.get(topic, {}))}"
            ] = subscriber

    def publish(
        self, topic: str, payload: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None
    ) -> str:
        data = encode_payload(payload)
        message_id = str(next(self._ids))
        message = {
            "data": base64.b64encode(data).decode(),
            "attributes": dict(attributes or {}),
            "messageId": message_id,
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        with self._cond:
            if self._closed:
                raise RuntimeError("The bus is closed.")
            subs = list(self._subs.get(topic, {}))
            for sub in subs:
                heapq.heappush(
                    self._queue, _Delivery(time.monotonic(), next(self._seq), topic, sub, message)
                )
            self._start()
            self._cond.notify_all()
        if not subs:
            log.debug("no subscription on %s: message dropped", topic)
        return message_id

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every message is delivered or dead-lettered; False on timeout or close."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._in_flight:
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, drain_timeout_s: float = 5.0) -> None:
        """Let deliveries under way finish (up to the timeout), then stop; say what is dropped."""
        self.drain(drain_timeout_s)
        with self._cond:
            self._closed = True
            dropped = len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if dropped:
            log.warning("bus closed with %d deliveries not done: they are dropped", dropped)
        if self._scheduler is not None:
            self._scheduler.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # --- internals

    def _start(self) -> None:
        if self._scheduler is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="local-bus")
            self._scheduler = threading.Thread(target=self._run, name="local-bus", daemon=True)
            self._scheduler.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    not self._queue or self._queue[0].due > time.monotonic()
                ):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                delivery = heapq.heappop(self._queue)
                self._in_flight += 1
            assert self._pool is not None
            self._pool.submit(self._deliver, delivery)

    def _deliver(self, d: _Delivery) -> None:
        try:
            subscriber = self._subs[d.topic][d.subscription]
            subscriber(to_cloud_event(d.topic, d.subscription, d.message))
        except Exception as e:  # any failure means redelivery, as with Pub/Sub push
            self._failed(d, f"{type(e).__name__}: {e}"[:500])
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _failed(self, d: _Delivery, reason: str) -> None:
        log.warning(
            "delivery failed",
            extra=fields(
                topic=d.topic, subscription=d.subscription, attempt=d.attempt, reason=reason
            ),
        )
        if d.attempt < self.max_attempts:
            cap = min(_MAX_BACKOFF_S, self.backoff_s * 2 ** (d.attempt - 1))
            retry = _Delivery(
                time.monotonic() + random.uniform(0, cap),  # full jitter
                next(self._seq),
                d.topic,
                d.subscription,
                d.message,
                d.attempt + 1,
            )
            with self._cond:
                heapq.heappush(self._queue, retry)
                self._cond.notify_all()
            return
        payload = json.loads(base64.b64decode(d.message["data"]))
        message_id = d.message["messageId"]
        self.dead_letters.append(
            DeadLetter(d.topic, d.subscription, message_id, payload, d.attempt, reason)
        )
        with self._cond:
            closed = self._closed
        if closed:
            log.warning("bus closed: dead letter %s kept in memory only", message_id)
            return
        self.publish(
            d.topic + self.dead_letter_suffix,
            dead_letter_body(d.topic, message_id, reason, payload),
            attributes={"source_topic": d.topic, "delivery_attempts": str(d.attempt)},
        )


def to_cloud_event(topic: str, subscription: str, message: Mapping[str, Any]) -> CloudEvent:
    """The event Eventarc would deliver for a Pub/Sub message."""
    attributes = {
        "type": PUBSUB_EVENT_TYPE,
        "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}",
        "id": message["messageId"],
        "time": message["publishTime"],
        "specversion": "1.0",
        "datacontenttype": "application/json",
    }
    data = {
        "message": dict(message),
        "subscription": f"projects/{PROJECT}/subscriptions/{subscription}",
    }
    return CloudEvent(attributes, data)


def wsgi_subscriber(app: Any, path: str = "/") -> Subscriber:
    """Deliver through a function's own functions-framework app, as an HTTP CloudEvent."""
    from cloudevents.conversion import to_binary

    client = app.test_client()

    def deliver(event: CloudEvent) -> None:
        headers, body = to_binary(event)
        response = client.post(path, headers=headers, data=body)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")

    return deliver
