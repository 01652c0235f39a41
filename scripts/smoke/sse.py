"""The smoke test's Server-Sent Events reader: a streamed turn's events, each a JSON object, up to
`done` or `error`; a stall, a broken stream or data that is not JSON is one Failure line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from http.client import HTTPException
from typing import Any

from scripts.smoke.http import Failure, snippet

Event = tuple[str, dict[str, Any]]  # (event name, its data)


def sse_events(lines: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events stream, as the HTML spec reads them."""
    event, data = "message", list[str]()
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def read_events(lines: Iterable[bytes], what: str, timeout_s: float) -> list[Event]:
    """The stream's events up to the first `done` or `error`; `timeout_s` is the longest wait
    for the next one (the response's own timeout), said in the stall's message."""
    events: list[Event] = []
    try:
        for kind, raw in sse_events(lines):
            try:
                data = json.loads(raw)
            except ValueError:
                raise Failure(
                    f"{what}: `{kind}` event data is not JSON: {snippet(raw)!r}"
                ) from None
            if not isinstance(data, dict):
                raise Failure(f"{what}: `{kind}` event data is not a JSON object")
            events.append((kind, data))
            if kind in ("done", "error"):
                break
    except TimeoutError:
        raise Failure(
            f"{what}: the stream stalled: no event for {timeout_s:g} s "
            f"(events so far: {tally([k for k, _ in events]) or 'none'})"
        ) from None
    except (HTTPException, OSError) as e:
        raise Failure(f"{what}: the stream broke ({type(e).__name__})") from None
    return events


def tally(kinds: Sequence[str]) -> str:
    """`1 meta, 45 delta, 1 done`: how many events of each kind, in the order first seen."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())
