"""Debian's Chromium, headless, as the browser tests and the page benchmark launch it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Headless, and nothing that would reach for Google's hosts from a machine with no internet.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """CHROMIUM, else `chromium` on PATH; a clear error when there is none."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise FileNotFoundError(
            f"No Chromium at {path}: `make test` installs Debian's chromium; or set CHROMIUM."
        )
    return path
