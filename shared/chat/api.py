"""The chat function's HTTP layer: sessions and chat turns, as JSON or Server-Sent Events.

functions/chat/main.py is the entry point; the turn itself is shared/chat/turn.py."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import flask
from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, field_validator

from shared import errors, health, wiring
from shared.chat.sessions import MAX_PAGE, PAGE, READ_PAGE
from shared.config import get_settings
from shared.httpapi import (
    Inbound,
    Route,
    Routes,
    client_key,
    json_response,
    parse_body,
    parse_query,
)

log = logging.getLogger("shared.chat.api")
MAX_USER_ID_CHARS = 256
HEALTH_COST = 0.5  # a health check reads a little: half a read
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})
SSE_HEADERS = {
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",  # proxies that buffer by default (nginx) pass each event on
}


class CreateSession(Inbound):
    user_id: str | None = Field(None, min_length=1, max_length=MAX_USER_ID_CHARS)


class PostMessage(Inbound):
    message: str = Field(min_length=1)

    @field_validator("message")
    @classmethod
    def _visible(cls, value: str) -> str:
        """What a person can see: NFKC, without format, private-use, unassigned or control
        characters (newlines and tabs stay). Invisible characters could carry instructions
        that the model reads but the cache's guard, and any person, cannot."""
        text = "".join(
            c
            for c in unicodedata.normalize("NFKC", value)
            if c in "\n\t" or unicodedata.category(c) not in _INVISIBLE
        ).strip()
        if not text:
            raise ValueError("The message has no visible text.")
        return text


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def _create(request: flask.Request) -> flask.Response:
    # An empty body is an anonymous session; a body must still be JSON of the right shape.
    if request.content_length or request.mimetype == "application/json":
        body = parse_body(request, CreateSession)
    else:
        body = CreateSession()
    _admit(["new-session:" + client_key(request)])  # its own bucket: turns keep theirs
    sessions = wiring.get_sessions()
    session = sessions.create(body.user_id)
    return json_response(
        {
            "session_id": session.id,
            "token": sessions.token(session.id),
            "expires_at": _iso(session.expires_at),
        },
        201,
    )


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)


