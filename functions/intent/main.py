"""The intent function: classify a query as PRODUCT_RAG, LOCATION_RAG or GENERAL_CONVERSATION."""

import flask
import functions_framework
from pydantic import Field

from shared import health, wiring
from shared.httpapi import Inbound, Route, Routes, json_response, parse_body

MAX_QUERY_CHARS = 1000


class RouteRequest(Inbound):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)


def _route(request: flask.Request) -> flask.Response:
    query = parse_body(request, RouteRequest).query
    decision = wiring.get_intent_router().route(query)
    return json_response(
        {
            "intent": decision.intent,
            "confidence": round(decision.confidence, 4),
            "exemplar": decision.exemplar,
            "method": decision.method,
        }
    )


def _health(request: flask.Request) -> flask.Response:
    checks = {**health.basic_checks(), **health.model_checks(), "router": health.router_check}
    return json_response(health.report(checks))


_routes = Routes("intent", [(Route("POST", "/route"), _route), (Route("GET", "/health"), _health)])


@functions_framework.http
def intent(request: flask.Request) -> flask.Response:
    """Entry point of the `intent` function."""
    return _routes(request)
