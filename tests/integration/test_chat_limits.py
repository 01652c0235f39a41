"""The chat's bounds through functions-framework: generations in flight per instance and per
client, history pages, health details, and what a turn writes when its session goes."""

from __future__ import annotations

from typing import Any

import pytest

from shared import wiring
from shared.ai import ModelError
from shared.cache.responses import RESPONSE_CACHE
from shared.chat.sessions import messages_of
from shared.store import StoreUnavailable
from tests.integration.chat_support import Client


def test_beyond_its_generations_in_flight_an_instance_answers_503(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_GENERATIONS_IN_FLIGHT", "1")
    chat.reset_settings()
    held = chat.turn(chat.session(), "recommend a dark roast", stream=True, buffered=False)
    assert held.status_code == 200  # its answer is being written (never read here)
    busy = chat.turn(chat.session(), "which shops have wifi")
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
    assert busy.get_json()["error"]["code"] == "unavailable"
    held.close()  # the reader left before the first byte: the slot comes back
    assert chat.turn(chat.session(), "which shops have wifi").status_code == 200


def test_one_client_may_not_hold_every_generation(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_GENERATIONS_PER_CLIENT", "1")
    monkeypatch.setenv("FORWARDED_HOPS", "1")
    chat.reset_settings()
    held = chat.turn(
        chat.session(address="203.0.113.7"),
        "recommend a dark roast",
        stream=True,
        buffered=False,
        address="203.0.113.7",
    )
    again = chat.turn(chat.session(), "which shops have wifi", address="203.0.113.7")
    assert again.status_code == 429 and again.get_json()["error"]["code"] == "rate_limited"
    other = chat.turn(chat.session(), "which shops have wifi", address="198.51.100.4")
    assert other.status_code == 200
    held.close()


def test_a_cache_hit_needs_no_generation_slot(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_GENERATIONS_IN_FLIGHT", "1")
    chat.reset_settings()
    assert chat.turn(chat.session(), "Recommend a fruity light roast").status_code == 200
    held = chat.turn(chat.session(), "recommend a dark roast", stream=True, buffered=False)
    hit = chat.turn(chat.session(), "recommend a fruity light roast").get_json()
    assert hit["cached"] is True
    held.close()


def test_history_is_read_a_page_at_a_time(chat: Client) -> None:
    s = chat.session()
    for text in ("hello", "show me light roasts", "and dark roasts?"):
        assert chat.turn(s, text).status_code == 200
    whole = chat.get(f"/sessions/{s.id}", headers=s.auth).get_json()
    assert len(whole["messages"]) == 6 and "next" not in whole
    page = chat.get(f"/sessions/{s.id}?limit=4", headers=s.auth).get_json()
    assert page["messages"] == whole["messages"][2:] and page["next"]
    older = chat.get(
        f"/sessions/{s.id}", query_string={"limit": 4, "before": page["next"]}, headers=s.auth
    ).get_json()
    assert older["messages"] == whole["messages"][:2] and "next" not in older
    for bad in ("limit=0", "limit=201", "before=yesterday", "limit=2&limit=3"):
        r = chat.get(f"/sessions/{s.id}?{bad}", headers=s.auth)
        assert r.status_code == 400, bad
    busted = chat.get(f"/sessions/{s.id}?_=1733500000", headers=s.auth)  # a cache buster
    assert busted.status_code == 200 and busted.get_json() == whole


def test_health_details_are_not_served_where_they_are_turned_off(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_DETAILS", "off")
    chat.reset_settings()
    assert chat.get("/health/details").status_code == 404
    assert chat.get("/health").get_json() == {"status": "ok"}


def test_a_personal_question_is_answered_but_never_cached(chat: Client) -> None:
    text = "My name is Carol Diaz and I'm pregnant: which decaf is safe?"
    first = chat.turn(chat.session(), text).get_json()
    second = chat.turn(chat.session(), text).get_json()
    assert first["reply"] and first["cached"] is False and second["cached"] is False
    entries = wiring.get_store().query(RESPONSE_CACHE)
    assert [e.data["query"] for e in entries if "Carol" in e.data["query"]] == []


def test_a_follow_up_is_never_written_to_the_shared_cache(chat: Client) -> None:
    s = chat.session()
    chat.turn(s, "recommend a fruity light roast")
    chat.turn(s, "is it decaf?")
    queries = [e.data["query"] for e in wiring.get_store().query(RESPONSE_CACHE)]
    assert queries == ["recommend a fruity light roast"]


def test_a_turn_whose_session_is_deleted_midway_writes_nothing(chat: Client) -> None:
    s = chat.session()
    r = chat.turn(s, "Recommend a fruity light roast", stream=True, buffered=False)
    chunks = iter(r.response)
    assert next(chunks).decode().startswith("event: meta")  # the turn is under way
    assert chat.delete(f"/sessions/{s.id}", headers=s.auth).status_code == 204
    rest = b"".join(chunks).decode()
    assert "event: done" in rest  # the reader still gets its answer
    store = wiring.get_store()
    assert store.query(messages_of(s.id)) == [] and store.query(RESPONSE_CACHE) == []
    again = chat.turn(chat.session(), "Recommend a fruity light roast").get_json()
    assert again["cached"] is False


def test_a_question_naming_a_person_is_never_cached(chat: Client) -> None:
    text = "Does Carol Diaz work at the Seattle shop?"  # nothing else keeps it out
    first = chat.turn(chat.session(), text).get_json()
    assert (
        first["cached"] is False and chat.turn(chat.session(), text).get_json()["cached"] is False
    )
    assert [e for e in wiring.get_store().query(RESPONSE_CACHE) if "Carol" in e.data["query"]] == []


def test_a_failed_history_write_still_gives_the_session_its_turn_back(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = wiring.get_sessions()
    real = sessions.record_turn
    calls = []

    def flaky(*args: Any, **kw: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("a transaction deadline")
        return real(*args, **kw)

    monkeypatch.setattr(sessions, "record_turn", flaky)
    s = chat.session()
    assert chat.turn(s, "recommend a dark roast").status_code == 200  # answered, not recorded
    assert chat.turn(s, "and a light one?").status_code == 200  # not 429: the slot came back


def test_a_model_stream_that_fails_to_close_loses_no_slot(chat: Client) -> None:
    inner = wiring.get_generator().inner  # type: ignore[attr-defined]
    real_stream = inner.stream

    def stream(prompt: Any) -> Any:
        try:
            yield from real_stream(prompt)
        finally:
            raise ModelError("the stream broke while closing")

    inner.stream = stream
    s = chat.session()
    r = chat.turn(s, "recommend a dark roast", stream=True, buffered=False)
    chunks = iter(r.response)
    next(chunks), next(chunks)  # meta, then the first words
    r.close()  # the reader leaves; closing the model's stream raises
    inner.stream = real_stream
    assert wiring.get_flights().stats() == {"in_flight": 0, "clients": 0, "keys": 0}
    assert chat.turn(s, "and a light one?").status_code == 200


def test_a_session_can_be_deleted_whatever_its_address_has_read(
    chat: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READ_RATE_LIMIT_PER_MINUTE", "2")
    chat.reset_settings()
    s = chat.session()
    statuses = [
        chat.get(f"/sessions/{s.id}?limit=50", headers=s.auth).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]  # reads are refused now ...
    assert chat.delete(f"/sessions/{s.id}", headers=s.auth).status_code == 204  # ... erasing is not
