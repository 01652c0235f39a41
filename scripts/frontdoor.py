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
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "docs" / "openapi.yaml"
# What a proxy never passes on (RFC 9110 7.6.1), and what it sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
UPSTREAM_TIMEOUT_S = 120.0  # a streamed turn writes every few seconds; a silent upstream is dead
CHUNK = 64 * 1024
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
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
    """A WSGI app that forwards every request to one of `backends`, its path as given."""

    def __init__(self, name: str, backends: Backends) -> None:
        self.name = name
        self.backends = backends

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        base = self.backends.next()
        if base is None:
            return _unavailable(start_response, f"The {self.name} function has no instance.")
        target = urlsplit(base)
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        url = f"{target.path.rstrip('/')}{path}" + (f"?{query}" if query else "")
        headers = dict(_request_headers(environ))
        peer = environ.get("REMOTE_ADDR", "")
        forwarded = headers.pop("X-Forwarded-For", "")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
        headers["X-Forwarded-Host"] = environ.get("HTTP_HOST", "")
        body = _body(environ)
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
            return _unavailable(start_response, f"The {self.name} function did not answer.")
        start_response(
            f"{response.status} {response.reason}",
            [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP],
        )
        return _relay(response, connection)


def _request_headers(environ: WSGIEnvironment) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in HOP_BY_HOP:
                yield name, value
    if environ.get("CONTENT_TYPE"):
        yield "Content-Type", environ["CONTENT_TYPE"]


def _body(environ: WSGIEnvironment) -> bytes | None:
    """The whole request body (the functions bound theirs far below what this reads), or None
    for a request that has none."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return bytes(environ["wsgi.input"].read(int(length)))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return bytes(environ["wsgi.input"].read())
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


def _unavailable(start_response: StartResponse, message: str) -> list[bytes]:
    body = flask.json.dumps({"error": {"code": "unavailable", "message": message}}).encode()
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", "application/json"),
            ("Retry-After", "1"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def build(routes: Mapping[str, Backends], web: Path = ROOT / "web") -> WSGIApplication:
    """The front door: web/ at `/`, each prefix of `routes` ("/chat") to its backends."""
    site = flask.Flask("frontdoor", static_folder=str(web), static_url_path="")

    @site.get("/")
    def index() -> flask.Response:
        return site.send_static_file("index.html")

    @site.get("/openapi.yaml")
    def openapi() -> flask.Response:
        if not OPENAPI.is_file():
            flask.abort(404)
        return flask.send_file(OPENAPI, mimetype="application/yaml")

    @site.after_request
    def static_headers(response: flask.Response) -> flask.Response:
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    mounts: dict[str, WSGIApplication] = {
        prefix: Proxy(prefix.strip("/"), backends) for prefix, backends in routes.items()
    }
    return DispatcherMiddleware(site.wsgi_app, mounts)
