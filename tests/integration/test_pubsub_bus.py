"""PubSubBus on the real google-cloud-pubsub client.

Offline, the client is real (anonymous credentials) down to its Publish RPC: the callable the
GAPIC retry/timeout wrapper calls in place of the gRPC stub is a fake server that records each
PublishRequest and answers, fails or never answers. Where PUBSUB_EMULATOR_HOST was set when the
tests started (`make test` starts gcloud's emulator), messages also go through the emulator and
are pulled back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.publisher import futures
from google.pubsub_v1.types import PublishRequest, PublishResponse

from shared import wiring
from shared.bus.local_bus import LocalBus
from shared.bus.pubsub_bus import PubSubBus
from shared.config import get_settings
from shared.errors import TransientError

ROOT = Path(__file__).resolve().parents[2]

# Captured at import, before the autouse fixture clears it: the emulator tests opt back in.
PUBSUB_EMULATOR_HOST = os.environ.get("PUBSUB_EMULATOR_HOST")
NO_EMULATOR = (
    "PUBSUB_EMULATOR_HOST was not set when the tests started: run `make test`, or start "
    "`gcloud beta emulators pubsub start --host-port=127.0.0.1:8085` and export "
    "PUBSUB_EMULATOR_HOST=127.0.0.1:8085"
)
needs_emulator = pytest.mark.skipif(PUBSUB_EMULATOR_HOST is None, reason=NO_EMULATOR)
RealPublisherClient = pubsub_v1.PublisherClient  # before any test replaces it


# --- offline: a real client whose Publish RPC is answered here


class FakePublishRpc:
    """Stands where the gRPC stub (and its error translation) sits, under the client's real
    retry and timeout wrapper: it gets the PublishRequest the client built and raises the
    google.api_core errors a translated gRPC status would be."""

    def __init__(self) -> None:
        self.requests: list[PublishRequest] = []
        self.arrived = threading.Event()  # set on the first call
        self.message_ids: list[str] = []
        self.errors: list[Exception] = []  # raised by the next calls, one each
        self.always: Exception | None = None  # raised by every call
        self.answer = threading.Event()  # cleared: the call waits until it is set
        self.answer.set()

    def __call__(self, request: PublishRequest, **_options: Any) -> PublishResponse:
        self.requests.append(request)
        self.arrived.set()
        self.answer.wait()
        if self.errors:
            raise self.errors.pop(0)
        if self.always is not None:
            raise self.always
        ids = [uuid.uuid4().hex for _ in request.messages]
        self.message_ids += ids
        return PublishResponse(message_ids=ids)

    @classmethod
    def attach(cls, client: pubsub_v1.PublisherClient) -> FakePublishRpc:
        fake = cls()
        transport = client._transport
        rpc = transport._wrapped_methods[transport.publish]
        assert "_target" in vars(rpc), "google-api-core changed: find the Publish stub again"
        rpc._target = fake
        return fake


@pytest.fixture
def fakes() -> Iterator[list[FakePublishRpc]]:
    """Every fake attached in the test; a call still waiting is answered at the end."""
    attached: list[FakePublishRpc] = []
    yield attached
    for fake in attached:
        fake.errors.clear()
        fake.always = None
        fake.answer.set()


@pytest.fixture
def anonymous_client(
    fakes: list[FakePublishRpc],
) -> Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]]:
    def build(**kwargs: Any) -> tuple[pubsub_v1.PublisherClient, FakePublishRpc]:
        client = RealPublisherClient(credentials=AnonymousCredentials(), **kwargs)
        fakes.append(FakePublishRpc.attach(client))
        return client, fakes[-1]

    return build


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The timeout of every wait on a publish future."""
    real = futures.Future.result
    seen: list[float | None] = []

    def result(self: futures.Future, timeout: float | None = None) -> Any:
        seen.append(timeout)
        return real(self, timeout)

    monkeypatch.setattr(futures.Future, "result", result)
    return seen


@pytest.fixture
def built(
    monkeypatch: pytest.MonkeyPatch,
    anonymous_client: Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]],
) -> list[tuple[dict[str, Any], FakePublishRpc]]:
    """Each PublisherClient the adapter builds itself: its arguments and its fake server."""
    made: list[tuple[dict[str, Any], FakePublishRpc]] = []

    def publisher_client(**kwargs: Any) -> pubsub_v1.PublisherClient:
        client, fake = anonymous_client(**kwargs)
        made.append((kwargs, fake))
        return client

    monkeypatch.setattr(pubsub_v1, "PublisherClient", publisher_client)
    return made


