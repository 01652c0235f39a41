"""`make dev-cloud`: the deployed topology on this machine, from nothing (scripts/cloudstack.py,
docs/devcloud.md).

Usage: PORT=8080 CATALOG=dir [CHAT_INSTANCES=2] python -m scripts.devcloud
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from scripts.cloudstack import HOW_TO_GET, CloudStack, Unavailable


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    from shared.config import get_settings

    settings = get_settings()
    catalog = Path(settings.catalog)
    if not catalog.is_dir():
        print(f"CATALOG={settings.catalog} is not a directory", file=sys.stderr)
        return 2
    if not shutil.which("gcloud"):
        print(HOW_TO_GET, file=sys.stderr)
        return 2
    stack = CloudStack(None, port=settings.port, chat_instances=_chat_instances())
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    try:
        stack.start()
        print(f"Front door at {stack.url}; loading {catalog} through Pub/Sub ...", flush=True)
        counts = stack.publish(catalog)
        said = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        print(f"Catalog loaded ({said}).", flush=True)
        print(f"Ready: chat at {stack.url} · logs in {stack.work_dir}", flush=True)
        while all(i.process is None or i.process.poll() is None for i in stack.instances):
            time.sleep(1.0)
        dead = [i.function.name for i in stack.instances if i.process and i.process.poll()]
        print(f"A function exited: {', '.join(dead)}; see {stack.work_dir}", file=sys.stderr)
        return 1
    except Unavailable as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        print("Stopped.", flush=True)


def _chat_instances() -> int:
    raw = os.environ.get("CHAT_INSTANCES", "2")
    if not raw.isdigit() or not 1 <= int(raw) <= 8:
        raise SystemExit("CHAT_INSTANCES must be 1 to 8")
    return int(raw)


if __name__ == "__main__":
    sys.exit(main())
