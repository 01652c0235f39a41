"""The deployed topology on this machine, from nothing (`make dev-cloud`, scripts/devcloud.py;
the tests in tests/cloud start and break it through `CloudStack`).

What runs, as in the cloud (docs/devcloud.md):
- gcloud's Firestore and Pub/Sub emulators, empty at each start;
- each function from its staged bundle (build/<bundle>, `make stage`) in a functions-framework
  process of its own (gunicorn, as Cloud Run runs it), on a port of its own, sharing nothing
  but Firestore and Pub/Sub: chat (CHAT_INSTANCES of them, 2 by default: two instances share
  sessions and rate limits through Firestore only), intent, metrics, ingest, metrics-events;
- the topics and their dead-letter topics, and a push subscription per event function that
  delivers to it as Pub/Sub push (functions-framework turns each push into a CloudEvent, as
  Eventarc's deliveries are);
- the catalog published through Pub/Sub by the operator CLI (scripts.publish_catalog);
- a front door on PORT (scripts/frontdoor.py): web/ at /, /chat, /intent, /metrics to the
  functions, as the load balancer does in the cloud.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scripts import emulator as emulators
from scripts import pubsub_admin
from scripts.frontdoor import Backends, front_door
from scripts.stage import stage

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-devcloud"  # a demo- project: the emulators never reach a real one
START_DEADLINE_S = 120.0  # a function's first start imports its bundle and the model runtime
INGEST_DEADLINE_S = 900.0
# Settings a function must be given here and nowhere else: what the environment says of them is
# meant for `make dev` (the embedded store, the in-process bus, the local stack's port).
CLEARED = (
    "STORE_BACKEND", "BUS_BACKEND", "SQLITE_PATH", "PORT", "HOST", "CATALOG",
    "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
    "FORWARDED_HOPS", "CORS_ALLOWED_ORIGINS", "K_SERVICE", "FUNCTION_TARGET",
)  # fmt: skip
HOW_TO_GET = """\
make dev-cloud needs gcloud with its Firestore and Pub/Sub emulators, and Java:
  gcloud components install beta cloud-firestore-emulator pubsub-emulator
or, with gcloud from Debian/Ubuntu packages:
  sudo apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator \\
      default-jre-headless
