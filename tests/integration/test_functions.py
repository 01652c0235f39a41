"""Each function through functions-framework: health, and ingest with real CloudEvents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_structured

from shared import wiring
from shared.bus import parse_pubsub_event
from shared.bus.local_bus import LocalBus
from shared.catalog import read_catalog_meta
from shared.store import InvalidDocument, StoreUnavailable
from shared.store.sqlite_store import SqliteStore
from tests.integration.conftest import function_client, pubsub_event

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "catalog"
SHOP = {
    "id": "shop-x1",
    "name": "Cymbal Coffee Test",
    "address": "1 Main St",
    "city": "Testville",
    "state": "WA",
    "location": {"lat": 47.6, "lng": -122.3},
    "hours": {"mon_fri": "07:00-19:00", "sat_sun": "closed"},
    "amenities": ["wifi"],
    "description": "A shop for tests.",
}


def dead_letters() -> list[dict[str, Any]]:
    bus = wiring.get_bus()
    assert isinstance(bus, LocalBus)
    got: list[dict[str, Any]] = []
    bus.subscribe("ingest-dead-letter", lambda e: got.append(parse_pubsub_event(e).json()))
    return got


@pytest.mark.parametrize("name", ["chat", "intent", "metrics"])
def test_public_health_is_the_status_alone(name: str) -> None:
    r = function_client(name).get("/health")
    # nothing is loaded here, and the chat has nothing to ground answers on
    status = "degraded" if name == "chat" else "ok"
    assert r.status_code == (503 if name == "chat" else 200) and r.mimetype == "application/json"
    assert r.get_json() == {"status": status}


@pytest.mark.parametrize("name", ["chat", "intent", "metrics"])
def test_health_details_answer_json(name: str) -> None:
    r = function_client(name).get("/health/details")
    assert r.status_code == 200 and r.mimetype == "application/json"
    report = r.get_json()
    if name == "chat":
        assert report["status"] == "degraded" and report["checks"]["catalog"]["ok"] is False
        assert [k for k, v in report["checks"].items() if not v["ok"]] == ["catalog"]
    else:
        assert report["status"] == "ok"
    assert report["checks"]["store"] == {
        "ok": True,
        "kind": "sqlite",
        "ms": report["checks"]["store"]["ms"],
    }


def test_health_reports_a_failing_store_as_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    class DownStore(SqliteStore):
        def ping(self) -> None:
            raise StoreUnavailable("down")

    monkeypatch.setitem(wiring._instances, "store", DownStore())
    assert function_client("chat").get("/health").status_code == 503
    report = function_client("chat").get("/health/details").get_json()
    assert report["status"] == "degraded" and report["checks"]["store"]["ok"] is False


def test_ingest_upserts_and_a_redelivery_changes_nothing(post_event) -> None:
    event = pubsub_event({"kind": "shops", "records": [SHOP]})
    assert post_event(event).status_code == 200
    store = wiring.get_store()
    assert store.get("shops", "shop-x1")["city"] == "Testville"
    assert read_catalog_meta(store).version == 1
    for _ in range(4):  # at-least-once: the same message again
        assert post_event(event).status_code == 200
    again = pubsub_event({"kind": "shops", "records": [SHOP]}, message_id="1002")  # republished
    assert post_event(again).status_code == 200
    meta = read_catalog_meta(store)
    assert (meta.version, meta.counts) == (1, {"shops": 1})


def test_structured_events_and_raw_push_envelopes_work_too() -> None:
    client = function_client("ingest", "cloudevent")
    headers, body = to_structured(
        pubsub_event({"kind": "shops", "records": [SHOP]}, message_id="5")
    )
    assert client.post("/", headers=headers, data=body).status_code == 200
    envelope = pubsub_event(
        {"kind": "shops", "records": [{**SHOP, "id": "shop-x2"}]}, message_id="6"
    ).data
    assert (
        client.post("/", json=envelope).status_code == 200
    )  # Pub/Sub push, converted by the framework
    store = wiring.get_store()
    assert store.get("shops", "shop-x1") and store.get("shops", "shop-x2")


def test_bad_records_go_to_the_dead_letter_topic_and_the_rest_land(post_event) -> None:
    letters = dead_letters()
    bad = {**SHOP, "id": "shop-bad", "hours": {"mon_fri": "all day", "sat_sun": "closed"}}
    r = post_event(pubsub_event({"kind": "shops", "records": [SHOP, bad, {"id": "x"}]}))
    assert r.status_code == 200
    assert wiring.get_bus().drain(5)
    assert wiring.get_store().get("shops", "shop-x1") is not None
    assert wiring.get_store().get("shops", "shop-bad") is None
    (letter,) = letters
    assert [p["index"] for p in letter["payload"]] == [1, 2]
    assert "hours" in letter["payload"][0]["reason"] and "all day" in letter["payload"][0]["reason"]
    assert letter["payload"][0]["record"]["id"] == "shop-bad"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00not json", "not JSON"),
        ({"kind": "spaceships", "records": [{}]}, "kind"),
        ({"kind": "shops", "records": []}, "records"),
        ({"kind": "shops", "records": [SHOP], "extra": 1}, "extra"),
        (  # oversized: more records than one batch may carry
            {
                "kind": "inventory",
                "records": [{"shop_id": "s", "product_id": "p", "quantity": 1}] * 5001,
            },
            "records",
        ),
    ],
)
def test_poison_messages_are_dead_lettered_not_retried(
    post_event, payload: Any, reason: str
) -> None:
    letters = dead_letters()
    r = post_event(pubsub_event(payload, message_id="77"))
    assert r.status_code == 200  # acknowledged: retrying cannot help
    assert wiring.get_bus().drain(5)
    (letter,) = letters
    assert reason in letter["reason"] and letter["message_id"] == "77"
    assert post_event(pubsub_event(payload, message_id="77")).status_code == 200
    assert (
        wiring.get_bus().drain(5) and len(letters) == 1
    )  # a redelivery is not dead-lettered twice


def test_an_oversized_record_is_dead_lettered_and_its_batch_lands(post_event) -> None:
    letters = dead_letters()
    huge = {**SHOP, "id": "shop-huge", "description": "x" * 5000}
    r = post_event(pubsub_event({"kind": "shops", "records": [SHOP, huge]}))
    assert r.status_code == 200 and wiring.get_bus().drain(5)
    assert wiring.get_store().get("shops", "shop-x1") is not None
    assert wiring.get_store().get("shops", "shop-huge") is None
    (letter,) = letters
    assert letter["payload"][0]["index"] == 1 and "description" in letter["payload"][0]["reason"]


def test_an_event_too_old_to_matter_is_dead_lettered(post_event) -> None:
    letters = dead_letters()
    old = datetime.now(UTC) - timedelta(days=2)
    assert (
        post_event(pubsub_event({"kind": "shops", "records": [SHOP]}, published=old)).status_code
        == 200
    )
    assert wiring.get_bus().drain(5)
    assert "old" in letters[0]["reason"] and wiring.get_store().get("shops", "shop-x1") is None


def test_a_transient_failure_asks_for_redelivery_and_the_retry_completes(
    monkeypatch: pytest.MonkeyPatch, post_event
) -> None:
    """A crash half-way through a batch: the redelivery leaves exactly one current version."""

    class FlakyStore(SqliteStore):
        failures = 1
        calls = 0

        def transaction(self, fn):  # type: ignore[no-untyped-def]
            FlakyStore.calls += 1
            if FlakyStore.calls == 2 and FlakyStore.failures:
                FlakyStore.failures -= 1
                raise StoreUnavailable("connection reset")
            return super().transaction(fn)

    monkeypatch.setitem(wiring._instances, "store", FlakyStore())
    shops = [{**SHOP, "id": f"shop-{i:03d}"} for i in range(450)]  # three transactions of 200
    event = pubsub_event({"kind": "shops", "records": shops})
    assert post_event(event).status_code == 500  # the framework's crash: Pub/Sub redelivers
    assert post_event(event).status_code == 200
    store = wiring.get_store()
    assert len(store.query("shops")) == 450
    meta = read_catalog_meta(store)
    assert meta.counts == {"shops": 450}


def test_the_sample_catalog_ingests_whole(post_event) -> None:
    expected = {}
    for n, path in enumerate(sorted(SAMPLE.glob("*.jsonl"))):
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        expected[path.stem] = len(records)
        event = pubsub_event({"kind": path.stem, "records": records}, message_id=str(n))
        assert post_event(event).status_code == 200
    assert read_catalog_meta(wiring.get_store()).counts == expected


def test_a_record_that_is_not_an_object_does_not_sink_its_batch(post_event) -> None:
    letters = dead_letters()
    r = post_event(pubsub_event({"kind": "shops", "records": [SHOP, "oops"]}))
    assert r.status_code == 200
    assert wiring.get_bus().drain(5)
    assert wiring.get_store().get("shops", "shop-x1") is not None
    (letter,) = letters
    assert letter["payload"][0]["index"] == 1 and letter["source_topic"] == "ingest"


def test_a_batch_the_store_refuses_is_dead_lettered_not_retried(
    monkeypatch: pytest.MonkeyPatch, post_event
) -> None:
    class RefusingStore(SqliteStore):
        def transaction(self, fn):  # type: ignore[no-untyped-def]
            raise InvalidDocument("A document is at most 1 MiB; this one is about 2000000 bytes.")

    monkeypatch.setitem(wiring._instances, "store", RefusingStore())
    letters = dead_letters()
    assert post_event(pubsub_event({"kind": "shops", "records": [SHOP]})).status_code == 200
    assert wiring.get_bus().drain(5)
    assert "The store refused the batch" in letters[0]["reason"]


def test_bad_records_are_dead_lettered_once_even_when_the_upsert_is_retried(
    monkeypatch: pytest.MonkeyPatch, post_event
) -> None:
    class OnceDownStore(SqliteStore):
        down = True

        def transaction(self, fn):  # type: ignore[no-untyped-def]
            if OnceDownStore.down:
                OnceDownStore.down = False
                raise StoreUnavailable("reset")
            return super().transaction(fn)

    monkeypatch.setitem(wiring._instances, "store", OnceDownStore())
    letters = dead_letters()
    event = pubsub_event({"kind": "shops", "records": [SHOP, {"id": "bad"}]})
    assert post_event(event).status_code == 500
    assert post_event(event).status_code == 200
    assert wiring.get_bus().drain(5)
    assert len(letters) == 1


def test_chat_health_names_the_models_and_their_circuits() -> None:
    checks = function_client("chat").get("/health/details").get_json()["checks"]
    assert checks["embedder"]["model"] == "all-MiniLM-L6-v2-int8@384"
    assert checks["generator"]["model"] == "offline-grounded-writer"
    assert checks["generator"]["circuit"] == {"state": "closed", "consecutive_failures": 0}


def test_an_open_circuit_makes_health_degraded() -> None:
    breaker = wiring.get_breaker("generator")
    for _ in range(breaker.threshold):
        breaker.record_failure()
    public = function_client("chat").get("/health")
    assert (public.status_code, public.get_json()) == (503, {"status": "degraded"})
    report = function_client("chat").get("/health/details").get_json()
    assert report["status"] == "degraded"
    assert report["checks"]["generator"]["circuit"]["state"] == "open"


def test_invalid_settings_answer_a_json_500_not_an_html_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.config import get_settings

    client = function_client("intent")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")
    get_settings.cache_clear()
    r = client.get("/health")
    assert r.status_code == 500 and r.mimetype == "application/json"
    assert r.get_json()["error"]["code"] == "internal"