def test_importing_the_adapter_does_not_import_the_client_library() -> None:
    probe = (
        "import sys, shared.bus.pubsub_bus\n"
        "print(sorted(m for m in sys.modules if m.startswith('google.cloud.pubsub')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


def test_the_client_is_built_on_the_first_publish_once(
    monkeypatch: pytest.MonkeyPatch, built: list[tuple[dict[str, Any], FakePublishRpc]]
) -> None:
    bus = PubSubBus("demo-project")
    bus.close()  # closing an unused bus builds nothing either
    bus = PubSubBus("demo-project")
    assert built == []
    # Read when the client is built, so a variable set after the bus is made still counts.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")

    first = bus.publish("ingest", {"n": 1})
    second = bus.publish("ingest", {"n": 2})

    assert len(built) == 1
    kwargs, fake = built[0]
    assert kwargs == {}  # the library's defaults: batch settings, retry, flow control
    assert [first, second] == fake.message_ids
    assert bus.client.target == "127.0.0.1:8085"


def test_publish_sends_compact_json_and_attributes_and_returns_the_server_id(
    anonymous_client: Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]],
) -> None:
    client, fake = anonymous_client()
    bus = PubSubBus("demo-project", client=client)

    message_id = bus.publish(
        "ingest",
        {"doc": "a b", "n": 1, "tags": ["x", "y"], "nested": {"ok": True, "none": None}},
        attributes={"source": "catalog", "attempt": "1"},
    )

    [request] = fake.requests
    assert request.topic == "projects/demo-project/topics/ingest"
    [message] = request.messages
    assert message.data == b'{"doc":"a b","n":1,"tags":["x","y"],"nested":{"ok":true,"none":null}}'
    assert dict(message.attributes) == {"source": "catalog", "attempt": "1"}
    assert message_id == fake.message_ids[0]


def test_a_message_without_attributes_carries_none(
    anonymous_client: Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]],
) -> None:
    client, fake = anonymous_client()
    PubSubBus("p", client=client).publish("metrics", {})
    [request] = fake.requests
    assert request.topic == "projects/p/topics/metrics"
    assert request.messages[0].data == b"{}"
    assert dict(request.messages[0].attributes) == {}


def test_an_unavailable_server_is_retried_by_the_client_until_it_answers(
    anonymous_client: Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]],
) -> None:
    client, fake = anonymous_client()  # the default publish retry, as in production
    fake.errors.append(gexc.ServiceUnavailable("try again"))

    message_id = PubSubBus("p", client=client).publish("ingest", {"n": 1})

    assert len(fake.requests) == 2
    assert fake.requests[0] == fake.requests[1]
    assert message_id == fake.message_ids[0]


NO_RETRY = pubsub_v1.types.PublisherOptions(retry=None)
SHORT_RETRY = pubsub_v1.types.PublisherOptions(
    retry=Retry(
        initial=0.01,
        maximum=0.02,
        timeout=0.2,
        predicate=if_exception_type(gexc.ServiceUnavailable),
    )
)


def _unavailable(fake: FakePublishRpc) -> None:
    fake.always = gexc.ServiceUnavailable("down")


def _auth_transport_failure(fake: FakePublishRpc) -> None:
    # The batch thread catches these with the API errors: both mean the RPC failed.
    fake.always = auth_exceptions.TransportError("metadata server unreachable")


def _silent(fake: FakePublishRpc) -> None:
    fake.answer.clear()


@pytest.mark.parametrize(
    ("options", "fail", "timeout_s", "cause"),
    [
        pytest.param(NO_RETRY, _unavailable, 10.0, gexc.ServiceUnavailable, id="unavailable"),
        pytest.param(SHORT_RETRY, _unavailable, 10.0, gexc.RetryError, id="retries-exhausted"),
        pytest.param(
            (), _auth_transport_failure, 10.0, auth_exceptions.TransportError, id="auth-transport"
        ),
        pytest.param((), _silent, 0.2, TimeoutError, id="no-answer"),
    ],
)
def test_failures_become_transient_errors(
    anonymous_client: Callable[..., tuple[pubsub_v1.PublisherClient, FakePublishRpc]],
    waits: list[float | None],
    options: pubsub_v1.types.PublisherOptions | tuple[()],
    fail: Callable[[FakePublishRpc], None],
    timeout_s: float,
    cause: type[BaseException],
) -> None:
    client, fake = anonymous_client(publisher_options=options)
    fail(fake)

    with pytest.raises(TransientError, match="Publishing to ingest failed") as raised:
        PubSubBus("p", timeout_s=timeout_s, client=client).publish("ingest", {"n": 1})

    assert isinstance(raised.value.__cause__, cause)
    assert raised.value.status == 503
    assert waits == [timeout_s]  # the bus's own deadline, not the library's
    assert fake.arrived.wait(timeout=10)  # the request did reach the server