`make dev` runs the same product with no cloud part at all."""


@dataclass(frozen=True)
class Function:
    name: str  # as deployed (terraform/functions.tf)
    bundle: str  # build/<bundle>
    target: str  # entry point
    signature: str  # "http" or "cloudevent"
    threads: int  # requests at once per instance: terraform/functions.tf's concurrency
    prefix: str = ""  # the front door's path (HTTP functions)
    topic: tuple[str, str] = ("", "")  # the trigger's topic: its setting and default


FUNCTIONS = (
    Function("chat", "chat", "chat", "http", 20, prefix="/chat"),
    Function("intent", "intent", "intent", "http", 20, prefix="/intent"),
    Function("metrics", "metrics", "metrics", "http", 20, prefix="/metrics"),
    # one batch at a time: embedding is all its CPU
    Function("ingest", "ingest", "ingest", "cloudevent", 1, topic=("INGEST_TOPIC", "ingest")),
    Function(
        "metrics-events", "metrics", "metrics_events", "cloudevent", 10,
        topic=("METRICS_TOPIC", "metrics"),
    ),
)  # fmt: skip


@dataclass
class Instance:
    function: Function
    index: int
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class CloudStack:
    """The topology, started by `start()` and stopped by `stop()`; tests kill and restart its
    function processes (`kill`, `restart`) to see what the deployed shape does then."""

    catalog: Path | None
    port: int = 0
    chat_instances: int = 2
    build_dir: Path = ROOT / "build"
    work_dir: Path = ROOT / ".local" / "devcloud"
    env: dict[str, str] = field(default_factory=dict)  # settings on top of the environment's
    instances: list[Instance] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # emulator variable -> host:port
    url: str = ""
    _emulators: list[emulators.Started] = field(default_factory=list)
    _routes: dict[str, Backends] = field(default_factory=dict)
    _server: BaseWSGIServer | None = None
    _serving: bool = False
    _origins: str = ""

    def start(self) -> None:
        missing = [e.name for e in emulators.EMULATORS if not emulators._installed(e)]
        if missing:
            raise Unavailable(f"gcloud has no {' or '.join(missing)} emulator.\n{HOW_TO_GET}")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._bind()
        self._start_emulators()
        stage(self.build_dir)
        ports = iter(emulators._free_ports(len(FUNCTIONS) + self.chat_instances))
        for f in FUNCTIONS:
            for i in range(self.chat_instances if f.name == "chat" else 1):
                log = self.work_dir / f"{f.name}-{i}.log"
                self.instances.append(Instance(f, i, next(ports), log))
        for instance in self.instances:
            self._launch(instance)
        for instance in self.instances:
            self._wait_up(instance)
        self._subscribe()
        self._serve()
        if self.catalog is not None:
            self.publish(self.catalog)

    # -- the parts -------------------------------------------------------------------------

    def _start_emulators(self) -> None:
        ports = emulators._free_ports(len(emulators.EMULATORS))
        for e, port in zip(emulators.EMULATORS, ports, strict=True):
            e = emulators.Emulator(
                e.name, e.env_var, e.component, e.start, self.work_dir / e.log.name
            )
            self._emulators.append(emulators._start(e, port))
        end = time.monotonic() + emulators.START_DEADLINE_S
        for s in self._emulators:
            if not emulators._wait_ready(s, end):
                raise Unavailable(f"The {s.emulator.name} emulator did not start: {s.emulator.log}")
            self.hosts[s.emulator.env_var] = s.host

    def function_env(self, instance: Instance) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in CLEARED}
        if not base.get("GEMINI_API_KEY") and not base.get("GENAI_BACKEND"):
            base["GENAI_BACKEND"] = "offline"  # said outright: as deployed, "auto" wants a key
        return {
            **base,
            "SESSION_SECRET": base.get("SESSION_SECRET") or self._secret,
            **self.env,
            **self.hosts,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "STORE_BACKEND": "firestore",
            "BUS_BACKEND": "pubsub",
            "FORWARDED_HOPS": "1",  # the front door, as Google's front end on Cloud Run
            # the page's origin, as `make dev` allows its own (the front door needs no CORS)
            "CORS_ALLOWED_ORIGINS": base.get("CORS_ALLOWED_ORIGINS") or self._origins,
            "K_SERVICE": instance.function.name,
            "THREADS": str(instance.function.threads),  # as terraform/modules/function sets it
            "FUNCTION_TARGET": instance.function.target,
            "LOCAL_DIR": str(self.work_dir / f"{instance.function.name}-{instance.index}"),
            # as terraform/functions.tf: operators' details where IAM guards the function
            "HEALTH_DETAILS": "off" if instance.function.name == "chat" else "on",
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def _secret(self) -> str:
        # One per stack, shared by every instance (as Secret Manager's one version is).
        if "SESSION_SECRET" not in self.env:
            self.env["SESSION_SECRET"] = secrets.token_urlsafe(32)
        return self.env["SESSION_SECRET"]

    def _launch(self, instance: Instance) -> None:
        f = instance.function
        command = [
            sys.executable, "-m", "functions_framework", "--target", f.target,
            "--source", "main.py", "--signature-type", f.signature,
            "--host", "127.0.0.1", "--port", str(instance.port),
        ]  # fmt: skip
        with instance.log.open("ab") as out:
            instance.process = subprocess.Popen(
                command,
                cwd=self.build_dir / f.bundle,
                env=self.function_env(instance),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_up(self, instance: Instance) -> None:
        end = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < end:
            if instance.process is None or instance.process.poll() is not None:
                raise Unavailable(f"{instance.function.name} exited at start: {instance.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", instance.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise Unavailable(f"{instance.function.name} did not listen in time: {instance.log}")

    def setting(self, name: str, default: str) -> str:
        return self.env.get(name) or os.environ.get(name) or default

    def _subscribe(self) -> None:
        admin = pubsub_admin.Admin(self.hosts["PUBSUB_EMULATOR_HOST"], PROJECT)
        suffix = self.setting("DEAD_LETTER_SUFFIX", "-dead-letter")
        for instance in self.instances:
            if not instance.function.topic[0]:
                continue
            topic = self.setting(*instance.function.topic)
            dead = topic + suffix
            admin.topic(topic)
            admin.topic(dead)
            admin.pull_subscription(f"{dead}-review", dead)
            admin.push_subscription(
                f"{instance.function.name}-trigger",
                topic,
                f"{instance.url}/projects/{PROJECT}/topics/{topic}",
                dead_letter=dead,
            )

    def _bind(self) -> None:
        """The front door's socket, bound first: the functions are told its origin."""
        from shared.config import Settings

        default = Settings.model_fields["max_body_bytes"].default
        max_body = int(self.setting("MAX_BODY_BYTES", str(default)))
        for f in FUNCTIONS:
            if f.prefix:
                self._routes[f.prefix] = Backends([])
        self._server = server = front_door(self.port, self._routes, max_body)
        port = server.server_port
        self.url = f"http://127.0.0.1:{port}/"
        self._origins = f"http://localhost:{port},http://127.0.0.1:{port}"

    def _serve(self) -> None:
        for f in FUNCTIONS:
            if f.prefix:
                self._routes[f.prefix].replace([i.url for i in self.instances if i.function is f])
        if self._server is not None:
            threading.Thread(
                target=self._server.serve_forever, name="frontdoor", daemon=True
            ).start()
            self._serving = True

    def publish(
        self, catalog: Path, *options: str, wait: bool = True, timeout_s: float = INGEST_DEADLINE_S
    ) -> dict[str, int]:
        """Publish a catalog directory through Pub/Sub with the operator CLI (and its
        `options`); with `wait`, wait until the ingest function has stored every record of a
        fresh store, and return the counts stored."""
        env = {**{k: v for k, v in os.environ.items() if k not in CLEARED}, **self.env}
        env.update(self.hosts, GOOGLE_CLOUD_PROJECT=PROJECT, BUS_BACKEND="pubsub")
        command = [sys.executable, "-m", "scripts.publish_catalog", "-q", *options, str(catalog)]
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
        if done.returncode != 0:
            raise Unavailable(f"publishing {catalog} failed (exit {done.returncode})")
        if not wait:
            return {}
        try:
            return pubsub_admin.wait_ingested(
                catalog, self.hosts["FIRESTORE_EMULATOR_HOST"], PROJECT, timeout_s
            )
        except TimeoutError as e:
            raise Unavailable(f"the catalog was not ingested: {e}; see {self.work_dir}") from e

    # -- faults, for tests ------------------------------------------------------------------

    def instance(self, name: str, index: int = 0) -> Instance:
        return next(i for i in self.instances if i.function.name == name and i.index == index)

    def kill(self, name: str, index: int = 0) -> None:
        """SIGKILL the instance's process group: no cleanup, as a crashed container."""
        instance = self.instance(name, index)
        if instance.process is not None:
            emulators._signal_group(instance.process.pid, signal.SIGKILL)
            instance.process.wait()

    def restart(self, name: str, index: int = 0) -> None:
        """Start the instance again on its own port (its push subscription still points there)."""
        instance = self.instance(name, index)
        self.kill(name, index)
        self._launch(instance)
        self._wait_up(instance)

    def stop(self) -> None:
        if self._server is not None:
            if self._serving:
                self._server.shutdown()  # waits for serve_forever to return
            self._server.server_close()
            self._server, self._serving = None, False
        processes = [i.process for i in self.instances if i.process is not None]
        emulators._stop(processes + [s.process for s in self._emulators])
        self._emulators.clear()


class Unavailable(RuntimeError):
    """The topology cannot run here (a missing emulator) or did not come up."""
