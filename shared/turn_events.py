"""Per-turn metrics events, published off the request path.

A turn hands its event to a bounded queue and goes on; a background thread hands each event
to a small pool that publishes up to IN_FLIGHT at once (a publish waits for the server's
message id, so one at a time would cap an instance at a few dozen events a second). When the
queue is full the event is dropped and counted: metrics never slow or fail a turn. Nothing
starts before the first event; what is queued is published at interpreter exit (Cloud Run
sends SIGTERM, gunicorn exits its workers). On Cloud Run the CPU may be throttled between
requests, so an event can leave with the next request rather than at once.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.bus.base import EventBus
from shared.logs import fields

log = logging.getLogger("shared.metrics")
_STOP = object()
IN_FLIGHT = 8


class EventPublisher:
    def __init__(self, bus: EventBus, topic: str, *, capacity: int = 1000) -> None:
        self.bus, self.topic = bus, topic
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(IN_FLIGHT)
        self._pool: ThreadPoolExecutor | None = None
        self.published = self.dropped = self.failed = 0
        self._closed = False

    def publish(self, event: Mapping[str, Any]) -> bool:
        """Queue the event; False (and counted) when the queue is full or the publisher closed."""
        if self._closed:
            with self._lock:
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
        """Publish what is queued (up to the timeout), then stop the thread. Idempotent."""
        with self._lock:
            thread, closed, self._closed = self._thread, self._closed, True
        if thread is None or closed:
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
                self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix=f"{self.topic}-pub")
                self._thread = threading.Thread(
                    target=self._run, name=f"publish-{self.topic}", daemon=True
                )
                self._thread.start()
                atexit.register(self.close, 2.0)

    def _run(self) -> None:
        assert self._pool is not None
        while True:
            event = self._queue.get()
            if event is _STOP:
                self._queue.task_done()
                self._pool.shutdown(wait=True)
                return
            self._slots.acquire()
            self._pool.submit(self._send, event)

    def _send(self, event: dict[str, Any]) -> None:
        try:
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
            self._slots.release()
            self._queue.task_done()
