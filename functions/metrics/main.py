"""The metrics function: per-turn events in, summaries out (health only, so far)."""

import flask
import functions_framework

from shared import health
from shared.httpapi import Route, Router, json_response


def _health(request: flask.Request) -> flask.Response:
    return json_response(health.report(health.basic_checks()))


_router = Router("metrics", [(Route("GET", "/health"), _health)])


@functions_framework.http
def metrics(request: flask.Request) -> flask.Response:
    """Entry point of the `metrics` function."""
    return _router(request)
