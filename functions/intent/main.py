"""The intent function: classify a query as PRODUCT_RAG, LOCATION_RAG or GENERAL_CONVERSATION."""

import flask
import functions_framework
from pydantic import Field

from shared import errors, health, wiring
from shared.httpapi import Inbound, Route, Routes, client_key, json_response, parse_body
from shared.intent.evidence import evidence

MAX_QUERY_CHARS = 1000


class RouteRequest(Inbound):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)


def _route(request: flask.Request) -> flask.Response:
    query = parse_body(request, RouteRequest).query
    verdict = wiring.get_route_limiter().take([client_key(request)])  # an embedding call each
    if not verdict.allowed:
        raise errors.RateLimited(verdict.retry_after_s)
    lexicon = wiring.get_retriever().view().lexicon  # the catalog's own words weigh in
    decision = wiring.get_intent_router().route(query, evidence(query, lexicon))
    return json_response(
        {
            "intent": decision.intent,
            "confidence": round(decision.confidence, 4),
            "exemplar": decision.exemplar,
            "method": decision.method,
        }
    )


def _checks() -> dict[str, health.Check]:
    return {
        **health.basic_checks(),
        **health.model_checks(),
        "router": health.router_check,
        "catalog": health.catalog_version_check,
    }


def _health(request: flask.Request) -> flask.Response:
    return health.public_response(_checks())


def _health_details(request: flask.Request) -> flask.Response:
    return health.details_response(_checks())


_routes = Routes(
    "intent",
    [
        (Route("POST", "/route"), _route),
        (Route("GET", "/health"), _health),
        (Route("GET", "/health/details"), _health_details),
    ],
)
_routes.answer_unrouted()  # a path functions-framework cannot route: a JSON 404 too


@functions_framework.http
def intent(request: flask.Request) -> flask.Response:
    """Entry point of the `intent` function."""
    return _routes(request)
