"""Chat sessions: unguessable ids, signed tokens, a sliding TTL under an absolute lifetime,
one turn at a time, and history kept bounded.

A session document holds who owns it (a keyed hash, never the raw user id), its expiry and
the recent turns the prompt sees, trimmed by count and by size so it never nears Firestore's
1 MiB. Every message also goes to `sessions/{id}/messages` with its own TTL, for the history
the page shows. Reads treat an expired document as gone, whatever the TTL sweeper has done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import errors
from shared.ai import Turn
from shared.store import EXPIRES_AT, Filter, Order, Store, Transaction, Write, utc_now

SESSIONS = "sessions"
_TOKEN_PREFIX = "v1"  # noqa: S105 - a format version, not a secret
_TURN, _TURN_UNTIL = "turn", "turn_until"  # the turn in flight, and when its slot frees itself
PAGE = 200  # messages GET /sessions/{id} returns by default (the most recent), as before
MAX_PAGE = 200  # ... and at most, with ?limit=
READ_PAGE = 50  # messages one read token pays for
TURN_RETRY_S = 2  # Retry-After for a second turn while one is being answered


class TurnInProgress(errors.RateLimited):
    """A session answers one message at a time."""

    def __init__(self) -> None:
        super().__init__(TURN_RETRY_S, "A reply in this conversation is still being written.")


MAX_STORED_CHARS = 8000  # a stored reply is cut here (a model's answer is far shorter)


def messages_of(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}/messages"


@dataclass(frozen=True)
class Session:
    id: str
    user_hash: str
    created_at: datetime
    expires_at: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    created_at: datetime
    intent: str | None = None
    sources: tuple[Mapping[str, Any], ...] | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }
        if self.intent is not None:
            body["intent"] = self.intent
        if self.sources is not None:
            body["sources"] = list(self.sources)
        return body


class Sessions:
    """Sessions in the store; tokens are HMAC-SHA256 over the session id, under `key`."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        *,
        ttl_s: int = 3600,
        max_age_s: int = 86_400,
        message_ttl_s: int = 86_400,
        history_turns: int = 8,
        history_chars: int = 6000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if len(key) < 32:
            raise ValueError("The session key must be at least 32 bytes.")
        self.store = store
        self._key = key
        self.ttl = timedelta(seconds=ttl_s)
        self.max_age = timedelta(seconds=max_age_s)
        self.message_ttl = timedelta(seconds=message_ttl_s)
        self.history_turns = history_turns
        self.history_chars = history_chars
        self._clock = clock

    # --- identity

    def user_hash(self, user_id: str | None) -> str:
        """A keyed hash of the caller's user id (or "" for an anonymous session): ids are never
        stored or logged raw, and without the key they cannot be guessed back from the hash."""
        if not user_id:
            return ""
        return self._mac(b"user", user_id.encode())[:32]

    def token(self, session_id: str) -> str:
        return f"{_TOKEN_PREFIX}.{session_id}.{self._mac(b'session', session_id.encode())}"

    def authorize(self, session_id: str, authorization: str | None) -> None:
        """401 without a token or with one we did not sign; 404 when the token is ours but for
        another session (another user's session is indistinguishable from a missing one)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise errors.Unauthorized("Send the session's token as 'Authorization: Bearer ...'.")
        parts = authorization[len("Bearer ") :].strip().split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX or len(parts[1]) > 128:
            raise errors.Unauthorized("The session token is not valid.")
        expected = self._mac(b"session", parts[1].encode())
        if not hmac.compare_digest(expected.encode(), parts[2].encode()):
            raise errors.Unauthorized("The session token is not valid.")
        if not hmac.compare_digest(parts[1].encode(), session_id.encode()):
            raise errors.NotFound("No such session.")

    # --- lifecycle

    def create(self, user_id: str | None) -> Session:
        now = self._clock()
        session_id = secrets.token_urlsafe(24)  # 192 random bits
        data = {
            "user_hash": self.user_hash(user_id),
            "created_at": now,
            "updated_at": now,
            EXPIRES_AT: self._expiry(now, now),
            "turns": [],
        }
        if not self.store.create(SESSIONS, session_id, data):  # pragma: no cover - 2^-192
            raise errors.Conflict("Session id collision; try again.")
        return _session(session_id, data)

    def get(self, session_id: str) -> Session:
        data = self.store.get(SESSIONS, session_id)
        if data is None:
            raise errors.NotFound("No such session, or it has expired.")
        return _session(session_id, data)

    def resume(self, session_id: str) -> Session:
        """Moves the expiry on; an expired or deleted session stays gone (404)."""

        def extend(txn: Transaction) -> dict[str, Any]:
            data = txn.get(SESSIONS, session_id)
            if data is None:
                raise errors.NotFound("No such session, or it has expired.")
            now = self._clock()
            expires = self._expiry(data["created_at"], now)
            data = {**data, "updated_at": now, EXPIRES_AT: max(expires, data[EXPIRES_AT])}
            txn.set(SESSIONS, session_id, data)
            return data

        return _session(session_id, self.store.transaction(extend))

    def exists(self, session_id: str) -> bool:
        return self.store.get(SESSIONS, session_id) is not None

    def begin_turn(self, session_id: str, lease_s: float) -> tuple[Session, str]:
        """Take the session's one turn slot for at most `lease_s` (a crashed turn's slot frees
        itself): the session, read in the same transaction, and the slot's id, which
        `record_turn` or `end_turn` gives back. TurnInProgress while another turn holds it;
        NotFound when the session is gone."""
        lease = secrets.token_hex(8)

        def take(txn: Transaction) -> dict[str, Any]:
            data = txn.get(SESSIONS, session_id)
            if data is None:
                raise errors.NotFound("No such session, or it has expired.")
            now = self._clock()
            held = data.get(_TURN_UNTIL)
            if isinstance(held, datetime) and held > now:
                raise TurnInProgress()
            data = {**data, _TURN: lease, _TURN_UNTIL: now + timedelta(seconds=lease_s)}
            txn.set(SESSIONS, session_id, data)
            return data

        return _session(session_id, self.store.transaction(take)), lease

    def end_turn(self, session_id: str, lease: str) -> None:
        """Give the turn slot back (a turn that ended without being recorded)."""

        def free(txn: Transaction) -> None:
            data = txn.get(SESSIONS, session_id)
            if data is not None and data.get(_TURN) == lease:
                txn.set(SESSIONS, session_id, {**data, _TURN: None, _TURN_UNTIL: None})

        self.store.transaction(free)

    def delete(self, session_id: str) -> None:
        """The session, then all its messages; 404 if it is already gone. The session goes
        first: from then on no turn can record (record_turn needs it), so no message written
        by a turn in flight outlives the sweep."""
        self.get(session_id)
        self.store.delete(SESSIONS, session_id)
        collection = messages_of(session_id)
        while True:
            docs = self.store.query(collection, limit=500)
            if not docs:
                break
            self.store.write_batch(Write("delete", collection, d.id) for d in docs)

    def messages(
        self, session_id: str, *, limit: int = PAGE, before: datetime | None = None
    ) -> tuple[list[Message], datetime | None]:
        """A page of the most recent messages (older than `before`), oldest first, and the
        cursor of the page before it (None: no older message). Expired ones are gone."""
        where = [Filter("created_at", "<", before)] if before is not None else []
        docs = self.store.query(
            messages_of(session_id),
            where=where,
            order_by=[Order("created_at", descending=True)],
            limit=limit + 1,
        )
        page = [_message(d.data) for d in reversed(docs[:limit])]
        return page, page[0].created_at if len(docs) > limit and page else None

    def record_turn(
        self,
        session_id: str,
        user_text: str,
        reply: str,
        *,
        intent: str,
        sources: Sequence[Mapping[str, Any]],
        asked_at: datetime | None = None,
        lease: str | None = None,
    ) -> bool:
        """Both messages and the session's new window and expiry, in one transaction, giving
        back the turn slot `lease` (only if it is still this turn's). False (and nothing
        written) when the session was deleted or expired meanwhile."""
        now = self._clock()
        asked = min(asked_at or now, now - timedelta(microseconds=1))  # the question sorts first
        stamp = time.time_ns()
        collection = messages_of(session_id)
        reply = reply[:MAX_STORED_CHARS]

        def write(txn: Transaction) -> bool:
            data = txn.get(SESSIONS, session_id)
            if data is None:
                return False
            turns = [*data.get("turns", []), _turn("user", user_text), _turn("assistant", reply)]
            slot = {_TURN: None, _TURN_UNTIL: None} if lease and data.get(_TURN) == lease else {}
            txn.set(
                collection,
                f"{stamp:020d}-0",
                _message_doc("user", user_text, asked, now + self.message_ttl),
            )
            txn.set(
                collection,
                f"{stamp:020d}-1",
                {
                    **_message_doc("assistant", reply, now, now + self.message_ttl),
                    "intent": intent,
                    "sources": [dict(s) for s in sources],
                },
            )
            txn.set(
                SESSIONS,
                session_id,
                {
                    **data,
                    "turns": self.window(turns),
                    "updated_at": now,
                    EXPIRES_AT: max(self._expiry(data["created_at"], now), data[EXPIRES_AT]),
                    **slot,  # the turn is over: the session may take the next
                },
            )
            return True

        ok: bool = self.store.transaction(write)
        return ok

    def window(self, turns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The most recent turns that fit both bounds (count and characters), oldest first.
        A long message is cut to a quarter of the budget rather than emptying the window,
        and the window never opens on a reply whose question was left out."""
        kept: list[dict[str, Any]] = []
        size = 0
        each = max(1, self.history_chars // 4)
        for turn in reversed(turns[-self.history_turns :] if self.history_turns else []):
            content = str(turn.get("content", ""))[:each]
            if size + len(content) > self.history_chars:
                break
            size += len(content)
            kept.append({"role": turn.get("role"), "content": content})
        kept.reverse()
        while kept and kept[0]["role"] == "assistant":
            kept.pop(0)
        return kept

    def _expiry(self, created_at: datetime, now: datetime) -> datetime:
        """The sliding TTL, never past the session's absolute lifetime."""
        return min(now + self.ttl, created_at + self.max_age)

    def _mac(self, purpose: bytes, message: bytes) -> str:
        digest = hmac.new(self._key, purpose + b"\x00" + message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _turn(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _message_doc(role: str, content: str, at: datetime, expires: datetime) -> dict[str, Any]:
    return {"role": role, "content": content, "created_at": at, EXPIRES_AT: expires}


def _session(session_id: str, data: Mapping[str, Any]) -> Session:
    turns = tuple(
        Turn(t["role"], str(t.get("content", "")))
        for t in data.get("turns", [])
        if t.get("role") in ("user", "assistant")
    )
    return Session(
        session_id, str(data.get("user_hash", "")), data["created_at"], data[EXPIRES_AT], turns
    )


def _message(data: Mapping[str, Any]) -> Message:
    sources = data.get("sources")
    return Message(
        role=str(data.get("role")),
        content=str(data.get("content", "")),
        created_at=data["created_at"],
        intent=data.get("intent"),
        sources=tuple(sources) if isinstance(sources, list) else None,
    )
