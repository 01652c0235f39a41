"""Sessions on the embedded store, with a clock the tests move."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared import errors
from shared.chat.keys import session_key
from shared.chat.sessions import SESSIONS, Sessions, TurnInProgress, messages_of
from shared.store.sqlite_store import SqliteStore
from tests.fakes.clock import FakeClock as Clock

KEY = b"k" * 32


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock: Clock) -> Sessions:
    store = SqliteStore(clock=clock)
    return Sessions(store, KEY, ttl_s=3600, history_turns=4, history_chars=100, clock=clock)


def test_ids_are_unguessable_and_tokens_bound_to_their_session(sessions: Sessions) -> None:
    a, b = sessions.create(None), sessions.create(None)
    assert a.id != b.id and len(a.id) >= 32
    sessions.authorize(a.id, f"Bearer {sessions.token(a.id)}")
    with pytest.raises(errors.NotFound):
        sessions.authorize(b.id, f"Bearer {sessions.token(a.id)}")
    other = Sessions(sessions.store, b"z" * 32)
    with pytest.raises(errors.Unauthorized):
        sessions.authorize(a.id, f"Bearer {other.token(a.id)}")
    for header in (None, "", "Bearer", "Token x", f"Bearer {sessions.token(a.id)}x"):
        with pytest.raises(errors.Unauthorized):
            sessions.authorize(a.id, header)


def test_the_ttl_slides_with_each_turn_and_resume(sessions: Sessions, clock: Clock) -> None:
    s = sessions.create("u1")
    assert s.expires_at == clock.now + timedelta(hours=1)
    clock.now += timedelta(minutes=50)
    assert sessions.record_turn(s.id, "hi", "hello", intent="GENERAL_CONVERSATION", sources=[])
    clock.now += timedelta(minutes=50)  # 100 minutes after creation, 50 after the turn
    assert sessions.get(s.id).expires_at == clock.now + timedelta(minutes=10)
    resumed = sessions.resume(s.id)
    assert resumed.expires_at == clock.now + timedelta(hours=1)
    clock.now += timedelta(hours=1, seconds=1)
    with pytest.raises(errors.NotFound):
        sessions.get(s.id)
    with pytest.raises(errors.NotFound):
        sessions.resume(s.id)
    assert not sessions.record_turn(s.id, "hi", "x", intent="GENERAL_CONVERSATION", sources=[])


def test_the_window_keeps_the_latest_turns_within_both_bounds(sessions: Sessions) -> None:
    s = sessions.create(None)
    for i in range(5):
        sessions.record_turn(s.id, f"q{i}", f"a{i}", intent="GENERAL_CONVERSATION", sources=[])
    turns = sessions.get(s.id).turns
    assert [t.content for t in turns] == ["q3", "a3", "q4", "a4"]  # by count
    sessions.record_turn(s.id, "q" * 70, "a" * 30, intent="GENERAL_CONVERSATION", sources=[])
    turns = sessions.get(s.id).turns
    # by size: each message is cut to a quarter of the 100 characters, and the oldest that
    # do not fit go; the window never opens on an answer whose question is gone
    assert [(t.role, len(t.content)) for t in turns] == [
        ("user", 2),
        ("assistant", 2),
        ("user", 25),
        ("assistant", 25),
    ]
    sessions.record_turn(s.id, "x" * 150, "y", intent="GENERAL_CONVERSATION", sources=[])
    turns = sessions.get(s.id).turns
    assert [(t.role, len(t.content)) for t in turns] == [
        ("user", 25),
        ("assistant", 25),
        ("user", 25),
        ("assistant", 1),
    ]
    sessions.record_turn(s.id, "z", "w" * 500, intent="GENERAL_CONVERSATION", sources=[])
    assert sum(len(t.content) for t in sessions.get(s.id).turns) <= 100


def test_messages_come_back_in_order_with_intent_and_sources(
    sessions: Sessions, clock: Clock
) -> None:
    s = sessions.create(None)
    sources = [{"id": "cof-001", "kind": "product", "name": "A", "score": 0.5}]
    sessions.record_turn(s.id, "q1", "a1", intent="PRODUCT_RAG", sources=sources)
    clock.now += timedelta(seconds=1)
    sessions.record_turn(s.id, "q2", "a2", intent="GENERAL_CONVERSATION", sources=[])
    listed = [m.public() for m in sessions.messages(s.id)[0]]
    assert [m["content"] for m in listed] == ["q1", "a1", "q2", "a2"]
    assert listed[1]["intent"] == "PRODUCT_RAG" and listed[1]["sources"] == sources
    assert "intent" not in listed[0]


def test_delete_removes_the_session_and_every_message(sessions: Sessions) -> None:
    s = sessions.create(None)
    for i in range(3):
        sessions.record_turn(s.id, f"q{i}", f"a{i}", intent="GENERAL_CONVERSATION", sources=[])
    sessions.delete(s.id)
    assert sessions.store.get(SESSIONS, s.id) is None
    assert sessions.store.query(messages_of(s.id)) == []
    with pytest.raises(errors.NotFound):
        sessions.delete(s.id)


def test_user_ids_are_stored_as_keyed_hashes(sessions: Sessions) -> None:
    s = sessions.create("alice@example.com")
    stored = sessions.store.get(SESSIONS, s.id)
    assert stored is not None
    assert stored["user_hash"] == sessions.user_hash("alice@example.com") != ""
    assert "alice" not in repr(stored)
    assert Sessions(sessions.store, b"q" * 32).user_hash("alice@example.com") != stored["user_hash"]
    assert sessions.user_hash(None) == ""


def test_a_local_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = session_key(None, str(tmp_path))
    assert len(first) >= 32 and session_key(None, str(tmp_path)) == first
    assert (tmp_path / "session_secret").stat().st_mode & 0o077 == 0
    assert session_key("s" * 32, str(tmp_path)) == b"s" * 32


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sessions(SqliteStore(), b"short")


# --- one turn at a time, and an absolute lifetime


def test_a_session_takes_one_turn_at_a_time(sessions: Sessions, clock: Clock) -> None:
    s = sessions.create(None)
    session, lease = sessions.begin_turn(s.id, 120)
    assert session.id == s.id and session.expires_at == s.expires_at  # read with the slot
    with pytest.raises(TurnInProgress) as refused:
        sessions.begin_turn(s.id, 120)
    assert refused.value.status == 429 and refused.value.headers()["Retry-After"] == "2"
    assert sessions.record_turn(
        s.id, "hi", "hello", intent="GENERAL_CONVERSATION", sources=[], lease=lease
    )
    _, second = sessions.begin_turn(s.id, 120)  # recording the turn gave the slot back
    sessions.end_turn(s.id, lease)  # an old lease frees nothing
    with pytest.raises(TurnInProgress):
        sessions.begin_turn(s.id, 120)
    sessions.end_turn(s.id, second)
    sessions.begin_turn(s.id, 120)


def test_a_turn_past_its_lease_cannot_free_the_next_turns_slot(
    sessions: Sessions, clock: Clock
) -> None:
    s = sessions.create(None)
    _, slow = sessions.begin_turn(s.id, 60)
    clock.advance(seconds=61)
    sessions.begin_turn(s.id, 60)  # the slow turn's slot lapsed: the next one took it
    sessions.record_turn(s.id, "q", "a", intent="GENERAL_CONVERSATION", sources=[], lease=slow)
    with pytest.raises(TurnInProgress):  # the slow one recorded, but the slot is not its own
        sessions.begin_turn(s.id, 60)


def test_a_turn_that_never_ends_frees_its_slot_after_the_lease(
    sessions: Sessions, clock: Clock
) -> None:
    s = sessions.create(None)
    sessions.begin_turn(s.id, 60)
    clock.advance(seconds=59)
    with pytest.raises(TurnInProgress):
        sessions.begin_turn(s.id, 60)
    clock.advance(seconds=2)
    sessions.begin_turn(s.id, 60)


def test_a_gone_session_takes_no_turn(sessions: Sessions) -> None:
    s = sessions.create(None)
    sessions.delete(s.id)
    with pytest.raises(errors.NotFound):
        sessions.begin_turn(s.id, 60)
    assert not sessions.exists(s.id)


def test_nothing_keeps_a_session_alive_past_its_lifetime(clock: Clock) -> None:
    store = SqliteStore(clock=clock)
    sessions = Sessions(store, KEY, ttl_s=3600, max_age_s=3 * 3600, clock=clock)
    s = sessions.create(None)
    end = s.created_at + timedelta(hours=3)
    for _ in range(5):  # resumed and used every 50 minutes
        clock.advance(minutes=50)
        if sessions.exists(s.id):
            assert sessions.resume(s.id).expires_at <= end
            sessions.record_turn(s.id, "q", "a", intent="GENERAL_CONVERSATION", sources=[])
            assert sessions.get(s.id).expires_at <= end
    assert not sessions.exists(s.id)  # 4 h 10 after it began: gone
    with pytest.raises(errors.NotFound):
        sessions.resume(s.id)


def test_history_comes_in_pages_newest_last(sessions: Sessions, clock: Clock) -> None:
    s = sessions.create(None)
    for i in range(5):
        clock.advance(seconds=1)
        sessions.record_turn(s.id, f"q{i}", f"a{i}", intent="GENERAL_CONVERSATION", sources=[])
    page, older = sessions.messages(s.id, limit=4)
    assert [m.content for m in page] == ["q3", "a3", "q4", "a4"] and older is not None
    page, older = sessions.messages(s.id, limit=4, before=older)
    assert [m.content for m in page] == ["q1", "a1", "q2", "a2"] and older is not None
    page, older = sessions.messages(s.id, limit=4, before=older)
    assert [m.content for m in page] == ["q0", "a0"] and older is None
