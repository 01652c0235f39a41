"""Per-turn metrics events, published off the request path.

A turn hands its event to a bounded queue and goes on; one background thread publishes.
When the queue is full the event is dropped and counted: metrics never slow or fail a turn.
The thread starts with the first event (nothing runs at import). On Cloud Run the CPU may be
throttled between requests, so an event can leave with the next request rather than at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from shared.bus.base import EventBus
from shared.logs import fields

log = logging.getLogger("shared.metrics")
_STOP = object()


class EventPublisher:
    def __init__(self, bus: EventBus, topic: str, *, capacity: int = 1000) -> None:
        self.bus, self.topic = bus, topic
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.published = self.dropped = self.failed = 0

    def publish(self, event: Mapping[str, Any]) -> bool:
        """Queue the event; False (and counted) when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(dict(event))
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped == 1 or dropped % 100 == 0:
                log.warning("metrics event dropped: queue full", extra=fields(dropped=dropped))
            return False

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued event is published or failed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "queued": self._queue.qsize(),
                "published": self.published,
                "dropped": self.dropped,
                "failed": self.failed,
            }

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish what is queued (up to the timeout), then stop the thread."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        self.flush(timeout_s)
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            return
        thread.join(timeout_s)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"publish-{self.topic}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is _STOP:
                    return
                self.bus.publish(self.topic, event)
                with self._lock:
                    self.published += 1
            except Exception as e:  # a metrics failure is logged and counted, never raised
                with self._lock:
                    self.failed += 1
                log.warning(
                    "metrics event not published",
                    extra=fields(topic=self.topic, error=type(e).__name__),
                )
            finally:
                self._queue.task_done()
