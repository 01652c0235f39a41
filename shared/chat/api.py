"""The chat function's HTTP layer: sessions and chat turns, as JSON or Server-Sent Events.

functions/chat/main.py is the entry point; the turn itself is shared/chat/turn.py."""

from __future__ import annotations

import contextvars
import json
import logging
import unicodedata
from collections.abc import Iterator
from typing import Any

import flask
from pydantic import Field, field_validator

from shared import errors, health, wiring
from shared.chat.ratelimit import address_key
from shared.config import get_settings
from shared.httpapi import Inbound, Route, Routes, json_response, parse_body

log = logging.getLogger("shared.chat.api")
MAX_USER_ID_CHARS = 256
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
    _admit(["new-session:" + _client_key(request)])  # its own bucket: turns keep theirs
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


def _get(request: flask.Request, session_id: str) -> flask.Response:
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    session = sessions.get(session_id)
    return json_response(
        {
            "session_id": session.id,
            "expires_at": _iso(session.expires_at),
            "messages": [m.public() for m in sessions.messages(session_id)],
        }
    )


def _resume(request: flask.Request, session_id: str) -> flask.Response:
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    session = sessions.resume(session_id)
    return json_response({"session_id": session.id, "expires_at": _iso(session.expires_at)})


def _delete(request: flask.Request, session_id: str) -> flask.Response:
    sessions = wiring.get_sessions()
    sessions.authorize(session_id, request.headers.get("Authorization"))
    sessions.delete(session_id)
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
    session = sessions.get(session_id)
    # Per user: the session (its token proves who holds it; a user_id is only a claim, and
    # keying on it would let anyone spend someone else's bucket). Per client: the address.
    _admit([f"session:{session.id}", _client_key(request)])
    chat = wiring.get_chat()
    plan = chat.plan(session, text)
    if not stream:
        body: dict[str, Any] = {}
        for kind, value in chat.run(plan):
            if kind == "done":
                body = value
        return json_response(body)

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
        _in_context(contextvars.copy_context(), events()),
        mimetype="text/event-stream",
        headers=SSE_HEADERS,
    )


def _in_context(ctx: contextvars.Context, chunks: Iterator[str]) -> Iterator[str]:
    """The chunks, each produced inside `ctx`; closing this closes them."""
    try:
        while True:
            try:
                yield ctx.run(next, chunks)
            except StopIteration:
                return
    finally:
        ctx.run(getattr(chunks, "close", lambda: None))


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


def _client_key(request: flask.Request) -> str:
    """The caller's address: the socket's, or with proxies in front (Cloud Run's front end:
    1), the address the outermost trusted proxy saw. Earlier entries of X-Forwarded-For are
    the client's own claims and are ignored."""
    hops = get_settings().proxy_hops
    address = request.remote_addr or ""
    if hops:
        chain = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        chain = [a for a in chain if a]
        if len(chain) >= hops:
            address = chain[-hops]
    return address_key(address)


def _admit(keys: list[str]) -> None:
    verdict = wiring.get_rate_limiter().take(keys)
    if not verdict.allowed:
        raise errors.RateLimited(verdict.retry_after_s)


def _health(request: flask.Request) -> flask.Response:
    checks = {
        **health.basic_checks(),
        **health.model_checks(),
        "router": health.router_check,
        "catalog": health.catalog_check,
        "metrics_events": health.metrics_events_check,
    }
    return json_response(health.report(checks))


routes = Routes(
    "chat",
    [
        (Route("POST", "/sessions"), _create),
        (Route("GET", "/sessions/{session_id}"), _get),
        (Route("DELETE", "/sessions/{session_id}"), _delete),
        (Route("POST", "/sessions/{session_id}/resume"), _resume),
        (Route("POST", "/sessions/{session_id}/messages"), _message),
        (Route("GET", "/health"), _health),
    ],
)
