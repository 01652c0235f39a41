"""The intent function: classify a query as PRODUCT_RAG, LOCATION_RAG or GENERAL_CONVERSATION."""

import flask
import functions_framework

from shared import health
from shared.httpapi import Route, Router, json_response


def _health(request: flask.Request) -> flask.Response:
    return json_response(health.report({**health.basic_checks(), **health.model_checks()}))


_router = Router("intent", [(Route("GET", "/health"), _health)])


@functions_framework.http
def intent(request: flask.Request) -> flask.Response:
    """Entry point of the `intent` function."""
    return _router(request)
