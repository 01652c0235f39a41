"""Run a command with the Firestore and Pub/Sub emulators up, where gcloud has them.

Usage: python -m scripts.emulator -- <command ...>

Each emulator whose variable (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST) is already set, or
that gcloud does not have, is left out; the command runs either way (the emulator-only tests
then say why they did not run). The emulators start side by side, each in its own process
group, and are stopped when the command ends, fails or is interrupted. With
REQUIRE_EMULATORS=1 (CI), a missing emulator is an error instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@dataclass(frozen=True)
class Emulator:
    """One of gcloud's emulators: its component, how to start it, the variable it exports."""

    name: str
    env_var: str
    component: str
    start: tuple[str, ...]
    log: Path


EMULATORS = (
    Emulator(
        "Firestore",
        "FIRESTORE_EMULATOR_HOST",
        "cloud-firestore-emulator",
        ("gcloud", "emulators", "firestore", "start"),
        Path(".local/firestore-emulator.log"),
    ),
    Emulator(
        "Pub/Sub",
        "PUBSUB_EMULATOR_HOST",
        "pubsub-emulator",
        # The project only names the default; the emulator serves every project.
        ("gcloud", "beta", "emulators", "pubsub", "start", "--project=demo-emulator"),
        Path(".local/pubsub-emulator.log"),
    ),
)


@dataclass(frozen=True)
class Started:
    emulator: Emulator
    host: str
    process: subprocess.Popen[bytes]


def _free_ports(n: int) -> list[int]:
    """n distinct free ports: every socket stays bound until all are picked."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def _installed(emulator: Emulator) -> bool:
    gcloud = shutil.which("gcloud")
    if not gcloud or not shutil.which("java"):
        return False
    root = Path(gcloud).resolve().parent.parent
    return (root / "platform" / emulator.component).is_dir()


def _start(emulator: Emulator, port: int) -> Started:
    """Start it in a new session (its own process group), logging to its file."""
    host = f"127.0.0.1:{port}"
    emulator.log.parent.mkdir(exist_ok=True)
    with emulator.log.open("wb") as out:
        process = subprocess.Popen(
            [*emulator.start, f"--host-port={host}", "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(emulator, host, process)


def _wait_ready(started: Started, end: float) -> bool:
    """Both emulators answer `GET /` with 200 once they serve; False if it exits first."""
    while time.monotonic() < end and started.process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{started.host}/", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            time.sleep(0.1)
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every group at once; SIGKILL whatever is left (the JVM too) after the deadline."""
    for p in processes:
        _signal_group(p.pid, signal.SIGTERM)
    end = time.monotonic() + STOP_DEADLINE_S
    for p in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.0, end - time.monotonic()))
        while _group_alive(p.pid) and time.monotonic() < end:
            time.sleep(0.1)
        _signal_group(p.pid, signal.SIGKILL)
        p.wait()


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run the command in the foreground. Ctrl-C reaches it directly (same process group) and
    a SIGTERM sent here is passed on, so it finishes its own way and we clean up after it."""
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    handlers: dict[signal.Signals, Handler] = {
        signal.SIGINT: signal.SIG_IGN,
        signal.SIGTERM: forward,
        signal.SIGHUP: forward,
    }
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP while the emulators start: leave through `finally`, which stops them."""
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    wanted = [e for e in EMULATORS if not os.environ.get(e.env_var) and _installed(e)]
    missing = [e.name for e in EMULATORS if not os.environ.get(e.env_var) and e not in wanted]
    if missing and os.environ.get("REQUIRE_EMULATORS") == "1":
        print(
            f"REQUIRE_EMULATORS=1 but gcloud has no {' or '.join(missing)} emulator",
            file=sys.stderr,
        )
        return 1
    started: list[Started] = []
    try:
        for emulator, port in zip(wanted, _free_ports(len(wanted)), strict=True):
            started.append(_start(emulator, port))
        end = time.monotonic() + START_DEADLINE_S
        for s in started:
            if not _wait_ready(s, end):
                print(
                    f"{s.emulator.name} emulator did not start; see {s.emulator.log}",
                    file=sys.stderr,
                )
                return 1
            print(f"{s.emulator.name} emulator on {s.host}", file=sys.stderr)
        return _run(command, {**os.environ, **{s.emulator.env_var: s.host for s in started}})
    except KeyboardInterrupt:
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the stop is bounded: let a second ^C not cut it
        _stop([s.process for s in started])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