def test_get_bus_picks_pubsub_from_the_environment_without_building_a_client(
    monkeypatch: pytest.MonkeyPatch, built: list[tuple[dict[str, Any], FakePublishRpc]]
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-wired")
    monkeypatch.setenv("PUBLISH_TIMEOUT_S", "3")
    get_settings.cache_clear()
    wiring.reset()

    bus = wiring.get_bus()

    assert isinstance(bus, PubSubBus)
    assert (bus.project, bus.timeout_s) == ("demo-wired", 3.0)
    assert wiring.get_bus() is bus
    assert built == []  # no client (nor credentials) until something is published

    monkeypatch.setenv("BUS_BACKEND", "local")
    get_settings.cache_clear()
    wiring.reset()
    assert isinstance(wiring.get_bus(), LocalBus)


# --- the emulator: topics, subscriptions and pulls are real


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> str:
    """PUBSUB_EMULATOR_HOST back in the environment; settings and adapters forgotten."""
    assert PUBSUB_EMULATOR_HOST is not None
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", PUBSUB_EMULATOR_HOST)
    get_settings.cache_clear()
    wiring.reset()
    return PUBSUB_EMULATOR_HOST


@pytest.fixture
def subscriber(emulator: str) -> Iterator[pubsub_v1.SubscriberClient]:
    with pubsub_v1.SubscriberClient() as client:
        yield client


@pytest.fixture
def subscribed_topic(
    emulator: str, subscriber: pubsub_v1.SubscriberClient
) -> Iterator[Callable[[str], tuple[str, str]]]:
    """Creates a fresh topic with a pull subscription in the emulator: (topic name, subscription
    path); both are deleted at the end."""
    created: list[tuple[str, str]] = []

    def create(project: str) -> tuple[str, str]:
        name = f"bus-{uuid.uuid4().hex[:12]}"
        topic = admin.create_topic(name=admin.topic_path(project, name)).name
        subscription = subscriber.subscription_path(project, f"{name}-sub")
        subscriber.create_subscription(name=subscription, topic=topic)
        created.append((topic, subscription))
        return name, subscription

    with pubsub_v1.PublisherClient() as admin:
        yield create
        for topic, subscription in created:
            subscriber.delete_subscription(subscription=subscription)
            admin.delete_topic(topic=topic)


def pull(
    subscriber: pubsub_v1.SubscriberClient, subscription: str, count: int
) -> dict[str, pubsub_v1.types.PubsubMessage]:
    """Pull until `count` messages arrived (or 10 s passed); ack them; by message id."""
    received: dict[str, pubsub_v1.types.PubsubMessage] = {}
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        for m in response.received_messages:
            received[m.message.message_id] = m.message
        if response.received_messages:
            subscriber.acknowledge(
                subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
            )
    return received


@pytest.mark.emulator
@needs_emulator
def test_messages_published_through_the_bus_arrive_in_the_emulator(
    subscriber: pubsub_v1.SubscriberClient,
    subscribed_topic: Callable[[str], tuple[str, str]],
) -> None:
    project = "demo-pubsub-bus"
    topic, subscription = subscribed_topic(project)
    bus = PubSubBus(project, timeout_s=10)
    sent = [
        ({"doc": "first", "n": 1}, {"source": "catalog", "attempt": "1"}),
        ({"doc": "second", "items": [1, 2]}, {"source": "chat"}),
    ]
    try:
        ids = [bus.publish(topic, payload, attributes=attrs) for payload, attrs in sent]
    finally:
        bus.close()

    received = pull(subscriber, subscription, len(sent))

    assert len(set(ids)) == len(sent)
    assert set(received) == set(ids)
    for message_id, (payload, attrs) in zip(ids, sent, strict=True):
        message = received[message_id]
        assert json.loads(message.data) == payload
        assert b" " not in message.data  # compact JSON
        assert dict(message.attributes) == attrs


@pytest.mark.emulator
@needs_emulator
@pytest.mark.parametrize(
    "env", [{}, {"BUS_BACKEND": "pubsub"}], ids=["project", "backend-and-project"]
)
def test_get_bus_publishes_to_the_emulator_when_a_project_is_set(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    subscriber: pubsub_v1.SubscriberClient,
    subscribed_topic: Callable[[str], tuple[str, str]],
) -> None:
    project = "demo-wired-bus"
    for name, value in {"GOOGLE_CLOUD_PROJECT": project, **env}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    wiring.reset()
    topic, subscription = subscribed_topic(project)

    bus = wiring.get_bus()
    assert isinstance(bus, PubSubBus)
    assert bus.project == project
    message_id = bus.publish(topic, {"via": "wiring"}, attributes={"k": "v"})

    [message] = pull(subscriber, subscription, 1).values()
    assert message.message_id == message_id
    assert json.loads(message.data) == {"via": "wiring"}
    assert dict(message.attributes) == {"k": "v"}


def test_an_emulator_alone_is_enough_to_choose_pubsub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")  # never contacted
    bus = wiring.get_bus()
    assert isinstance(bus, PubSubBus) and bus.project == "demo-local"


def test_closing_twice_is_harmless() -> None:
    bus = PubSubBus(
        "demo-project", client=pubsub_v1.PublisherClient(credentials=AnonymousCredentials())
    )
    bus.close()
    bus.close()
