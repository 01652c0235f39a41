"""Generations in flight: bounded per instance and per client, shared by identical questions."""

from __future__ import annotations

import threading

import pytest

from shared.chat.flights import Busy, ClientBusy, Flight, Flights, Ticket


def flights(**kw: int) -> Flights:
    return Flights(
        max_in_flight=kw.get("total", 3), max_per_client=kw.get("per_client", 2), wait_s=5
    )


def test_the_instance_and_each_client_have_a_bound() -> None:
    f = flights(total=3, per_client=2)
    a1, a2 = f.solo("a"), f.solo("a")
    with pytest.raises(ClientBusy) as client_busy:
        f.solo("a")
    assert client_busy.value.status == 429 and "Retry-After" in client_busy.value.headers()
    b1 = f.solo("b")
    with pytest.raises(Busy) as busy:
        f.solo("c")
    assert busy.value.status == 503
    a1.release()
    a1.release()  # once only: a second release frees nothing more
    assert f.stats()["in_flight"] == 2
    f.solo("c")
    for ticket in (a2, b1):
        ticket.release()
    assert f.stats() == {"in_flight": 1, "clients": 1, "keys": 0}


def test_the_same_question_at_once_waits_for_the_first_asker() -> None:
    f = flights()
    leader = f.enter("a", "key-1")
    assert isinstance(leader, Ticket) and leader.leader
    follower = f.enter("b", "key-1")
    assert isinstance(follower, Flight) and not follower.done.is_set()
    other = f.enter("b", "key-2")  # another question: its own generation
    assert isinstance(other, Ticket) and other.leader
    assert f.stats()["in_flight"] == 2  # the follower holds no generation while it waits
    leader.share("the answer", [{"id": "p1"}])
    leader.release()
    assert follower.done.is_set() and follower.answer == ("the answer", [{"id": "p1"}])
    again = f.enter("c", "key-1")  # the flight is over: the next asker leads anew
    assert isinstance(again, Ticket) and again.leader


def test_a_follower_wakes_when_the_leader_finishes() -> None:
    f = flights()
    leader = f.enter("a", "k")
    assert isinstance(leader, Ticket)
    follower = f.enter("b", "k")
    assert isinstance(follower, Flight)
    woke = threading.Event()
    threading.Thread(target=lambda: follower.done.wait(5) and woke.set(), daemon=True).start()
    assert not woke.wait(0.05)
    leader.release()
    assert woke.wait(5)
