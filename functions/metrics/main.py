"""The metrics function: per-turn events in (CloudEvents), summaries out (HTTPS).

Two entry points from one source: `metrics` serves GET /summary and /health, and
`metrics_events` takes the `metrics` topic's messages (deployed as its own function)."""

import flask
import functions_framework
from cloudevents.http import CloudEvent
from pydantic import Field

from shared import health, wiring
from shared.httpapi import Inbound, Route, Router, json_response, parse_query
from shared.metrics import MAX_WINDOW_MINUTES, handle_metrics_event, summarize


class SummaryQuery(Inbound):
    minutes: int = Field(60, ge=1, le=MAX_WINDOW_MINUTES)


def _summary(request: flask.Request) -> flask.Response:
    query = parse_query(request, SummaryQuery)
    return json_response(summarize(wiring.get_store(), query.minutes))


def _health(request: flask.Request) -> flask.Response:
    return json_response(health.report(health.basic_checks()))


_router = Router(
    "metrics", [(Route("GET", "/summary"), _summary), (Route("GET", "/health"), _health)]
)


@functions_framework.http
def metrics(request: flask.Request) -> flask.Response:
    """Entry point of the `metrics` function (HTTPS)."""
    return _router(request)


@functions_framework.cloud_event
def metrics_events(cloud_event: CloudEvent) -> None:
    """Entry point of the `metrics-events` function: returning acks, raising redelivers."""
    handle_metrics_event(cloud_event)
