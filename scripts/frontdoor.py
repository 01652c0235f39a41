"""The front door of `make dev-cloud`: one origin for the page and the functions, as the optional
load balancer is in the cloud (terraform/README.md).

`/` serves web/ (and `/openapi.yaml` the HTTP contract); `/chat/...`, `/intent/...` and
`/metrics/...` go to that function's instances, round robin, with the prefix taken off (a
deployed function serves its routes at the root of its own URL, and the load balancer's URL map
rewrites the prefix the same way). A response is passed on as it arrives, so a streamed chat
turn streams through. The caller's address is appended to X-Forwarded-For, as Google's front
ends do; the functions are told to trust one hop (FORWARDED_HOPS=1).
"""

from __future__ import annotations

import http.client
import itertools
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from scripts.devserver import static_site
from shared import errors

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from werkzeug.serving import BaseWSGIServer

ROOT = Path(__file__).resolve().parent.parent
# What a proxy never passes on (RFC 9110 7.6.1), and what it sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
UPSTREAM_TIMEOUT_S = 120.0  # a streamed turn writes every few seconds; a silent upstream is dead
CHUNK = 64 * 1024
log = logging.getLogger("frontdoor")


class Backends:
    """A function's instances (base URLs), taken in turn; the list may change while serving
    (an instance restarted on another port)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._urls = list(urls)
        self._turn = itertools.count()

    def replace(self, urls: Sequence[str]) -> None:
        with self._lock:
            self._urls = list(urls)

    def next(self) -> str | None:
        with self._lock:
            if not self._urls:
                return None
            return self._urls[next(self._turn) % len(self._urls)]


class Proxy:
    """A WSGI app that forwards every request to one of `backends`, its path as given. A body
    over `max_body` bytes (the functions' own MAX_BODY_BYTES) is refused here as the function
    would refuse it, without reading it: this process holds each body whole."""

    def __init__(self, name: str, backends: Backends, max_body: int) -> None:
        self.name = name
        self.backends = backends
        self.max_body = max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        base = self.backends.next()
        if base is None:
            return _error(start_response, errors.ServiceUnavailable())
        body = _body(environ, self.max_body)
        if isinstance(body, errors.AppError):
            return _error(start_response, body)
        target = urlsplit(base)
        url = f"{target.path.rstrip('/')}{_target(environ)}"
        headers = dict(_request_headers(environ))
        peer = environ.get("REMOTE_ADDR", "")
        forwarded = headers.pop("X-Forwarded-For", "")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
        headers["X-Forwarded-Host"] = environ.get("HTTP_HOST", "")
        if body is not None:
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(
            target.hostname or "127.0.0.1", target.port, timeout=UPSTREAM_TIMEOUT_S
        )
        try:
            connection.request(environ["REQUEST_METHOD"], url, body=body, headers=headers)
            response = connection.getresponse()
        except OSError as e:
            connection.close()
            log.warning("%s upstream %s failed: %s", self.name, base, type(e).__name__)
            return _error(start_response, errors.ServiceUnavailable())
        start_response(
            f"{response.status} {response.reason}",
            [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP],
        )
        return _relay(response, connection)


def _target(environ: WSGIEnvironment) -> str:
    """The path and query to send on, percent-encoded again: WSGI hands the path over decoded
    (bytes as latin-1 characters), and http.client sends ASCII only. A `%` the client encoded
    stays encoded, so the function decodes each byte once, as it would behind the load balancer."""
    path = (environ.get("PATH_INFO", "") or "/").encode("latin-1")
    query = environ.get("QUERY_STRING", "").encode("latin-1")  # as sent: still encoded
    said = quote(path, safe=_PATH_SAFE)
    return f"{said}?{quote(query, safe=_QUERY_SAFE)}" if query else said


_PATH_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/", but "%": it was decoded
_QUERY_SAFE = _PATH_SAFE + "?%"  # the query string arrives undecoded


def _request_headers(environ: WSGIEnvironment) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in HOP_BY_HOP:
                yield name, value
    if environ.get("CONTENT_TYPE"):
        yield "Content-Type", environ["CONTENT_TYPE"]


def _body(environ: WSGIEnvironment, limit: int) -> bytes | errors.AppError | None:
    """The request body, None for a request that has none, or the error for one too large."""
    too_large = errors.PayloadTooLarge(f"The body is at most {limit} bytes.")
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        if int(length) > limit:
            return too_large
        return bytes(environ["wsgi.input"].read(int(length)))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = bytes(environ["wsgi.input"].read(limit + 1))
        return too_large if len(body) > limit else body
    return None


def _relay(
    response: http.client.HTTPResponse, connection: http.client.HTTPConnection
) -> Iterator[bytes]:
    """The upstream body as it comes: each read returns what has arrived (read1), so a
    Server-Sent Event is passed on at once, not when a buffer fills."""
    try:
        while chunk := response.read1(CHUNK):
            yield chunk
    except OSError as e:
        log.warning("upstream stream cut: %s", type(e).__name__)
    finally:
        connection.close()


def _error(start_response: StartResponse, error: errors.AppError) -> list[bytes]:
    """The error as the functions say it: the contract's JSON body and headers."""
    body = flask.json.dumps(error.body()).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    headers.update(error.headers())
    if isinstance(error, errors.ServiceUnavailable):
        headers["Retry-After"] = "1"
    start_response(f"{error.status} {HTTPStatus(error.status).phrase}", list(headers.items()))
    return [body]


def build(
    routes: Mapping[str, Backends], max_body: int, web: Path = ROOT / "web"
) -> WSGIApplication:
    """The front door: web/ at `/`, each prefix of `routes` ("/chat") to its backends."""
    site = static_site("frontdoor", web)
    mounts: dict[str, WSGIApplication] = {
        prefix: Proxy(prefix.strip("/"), backends, max_body) for prefix, backends in routes.items()
    }
    return DispatcherMiddleware(site.wsgi_app, mounts)


def front_door(port: int, routes: Mapping[str, Backends], max_body: int) -> BaseWSGIServer:
    """The front door bound on 127.0.0.1:`port` (0: any free port), not yet serving: a thread
    per connection, each socket operation bounded as `make dev`'s server bounds it."""
    from werkzeug.serving import make_server

    from scripts.devserver import REQUEST_TIMEOUT_S, _RequestHandler

    class Handler(_RequestHandler):
        timeout = REQUEST_TIMEOUT_S

    app = build(routes, max_body)
    return make_server("127.0.0.1", port, app, threaded=True, request_handler=Handler)
