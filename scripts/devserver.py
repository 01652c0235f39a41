"""The local stack: every function behind one port, the in-process bus, the embedded store.

Each function is loaded by functions-framework's own `create_app` (its request handling,
CloudEvent parsing and error pages) and mounted under /<function>/; web/ is served at /.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flask
from functions_framework import create_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shared import wiring
from shared.bus.local_bus import LocalBus, wsgi_subscriber
from shared.catalog import read_catalog_meta
from shared.config import Settings, get_settings
from shared.logs import configure_logging

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

ROOT = Path(__file__).resolve().parent.parent
HTTP_FUNCTIONS = ("chat", "intent", "metrics")
OPENAPI = ROOT / "docs" / "openapi.yaml"  # the HTTP contract (docs/openapi.md)
# Each read or write of a connection's socket waits at most this long: a connection that sends
# no complete request (or stops sending its body) is closed and its thread freed. A stream
# being written is not cut: it writes an event every few seconds, and each write is prompt.
REQUEST_TIMEOUT_S = 15.0
# The static pages: never sniffed into another type, never framed (their <meta> CSP cannot
# say frame-ancestors).
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
log = logging.getLogger("devserver")


def load_function(name: str, signature_type: str = "http", target: str | None = None) -> Any:
    return create_app(  # type: ignore[no-untyped-call, unused-ignore]
        target=target or name,
        source=str(ROOT / "functions" / name / "main.py"),
        signature_type=signature_type,
    )


def static_site(name: str, web_dir: Path = ROOT / "web") -> flask.Flask:
    """The pages of web/ at `/` and the HTTP contract at /openapi.yaml, with the static
    headers: what `make dev` and `make dev-cloud`'s front door serve besides the functions."""
    web = flask.Flask(name, static_folder=str(web_dir), static_url_path="")

    @web.get("/")
    def index() -> flask.Response:
        return web.send_static_file("index.html")

    @web.get("/openapi.yaml")
    def openapi() -> flask.Response:
        """The HTTP contract, for client generators and gateways (docs/openapi.md)."""
        return flask.send_file(OPENAPI, mimetype="application/yaml")

    @web.after_request
    def static_headers(response: flask.Response) -> flask.Response:
        for header, value in STATIC_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    return web


def build_app() -> flask.Flask:
    """The WSGI app of the whole product, and the bus wired to the event functions."""
    web = static_site("web")
    mounts = {f"/{name}": load_function(name) for name in HTTP_FUNCTIONS}
    web.wsgi_app = DispatcherMiddleware(web.wsgi_app, mounts)  # type: ignore[method-assign]
    bus = wiring.get_bus()
    if isinstance(bus, LocalBus):
        settings = get_settings()
        bus.subscribe(
            settings.ingest_topic,
            wsgi_subscriber(load_function("ingest", "cloudevent")),
            name="ingest",
        )
        bus.subscribe(
            settings.metrics_topic,
            wsgi_subscriber(load_function("metrics", "cloudevent", "metrics_events")),
            name="metrics-events",
        )
    return web


def load_catalog(directory: Path, url: str = "") -> None:
    """Publish a catalog directory to the ingest topic, as an operator would (the same code as
    `python -m scripts.publish_catalog`), wait until it is ingested, and say what is loaded."""
    from shared.catalog.publish import publish_paths

    settings = get_settings()
    bus = wiring.get_bus()
    summary = publish_paths([directory], bus, settings.ingest_topic)
    for problem in summary.bad:
        log.warning("skipped %s", problem)
    if isinstance(bus, LocalBus):
        bus.drain(timeout_s=600)
    meta = read_catalog_meta(wiring.get_store())
    counts = ", ".join(f"{n} {k}" for k, n in sorted((meta.counts if meta else {}).items()))
    version = meta.version if meta else 0
    print(
        f"Catalog loaded: {summary.total_records} records in {summary.batches} batches; "
        f"version {version} ({counts}).",
        flush=True,
    )
    if url:
        print(f"Ready: chat at {url} · dashboard at {url}dashboard.html", flush=True)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet about the idle connections its timeout closes."""

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):  # an idle or half-open connection, closed
            log.debug("closed %s: no complete request in %ss", self.client_address, self.timeout)
            return
        super().log_error(format, *args)


def make_local_server(settings: Settings, app: WSGIApplication) -> BaseWSGIServer:
    """The local stack's server on settings.host and settings.port (0: any free port), a
    thread per connection, each socket operation bounded by REQUEST_TIMEOUT_S."""

    class Handler(_RequestHandler):
        timeout = REQUEST_TIMEOUT_S  # read when the server is made: a test may lower it

    return make_server(settings.host, settings.port, app, threaded=True, request_handler=Handler)


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # each function logs its requests
    directory = Path(settings.catalog)
    if not directory.is_dir():
        print(f"CATALOG={settings.catalog} is not a directory", file=sys.stderr)
        return 2
    app = build_app()
    server = make_local_server(settings, app)
    url = f"http://{settings.host}:{server.server_port}/"
    print(f"Assistant running at {url}  (Ctrl-C to stop)", flush=True)
    print(f"Loading the catalog from {directory} through the ingest function ...", flush=True)
    threading.Thread(target=load_catalog, args=(directory, url), daemon=True).start()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        wiring.reset()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
