"""Run a command with the Firestore emulator up, when this machine has one (gcloud's).

Usage: python -m scripts.emulator -- <command ...>

Where FIRESTORE_EMULATOR_HOST is already set, or gcloud's emulator is not installed, the
command runs as it is (the emulator-only tests then say why they did not run).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _emulator_available() -> bool:
    gcloud = shutil.which("gcloud")
    if not gcloud or not shutil.which("java"):
        return False
    root = Path(gcloud).resolve().parent.parent
    return (root / "platform" / "cloud-firestore-emulator").is_dir()


def _wait_ready(host: str, deadline_s: float) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://{host}/", timeout=1) as r:
                return r.status == 200
        except OSError:
            time.sleep(0.25)
    return False


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    if os.environ.get("FIRESTORE_EMULATOR_HOST") or not _emulator_available():
        return subprocess.call(command)
    host = f"127.0.0.1:{_free_port()}"
    log = Path(".local/firestore-emulator.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        emulator = subprocess.Popen(
            ["gcloud", "emulators", "firestore", "start", f"--host-port={host}", "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if not _wait_ready(host, 60):
            print(f"Firestore emulator did not start; see {log}", file=sys.stderr)
            return 1
        print(f"Firestore emulator on {host}", file=sys.stderr)
        env = {**os.environ, "FIRESTORE_EMULATOR_HOST": host}
        return subprocess.call(command, env=env)
    finally:
        os.killpg(emulator.pid, signal.SIGTERM)
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(emulator.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
