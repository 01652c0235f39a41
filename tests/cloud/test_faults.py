"""Faults in the deployed shape: a function process killed and restarted while Pub/Sub keeps
delivering, and two chat instances that share nothing but Firestore."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import pubsub_admin
from scripts.cloudstack import PROJECT, CloudStack
from shared.catalog import profile as profiles
from shared.catalog.upsert import read_catalog_meta
from shared.store.firestore_store import FirestoreStore
from tests.cloud.conftest import call, session, settled_turns, start_stack, turns_counted, wait_for

LIMIT = 12  # messages a minute per client, for this module's stack
# A catalog change of one message (the CLI's largest: 500 records), which ingest embeds and
# writes in chunks of 200, each embedded before the transaction that writes it.
PROBES = 500


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudStack]:
    s = start_stack(tmp_path_factory.mktemp("faults"), RATE_LIMIT_PER_MINUTE=str(LIMIT))
    yield s
    s.stop()


def firestore(stack: CloudStack) -> FirestoreStore:
    host = stack.hosts["FIRESTORE_EMULATOR_HOST"]
    return FirestoreStore(pubsub_admin.emulator_client(host, PROJECT))


def probe_catalog(directory: Path) -> Path:
    directory.mkdir()
    with (directory / "products.jsonl").open("w") as out:
        for i in range(PROBES):
            record = {
                "id": f"probe-{i:04d}",
                "name": f"Probe Item {i}",
                "description": f"Item number {i} of a catalog change made by the fault test.",
                "price": 1 + i % 50,
                "category": "Probes > Items",
                "attributes": {"batch": f"b{i % 7}"},
            }
            out.write(json.dumps(record) + "\n")
    return directory


@pytest.mark.timeout(900)
def test_ingest_killed_mid_batch_leaves_a_complete_catalog_with_no_duplicate(
    stack: CloudStack, tmp_path: Path
) -> None:
    store = firestore(stack)
    meta = read_catalog_meta(store)
    assert meta is not None
    before = meta.counts.get("products", 0)
    total = before + PROBES

    def products() -> int:
        m = read_catalog_meta(store)
        return m.counts.get("products", 0) if m else 0

    # Killed once the first chunk is written: in the middle of the message, embedding the
    # next chunk. (Killed inside a transaction, the emulator would keep that transaction's
    # locks for good; the deployed database is in optimistic concurrency mode, where a dead
    # client holds no lock.)
    stack.publish(probe_catalog(tmp_path / "probe"), wait=False)
    end = time.monotonic() + 120
    while products() == before:  # polled closely: the kill must follow the first chunk
        assert time.monotonic() < end, "ingest did not take the change"
        time.sleep(0.01)
    stack.kill("ingest")
    at_kill = products()
    assert before < at_kill < total, "ingest was not in the middle of the message"
    time.sleep(2)  # Pub/Sub's pushes fail meanwhile: each is redelivered later
    stack.restart("ingest")
    # the push the kill cut short failed: Pub/Sub delivers the message again
    wait_for(lambda: products() >= total, 600, f"all {total} products are ingested")
    time.sleep(3)  # a late redelivery, were it to count twice, would land by now
    assert products() == total
    stored = {d.id for d in store.query("products")}
    assert len(stored) == total and {f"probe-{i:04d}" for i in range(PROBES)} <= stored
    meta = read_catalog_meta(store)
    assert meta is not None
    profile = wait_for(
        lambda: (p := profiles.load(store)) and p.version == meta.version and p,
        60,
        "the profile catches up with the catalog version",
    )
    assert len(profile.products) == total
    admin = pubsub_admin.Admin(stack.hosts["PUBSUB_EMULATOR_HOST"], PROJECT)
    assert admin.pull("ingest-dead-letter-review") == []  # nothing given up on


@pytest.mark.timeout(600)
def test_metrics_down_for_a_while_loses_no_turn(stack: CloudStack) -> None:
    base = stack.url.rstrip("/")
    before = settled_turns(base)
    stack.kill("metrics-events")
    session_id, token = session(base)
    questions = ("hello!", "What is your cheapest drink?", "Where is your nearest shop?", "thanks!")
    for question in questions:
        status, _, body = call(
            "POST", f"{base}/chat/sessions/{session_id}/messages", {"message": question},
            token=token,
        )  # fmt: skip
        assert status == 200, body
    time.sleep(5)  # each turn's event is pushed, refused and pushed again while it is down
    assert turns_counted(base) == before
    stack.restart("metrics-events")
    expected = before + len(questions)
    wait_for(lambda: turns_counted(base) >= expected, 120, "the turns are counted once it is back")
    assert settled_turns(base) == expected  # each once
    admin = pubsub_admin.Admin(stack.hosts["PUBSUB_EMULATOR_HOST"], PROJECT)
    assert admin.pull("metrics-dead-letter-review") == []


def test_two_chat_instances_share_sessions_and_rate_limits(stack: CloudStack) -> None:
    one, two = (stack.instance("chat", i).url for i in (0, 1))
    client = {"X-Forwarded-For": "198.51.100.23"}  # a client of its own: a bucket of its own
    status, _, body = call("POST", f"{one}/sessions", {}, headers=client)
    assert status == 201, body
    created = json.loads(body)
    sid, token = created["session_id"], created["token"]
    status, _, body = call(
        "POST", f"{two}/sessions/{sid}/messages", {"message": "hello!"}, token=token,
        headers=client,
    )  # fmt: skip
    assert status == 200, body  # a token one instance signed, the other accepts
    status, _, body = call("GET", f"{one}/sessions/{sid}", token=token, headers=client)
    assert status == 200 and "hello!" in [m["content"] for m in json.loads(body)["messages"]]

    # Alternate the two instances. With a bucket each, about 2 * LIMIT would pass before the
    # first refusal; with one shared bucket, LIMIT at most, plus what refills meanwhile.
    answers: list[tuple[int, int]] = []  # (instance, status)
    started = time.monotonic()
    for i in range(2 * LIMIT + 6):
        status, headers, _ = call(
            "POST", f"{(one, two)[i % 2]}/sessions/{sid}/messages", {"message": f"thanks {i}"},
            token=token, headers=client,
        )  # fmt: skip
        answers.append((i % 2, status))
        if status == 429:
            assert headers.get("Retry-After")
    statuses = [status for _, status in answers]
    assert 429 in statuses[: 2 * LIMIT], "neither instance ever refused"
    first = statuses.index(429)
    refilled = int((time.monotonic() - started) * LIMIT / 60) + 1
    assert first <= LIMIT + refilled < 2 * LIMIT - 1
    refused_by = {instance for instance, status in answers[first:] if status == 429}
    assert refused_by == {0, 1}  # once the bucket is empty, both instances refuse

    status, _, _ = call("DELETE", f"{two}/sessions/{sid}", token=token, headers=client)
    assert status == 204
    status, _, _ = call("GET", f"{one}/sessions/{sid}", token=token, headers=client)
    assert status in (401, 404)
