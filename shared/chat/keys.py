"""The session key: HMAC key of session tokens, user-id hashes and rate-limit bucket ids."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_SECRET_FILE = "session_secret"  # noqa: S105 - a file name


def session_key(secret: str | None, local_dir: str) -> bytes:
    """The configured secret; without one (a laptop), a random key kept in `local_dir` so that
    tokens survive a restart of the local stack. Deployed functions must set SESSION_SECRET
    (the settings refuse to start without it)."""
    if secret:
        return secret.encode()
    path = Path(local_dir) / _SECRET_FILE
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
