"""Generations in flight on this instance: bounded, and shared between identical questions.

Every answer the model writes costs a paid call and holds a thread for seconds, so this
instance admits at most `max_in_flight` generations at once (the next caller gets 503 with
Retry-After instead of a queue without end), and at most `max_per_client` for one client
address (429). Identical questions asked at the same time (the same exact cache key) share
one generation: the first asker leads, the others wait for its answer to land in the cache
and are served from there (single flight). Instance-local by design: across instances each
may generate once, which the store-wide rate limits already bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import errors


class Busy(errors.ServiceUnavailable):
    """The instance is writing as many answers as it may: come back shortly (load shed on
    purpose: logged as a warning, not as a failure)."""

    expected = True


class ClientBusy(errors.RateLimited):
    """One client address has as many answers being written as it may."""

    def __init__(self) -> None:
        super().__init__(2, "Too many answers are being written for you at once; wait for them.")


@dataclass
class Flight:
    """One question being answered: its followers wait on `done`, then find the answer in the
    cache, or in `answer` when it is complete but not to be cached (about the present moment:
    asked at the same moment, it is still right)."""

    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[str, list[dict[str, Any]]] | None = None


@dataclass
class Ticket:
    """A generation admitted: `share` its complete answer with the flight's followers, then
    `release` it (once) when the turn is recorded."""

    release: Callable[[], None]
    flight: Flight | None = None

    @property
    def leader(self) -> bool:
        return self.flight is not None

    def share(self, answer: str, sources: list[dict[str, Any]]) -> None:
        if self.flight is not None:
            self.flight.answer = (answer, sources)


class Flights:
    def __init__(self, *, max_in_flight: int, max_per_client: int, wait_s: float) -> None:
        self.max_in_flight, self.max_per_client, self.wait_s = (
            max_in_flight,
            max_per_client,
            wait_s,
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._per_client: dict[str, int] = {}
        self._flights: dict[str, Flight] = {}

    def enter(self, client: str, key: str | None) -> Ticket | Flight:
        """A generation for `client`, leading the flight of `key`; or, when `key` is being
        generated already, that flight to wait on (then look in the cache again, and enter with
        no key to generate alone if the answer is in neither). Busy or ClientBusy
        when a bound is reached."""
        with self._lock:
            flight = self._flights.get(key) if key is not None else None
            if flight is not None:
                return flight
            if self._in_flight >= self.max_in_flight:
                raise Busy()
            if self._per_client.get(client, 0) >= self.max_per_client:
                raise ClientBusy()
            self._in_flight += 1
            self._per_client[client] = self._per_client.get(client, 0) + 1
            if key is not None:
                flight = self._flights[key] = Flight()
        return Ticket(self._releaser(client, key, flight), flight)

    def solo(self, client: str) -> Ticket:
        """A generation for `client` that leads no flight."""
        ticket = self.enter(client, None)
        assert isinstance(ticket, Ticket)
        return ticket

    def _releaser(self, client: str, key: str | None, flight: Flight | None) -> Callable[[], None]:
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._in_flight -= 1
                left = self._per_client[client] - 1
                if left:
                    self._per_client[client] = left
                else:
                    del self._per_client[client]
                if key is not None and self._flights.get(key) is flight:
                    del self._flights[key]
            if flight is not None:
                flight.done.set()

        return release

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "in_flight": self._in_flight,
                "clients": len(self._per_client),
                "keys": len(self._flights),
            }
