"""The chat function: sessions and chat turns over HTTPS (health only, so far)."""

import flask
import functions_framework

from shared import health
from shared.httpapi import Route, Router, json_response


def _health(request: flask.Request) -> flask.Response:
    checks = {**health.basic_checks(), **health.model_checks(), "catalog": health.catalog_check}
    return json_response(health.report(checks))


_router = Router("chat", [(Route("GET", "/health"), _health)])


@functions_framework.http
def chat(request: flask.Request) -> flask.Response:
    """Entry point of the `chat` function."""
    return _router(request)