def _rfc3339(value: object) -> object:
    """A date-time as a page's `next` writes it (RFC 3339), and nothing else the model would
    read as one: not "0.5", which it takes for seconds since 1970."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("Give an RFC 3339 date-time with a time zone, as `next` is.")
    return value


class HistoryQuery(Inbound):
    model_config = ConfigDict(extra="ignore")  # a cache buster (?_=123) is not an error

    limit: int = Field(PAGE, ge=1, le=MAX_PAGE)
    # a page's `next`: the messages older than it
    before: Annotated[AwareDatetime, BeforeValidator(_rfc3339)] | None = None


def _get(request: flask.Request, session_id: str) -> flask.Response:
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    query = parse_query(request, HistoryQuery)
    _charge_read(request, 1 + (query.limit - 1) // READ_PAGE)  # READ_PAGE messages: 1 token
    session = sessions.get(session_id)
    page, older = sessions.messages(session_id, limit=query.limit, before=query.before)
    body = {
        "session_id": session.id,
        "expires_at": _iso(session.expires_at),
        "messages": [m.public() for m in page],
    }
    if older is not None:  # more, older messages: ask again with ?before=<next>
        body["next"] = _iso(older)
    return json_response(body)


def _resume(request: flask.Request, session_id: str) -> flask.Response:
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    _charge_read(request, 1)
    session = sessions.resume(session_id)
    return json_response({"session_id": session.id, "expires_at": _iso(session.expires_at)})


def _delete(request: flask.Request, session_id: str) -> flask.Response:
    """The session and everything kept for it: its messages, its turn slot, its bucket (no
    cache entry is ever keyed on a conversation or holds a personal question)."""
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    sessions.delete(session_id)  # never refused for cost: the token proves the right to erase
    wiring.get_rate_limiter().forget([f"session:{session_id}"])
    return flask.Response(status=204)


def _message(request: flask.Request, session_id: str) -> flask.Response:
    settings = get_settings()
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    stream = _wants_stream(request)
    text = parse_body(request, PostMessage).message
    if len(text) > settings.max_message_chars:
        raise errors.PayloadTooLarge(
            f"A message is at most {settings.max_message_chars} characters."
        )
    # Per user: the session (its token proves who holds it; a user_id is only a claim, and
    # keying on it would let anyone spend someone else's bucket). Per client: the address.
    client = client_key(request)
    _admit([f"session:{session_id}", client])
    # One turn at a time per session (read with it): recording the turn gives the slot back.
    try:
        session, lease = sessions.begin_turn(session_id, settings.turn_lease_s)
    except errors.NotFound:  # gone, or deleted meanwhile: leave no bucket behind either
        wiring.get_rate_limiter().forget([f"session:{session_id}"])
        raise
    chat = wiring.get_chat()
    try:
        plan = chat.plan(session, text, client)
    except BaseException:
        sessions.end_turn(session.id, lease)
        raise
    plan.lease = lease
    if not stream:
        body: dict[str, Any] = {}
        for kind, value in chat.run(plan):
            if kind == "done":
                body = value
        return json_response(body)

    def unstarted() -> None:  # the reader left before the stream began: record it anyway
        chat.abandon(plan)

    def events() -> Iterator[str]:
        turn = None
        try:
            yield _sse("meta", plan.meta())
            turn = chat.run(plan)
            for kind, value in turn:
                yield _sse(kind, {"text": value} if kind == "delta" else value)
        except Exception as e:  # headers are sent: report it in the stream, as the contract says
            log.exception("turn failed mid-stream")
            public = e if isinstance(e, errors.AppError) and e.status < 500 else errors.AppError()
            yield _sse("error", public.body()["error"])
        finally:
            if turn is None:
                chat.abandon(plan)  # the reader left after `meta`: record the turn anyway
            else:
                turn.close()  # the reader left: stop the model, record what was said

    # The stream runs after this handler returns: it keeps the request's log context.
    return flask.Response(
        _InContext(contextvars.copy_context(), events(), unstarted),
        mimetype="text/event-stream",
        headers=SSE_HEADERS,
    )


class _InContext:
    """The chunks, each produced inside `ctx`. Closing it closes them, and calls `unstarted`
    when the server closes it before asking for a single chunk (a generator asked for nothing
    runs no `finally`)."""

    def __init__(
        self, ctx: contextvars.Context, chunks: Iterator[str], unstarted: Callable[[], None]
    ) -> None:
        self.ctx, self.chunks, self.unstarted = ctx, chunks, unstarted
        self.started = self.closed = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        self.started = True
        return self.ctx.run(next, self.chunks)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ctx.run(getattr(self.chunks, "close", lambda: None))
        if not self.started:
            self.ctx.run(self.unstarted)


def _sse(event: str, data: Any) -> str:
    return (
        f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
    )


def _wants_stream(request: flask.Request) -> bool:
    """SSE when asked for (and preferred to JSON); JSON by default; 406 for anything else."""
    accept = request.accept_mimetypes
    if not request.headers.get("Accept"):
        return False
    best = accept.best_match(["application/json", "text/event-stream"])
    if best is None:
        raise errors.NotAcceptable("Accept application/json or text/event-stream.")
    return best == "text/event-stream"


def _admit(keys: list[str]) -> None:
    verdict = wiring.get_rate_limiter().take(keys)
    if not verdict.allowed:
        raise errors.RateLimited(verdict.retry_after_s)


def _charge_read(request: flask.Request, cost: float) -> None:
    """Reads cost too: charged to the address's read bucket, by what they cost the store."""
    verdict = wiring.get_read_limiter().take(["read:" + client_key(request)], cost)
    if not verdict.allowed:
        raise errors.RateLimited(verdict.retry_after_s)


def _checks() -> dict[str, health.Check]:
    return {
        **health.basic_checks(),
        **health.model_checks(),
        "router": health.router_check,
        "catalog": health.catalog_check,
        "metrics_events": health.metrics_events_check,
        "flights": lambda: wiring.get_flights().stats(),
    }


def _health(request: flask.Request) -> flask.Response:
    _charge_read(request, HEALTH_COST)
    return health.public_response(_checks())


def _about(request: flask.Request) -> flask.Response:
    """Who the assistant speaks for, from the catalog's manifest: the page's header and title."""
    _charge_read(request, HEALTH_COST)
    view = wiring.get_retriever().view()
    r = view.retailer
    body = {
        "name": r.name,
        "offers": r.offers,
        "has_shops": r.has_shops,
        "suggestions": view.suggestions(),
    }
    response = flask.jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _health_details(request: flask.Request) -> flask.Response:
    return health.details_response(_checks())


routes = Routes(
    "chat",
    [
        (Route("POST", "/sessions"), _create),
        (Route("GET", "/sessions/{session_id}"), _get),
        (Route("DELETE", "/sessions/{session_id}"), _delete),
        (Route("POST", "/sessions/{session_id}/resume"), _resume),
        (Route("POST", "/sessions/{session_id}/messages"), _message),
        (Route("GET", "/about"), _about),
        (Route("GET", "/health"), _health),
        (Route("GET", "/health/details"), _health_details),
    ],
)
