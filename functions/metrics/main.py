"""The metrics function: per-turn events in (CloudEvents), summaries out (HTTPS).

Two entry points from one source: `metrics` serves GET /summary and /health, and
`metrics_events` takes the `metrics` topic's messages (deployed as its own function)."""

import flask
import functions_framework
from cloudevents.http import CloudEvent
from pydantic import Field

from shared import errors, health, wiring
from shared.httpapi import Inbound, Route, Routes, client_key, json_response, parse_query
from shared.metrics.handler import handle_metrics_event
from shared.metrics.summary import MAX_WINDOW_MINUTES


class SummaryQuery(Inbound):
    minutes: str = Field("60", pattern=r"^[1-9][0-9]{0,3}$")  # digits only: no "5.0", "+5"


def _summary(request: flask.Request) -> flask.Response:
    minutes = int(parse_query(request, SummaryQuery).minutes)
    verdict = wiring.get_summary_limiter().take([client_key(request)])
    if not verdict.allowed:
        raise errors.RateLimited(verdict.retry_after_s)
    if minutes > MAX_WINDOW_MINUTES:
        raise errors.BadRequest(f"minutes is at most {MAX_WINDOW_MINUTES}.")
    return json_response(wiring.get_summaries().get(minutes))


def _health(request: flask.Request) -> flask.Response:
    return health.public_response(health.basic_checks())


def _health_details(request: flask.Request) -> flask.Response:
    return health.details_response(health.basic_checks())


_routes = Routes(
    "metrics",
    [
        (Route("GET", "/summary"), _summary),
        (Route("GET", "/health"), _health),
        (Route("GET", "/health/details"), _health_details),
    ],
)
_routes.answer_unrouted()  # a path functions-framework cannot route: a JSON 404 too


@functions_framework.http
def metrics(request: flask.Request) -> flask.Response:
    """Entry point of the `metrics` function (HTTPS)."""
    return _routes(request)


@functions_framework.cloud_event
def metrics_events(cloud_event: CloudEvent) -> None:
    """Entry point of the `metrics-events` function: returning acks, raising redelivers."""
    handle_metrics_event(cloud_event)
