import base64
import json
import threading

import pytest
from cloudevents.http import CloudEvent

from shared.bus import PUBSUB_EVENT_TYPE, parse_pubsub_event
from shared.bus.local_bus import LocalBus


@pytest.fixture
def bus():
    b = LocalBus(max_attempts=3, backoff_s=0.01)
    yield b
    b.close()


def test_delivers_a_pubsub_shaped_cloud_event(bus: LocalBus) -> None:
    got: list[CloudEvent] = []
    bus.subscribe("ingest", got.append)
    message_id = bus.publish("ingest", {"kind": "shops", "records": [1]}, attributes={"a": "b"})
    assert bus.drain(5)
    (event,) = got
    assert event["type"] == PUBSUB_EVENT_TYPE
    assert event["id"] == message_id
    assert event["source"].endswith("/topics/ingest")
    message = event.data["message"]
    assert json.loads(base64.b64decode(message["data"])) == {"kind": "shops", "records": [1]}
    assert message["attributes"] == {"a": "b"} and message["messageId"] == message_id
    parsed = parse_pubsub_event(event)
    assert parsed.topic == "ingest" and parsed.json()["kind"] == "shops"
    assert parsed.published_at is not None


def test_every_subscription_gets_every_message(bus: LocalBus) -> None:
    a: list[str] = []
    b: list[str] = []
    bus.subscribe("t", lambda e: a.append(e["id"]), name="a")
    bus.subscribe("t", lambda e: b.append(e["id"]), name="b")
    ids = {bus.publish("t", {"n": n}) for n in range(20)}
    assert bus.drain(5)
    assert set(a) == set(b) == ids and len(ids) == 20


def test_a_failure_is_retried_until_it_succeeds(bus: LocalBus) -> None:
    attempts: list[int] = []

    def flaky(event: CloudEvent) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("store down")

    bus.subscribe("t", flaky)
    bus.publish("t", {"x": 1})
    assert bus.drain(5)
    assert len(attempts) == 3 and bus.dead_letters == []


def test_a_message_that_always_fails_ends_in_the_dead_letter_topic(bus: LocalBus) -> None:
    dead: list[CloudEvent] = []
    attempts: list[int] = []
    bus.subscribe("t", lambda e: attempts.append(1) or (_ for _ in ()).throw(ValueError("bad")))
    bus.subscribe("t-dead-letter", dead.append)
    message_id = bus.publish("t", {"x": 1})
    assert bus.drain(5)
    assert len(attempts) == 3
    (letter,) = bus.dead_letters
    assert (letter.message_id, letter.attempts, letter.payload) == (message_id, 3, {"x": 1})
    assert "ValueError: bad" in letter.reason
    (event,) = dead
    body = parse_pubsub_event(event).json()
    assert body["message_id"] == message_id and body["payload"] == {"x": 1}


def test_a_poison_message_does_not_hold_up_the_others(bus: LocalBus) -> None:
    done = threading.Event()
    good: list[int] = []

    def handler(event: CloudEvent) -> None:
        n = parse_pubsub_event(event).json()["n"]
        if n == 0:
            raise ValueError("poison")
        good.append(n)
        if len(good) == 5:
            done.set()

    bus.subscribe("t", handler)
    for n in range(6):
        bus.publish("t", {"n": n})
    assert done.wait(5)
    assert bus.drain(5)
    assert sorted(good) == [1, 2, 3, 4, 5] and len(bus.dead_letters) == 1


def test_no_subscriber_means_the_message_is_dropped(bus: LocalBus) -> None:
    bus.publish("nobody", {"x": 1})
    assert bus.drain(1) and bus.dead_letters == []


def test_publishing_after_close_fails() -> None:
    b = LocalBus()
    b.close()
    with pytest.raises(RuntimeError):
        b.publish("t", {})


def test_close_lets_deliveries_finish_first() -> None:
    b = LocalBus(max_attempts=2, backoff_s=0.01)
    got: list[str] = []
    b.subscribe("t", lambda e: got.append(e["id"]))
    ids = [b.publish("t", {"n": n}) for n in range(50)]
    b.close()
    assert sorted(got) == sorted(ids)


def test_close_says_what_it_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    b = LocalBus(max_attempts=5, backoff_s=30)  # the retry waits far longer than close does

    def fail(event: CloudEvent) -> None:
        raise ConnectionError("down")

    b.subscribe("t", fail)
    b.publish("t", {"x": 1})
    with caplog.at_level("WARNING"):
        b.close(drain_timeout_s=0.3)
    assert "1 deliveries not done" in caplog.text


def test_a_dead_letter_during_close_is_kept_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    b = LocalBus(max_attempts=1, backoff_s=0)
    release = threading.Event()

    def slow_fail(event: CloudEvent) -> None:
        release.wait(5)
        raise ValueError("bad")

    b.subscribe("t", slow_fail)
    b.publish("t", {"x": 1})
    closer = threading.Thread(target=b.close, kwargs={"drain_timeout_s": 0.1})
    closer.start()
    closer.join(2)
    release.set()
    b._pool.shutdown(wait=True)  # type: ignore[union-attr]
    assert len(b.dead_letters) == 1
