"""Every response Routes gives back says: do not sniff its type, do not frame it."""

from collections.abc import Iterator

import flask
import pytest

from shared import errors
from shared.config import get_settings
from shared.httpapi import Route, Routes, json_response

NOSNIFF = ("X-Content-Type-Options", "nosniff")
NO_FRAMING = ("Content-Security-Policy", "frame-ancestors 'none'")


def _ok(request: flask.Request) -> flask.Response:
    return json_response({"ok": True})


def _events(request: flask.Request) -> flask.Response:
    def chunks() -> Iterator[str]:
        yield "event: done\ndata: {}\n\n"

    return flask.Response(chunks(), mimetype="text/event-stream")


def _own_policy(request: flask.Request) -> flask.Response:
    return json_response({}, headers={"Content-Security-Policy": "default-src 'none'"})


def _gone(request: flask.Request) -> flask.Response:
    raise errors.Conflict()


def _boom(request: flask.Request) -> flask.Response:
    raise RuntimeError("no")


ROUTER = Routes(
    "test",
    [
        (Route("GET", "/ok"), _ok),
        (Route("POST", "/events"), _events),
        (Route("GET", "/own-policy"), _own_policy),
        (Route("GET", "/gone"), _gone),
        (Route("GET", "/boom"), _boom),
    ],
)
app = flask.Flask("t")


def call(method: str, path: str, **kw: object) -> flask.Response:
    with app.test_request_context(path, method=method, **kw):  # type: ignore[arg-type]
        return ROUTER(flask.request)


def has_both(response: flask.Response) -> bool:
    return all(response.headers.get_all(name) == [value] for name, value in (NOSNIFF, NO_FRAMING))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/ok", {}, 200),
        ("HEAD", "/ok", {}, 200),
        ("POST", "/events", {}, 200),  # a stream: a plain flask.Response from the handler
        ("OPTIONS", "/ok", {"headers": {"Origin": "http://localhost:8080"}}, 204),
        ("GET", "/nowhere", {}, 404),
        ("DELETE", "/ok", {}, 405),
        ("GET", "/gone", {}, 409),
        ("GET", "/ok", {"headers": {"Origin": "https://evil.example"}}, 403),
        ("GET", "/boom", {}, 500),
    ],
)
def test_every_kind_of_response_carries_both(
    method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    r = call(method, path, **kwargs)
    assert r.status_code == status and has_both(r)


def test_the_misconfigured_answer_carries_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "1")  # below its minimum: the settings do not load
    get_settings.cache_clear()
    r = call("GET", "/ok")
    assert r.status_code == 500 and has_both(r)


def test_a_handlers_own_header_is_kept() -> None:
    r = call("GET", "/own-policy")
    assert r.headers.get_all("Content-Security-Policy") == ["default-src 'none'"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
