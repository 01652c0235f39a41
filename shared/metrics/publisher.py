"""Per-turn metrics events, published off the request path.

A turn hands its event to a bounded queue and goes on; WORKERS daemon threads take events
from it and publish them side by side (a publish waits for the server's message id, so one at
a time would cap an instance at a few dozen events a second). When the queue is full the
event is dropped and counted: metrics never slow or fail a turn. Nothing starts before the
first event. What is queued is published at interpreter exit: the workers are plain daemon
threads, still running when `atexit` handlers do (a concurrent.futures pool is not: it shuts
down first). On Cloud Run the CPU may be throttled between requests, so an event can leave
with the next request rather than at once.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from shared.bus import EventBus
from shared.logs import fields

log = logging.getLogger("shared.metrics")
_STOP = object()
WORKERS = 8
IN_FLIGHT = WORKERS  # publishes at once
EXIT_FLUSH_S = 2.0
_open: weakref.WeakSet[TurnPublisher] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for publisher in list(_open):
        publisher.close(EXIT_FLUSH_S)


class TurnPublisher:
    def __init__(self, bus: EventBus, topic: str, *, capacity: int = 1000) -> None:
        self.bus, self.topic = bus, topic
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.published = self.dropped = self.failed = 0

    def publish(self, event: Mapping[str, Any]) -> bool:
        """Queue the event; False (and counted) when the queue is full or the publisher closed."""
        with self._lock:
            if self._closed:
                self.dropped += 1
                return False
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
        """Publish what is queued (up to the timeout), then stop the workers. Idempotent; a
        publish after it is dropped and counted."""
        with self._lock:
            workers, closed, self._closed = list(self._workers), self._closed, True
        _open.discard(self)
        if closed or not workers:
            return
        self.flush(timeout_s)
        for _ in workers:
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                return
        for worker in workers:
            worker.join(timeout_s)

    def _start(self) -> None:
        """Start the workers (under self._lock, once)."""
        if self._workers:
            return
        for i in range(WORKERS):
            worker = threading.Thread(target=self._run, name=f"{self.topic}-pub-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        _open.add(self)

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
