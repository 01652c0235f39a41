"""The per-turn event queue: off the request path, bounded, failures counted."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.errors import TransientError
from shared.metrics.publisher import IN_FLIGHT, TurnPublisher

ROOT = Path(__file__).resolve().parents[3]


class Bus:
    kind = "test"

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail, self.gate = fail, gate

    def publish(
        self, topic: str, payload: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None
    ) -> str:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise TransientError("publish failed")
        self.sent.append((topic, dict(payload)))
        return str(len(self.sent))


def test_events_are_published_in_order_from_the_background() -> None:
    bus = Bus()
    publisher = TurnPublisher(bus, "metrics")  # type: ignore[arg-type]
    for i in range(5):
        assert publisher.publish({"n": i})
    assert publisher.flush(5)
    assert bus.sent == [("metrics", {"n": i}) for i in range(5)]
    assert publisher.stats() == {"queued": 0, "published": 5, "dropped": 0, "failed": 0}
    publisher.close()


def test_a_slow_bus_never_blocks_publish_and_overflow_is_dropped_and_counted() -> None:
    gate = threading.Event()
    bus = Bus(gate=gate)
    publisher = TurnPublisher(bus, "metrics", capacity=3)  # type: ignore[arg-type]
    results = [publisher.publish({"n": i}) for i in range(40)]  # each returns at once
    accepted = results.count(True)
    # The queue holds 3; at most IN_FLIGHT more (and one being handed over) left it already.
    assert 3 <= accepted <= 3 + IN_FLIGHT + 1
    assert publisher.stats()["dropped"] == 40 - accepted
    gate.set()
    assert publisher.flush(5)
    assert sorted(p["n"] for _, p in bus.sent) == [i for i, ok in enumerate(results) if ok]
    publisher.close()


def test_publishes_run_side_by_side() -> None:
    """IN_FLIGHT publishes meet at a barrier: one at a time, the barrier would break."""
    barrier = threading.Barrier(IN_FLIGHT, timeout=5)

    class MeetingBus(Bus):
        def publish(self, topic: str, payload: Mapping[str, Any], **_: Any) -> str:
            barrier.wait()
            return super().publish(topic, payload)

    bus = MeetingBus()
    publisher = TurnPublisher(bus, "metrics")  # type: ignore[arg-type]
    for i in range(IN_FLIGHT):
        publisher.publish({"n": i})
    assert publisher.flush(10)
    assert publisher.stats()["failed"] == 0 and len(bus.sent) == IN_FLIGHT
    publisher.close()
    assert not publisher.publish({"n": "late"}) and publisher.stats()["dropped"] == 1


def test_a_failing_bus_is_logged_and_counted_never_raised() -> None:
    publisher = TurnPublisher(Bus(fail=True), "metrics")  # type: ignore[arg-type]
    assert publisher.publish({"n": 1})
    assert publisher.flush(5)
    assert publisher.stats()["failed"] == 1 and publisher.stats()["published"] == 0
    publisher.close()


def test_nothing_starts_until_the_first_event() -> None:
    before = threading.active_count()
    publisher = TurnPublisher(Bus(), "metrics")  # type: ignore[arg-type]
    assert threading.active_count() == before
    publisher.close()  # closing an idle publisher is harmless


def test_queued_events_are_published_when_the_interpreter_exits(tmp_path: Path) -> None:
    """A fresh interpreter queues events on a slow bus and exits at once: atexit publishes
    them (the workers are plain threads, alive while atexit handlers run)."""
    script = tmp_path / "exit.py"
    out = tmp_path / "sent.txt"
    script.write_text(
        f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from shared.metrics.publisher import TurnPublisher

class SlowBus:
    kind = "test"
    def publish(self, topic, payload, *, attributes=None):
        time.sleep(0.05)
        with open({str(out)!r}, "a") as f:
            f.write(str(payload["n"]) + "\\n")
        return "1"

publisher = TurnPublisher(SlowBus(), "metrics")
for i in range(20):
    publisher.publish({{"n": i}})
"""
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert sorted(int(x) for x in out.read_text().split()) == list(range(20))
