"""HTTP plumbing shared by the functions: routing, CORS, bounded JSON bodies, error bodies."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import flask
from pydantic import BaseModel, ConfigDict, ValidationError

from shared import errors
from shared.config import get_settings
from shared.logs import configure_logging, fields, log_context, parse_trace_header

log = logging.getLogger("shared.http")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., flask.Response]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_ALLOWED_HEADERS = "Authorization, Content-Type, Accept, X-Request-Id"
# On every response: never sniffed into another type, never framed (an API is not a page).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


class Inbound(BaseModel):
    """Base of every inbound body: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # "/sessions/{session_id}/messages"

    def compile(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]{1,128})", self.pattern)
        return re.compile(f"^{regex}/?\\Z")  # $ would also match before a final line break


class Routes:
    """Maps (method, path) to handlers; handlers take the request and the path's parameters."""

    def __init__(self, name: str, routes: Sequence[tuple[Route, Handler]]) -> None:
        self.name = name
        self._routes = [(r, r.compile(), h) for r, h in routes]

    def answer_unrouted(self) -> None:
        """Have the app loading this function answer what its own routing cannot match
        through this table too: functions-framework's app (whose context the function's module
        runs in) matches no path with a line break in it, and would answer an HTML 404 without
        the contract's body and headers."""
        if not flask.has_app_context():  # imported outside functions-framework (a test)
            return

        def not_found(error: Exception) -> flask.Response:
            return self(flask.request)

        flask.current_app.register_error_handler(404, not_found)

    def __call__(self, request: flask.Request) -> flask.Response:
        response = self._respond(request)
        for name, value in SECURITY_HEADERS.items():  # a handler's own header of a name wins
            response.headers.setdefault(name, value)
        return response

    def _respond(self, request: flask.Request) -> flask.Response:
        try:
            settings = get_settings()
        except ValidationError:  # misconfigured: say so in the contract's shape, log why
            log.exception("invalid settings")
            return error_response(errors.AppError("The service is misconfigured."))
        configure_logging(settings.log_level, settings.google_cloud_project)
        request_id = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        trace = parse_trace_header(
            request.headers.get("X-Cloud-Trace-Context"), request.headers.get("traceparent")
        )
        started = time.perf_counter()
        with log_context(request_id, trace):
            route_name, response = self._handle(request)
            response.headers["X-Request-Id"] = request_id
            _add_cors(request, response)
            log.info(
                "%s %s %s",
                request.method,
                route_name,
                response.status_code,
                extra=fields(
                    function=self.name,
                    method=request.method,
                    route=route_name,
                    status=response.status_code,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                ),
            )
            return response

    def _handle(self, request: flask.Request) -> tuple[str, flask.Response]:
        route_name = "(unmatched)"
        try:
            check_origin(request)
            allowed: list[str] = []
            as_get: tuple[str, Handler, dict[str, str]] | None = None
            for route, regex, handler in self._routes:
                match = regex.match(request.path)
                if not match:
                    continue
                route_name = route.pattern
                allowed.append(route.method)
                if route.method == request.method:
                    return route_name, handler(request, **match.groupdict())
                if route.method == "GET" and request.method == "HEAD" and as_get is None:
                    as_get = (route.pattern, handler, match.groupdict())
            if as_get is not None:  # HEAD is GET without the body; WSGI leaves the body out
                route_name, handler, params = as_get
                return route_name, handler(request, **params)
            allowed = _with_head(allowed)
            if request.method == "OPTIONS" and allowed:
                return route_name, preflight(allowed)
            if allowed:
                raise errors.MethodNotAllowed(allowed)
            raise errors.NotFound(f"No route for {request.method} {request.path[:200]}.")
        except errors.AppError as e:
            if e.status >= 500 and getattr(e, "expected", False):
                log.warning("%s: %s", type(e).__name__, e.message)
            elif e.status >= 500:
                log.error("%s: %s", type(e).__name__, e.message, exc_info=True)
            return route_name, error_response(e)
        except Exception:
            log.exception("unhandled error")
            return route_name, error_response(errors.AppError())


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> flask.Response:
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return flask.Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        mimetype="application/json",
    )


def error_response(error: errors.AppError) -> flask.Response:
    """4xx say what was wrong; 5xx say only what kind of failure it was (details are logged)."""
    if error.status >= 500:
        unavailable = isinstance(error, errors.ServiceUnavailable)
        public = errors.ServiceUnavailable() if unavailable else errors.AppError()
        headers = {"Retry-After": "5"} if unavailable else {}
        return json_response(public.body(), public.status, headers)
    return json_response(error.body(), error.status, error.headers())


def parse_body(request: flask.Request, model: type[M]) -> M:
    """The body as `model`: JSON only, bounded in size, every field validated."""
    limit = get_settings().max_body_bytes
    if request.mimetype != "application/json":
        raise errors.UnsupportedMediaType()
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge(f"The body is at most {limit} bytes.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"The body is at most {limit} bytes.")
    try:  # no body at all is an empty object: the model says what, if anything, is missing
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError) as e:  # bad UTF-8, bad JSON, absurd nesting or digits
        raise errors.InvalidJson() from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise errors.BadRequest("The request body is not valid.", details=errors.problems(e)) from e


def parse_query(request: flask.Request, model: type[M]) -> M:
    """The query string as `model`: each parameter once, every field validated."""
    data: dict[str, str] = {}
    for key, values in request.args.lists():
        if len(values) > 1:
            raise errors.BadRequest(f"Parameter {key[:40]!r} is given more than once.")
        data[key] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise errors.BadRequest("The query is not valid.", details=errors.problems(e)) from e


def check_origin(request: flask.Request) -> None:
    """Browsers on origins outside the allowlist are refused; callers without Origin pass."""
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") not in get_settings().allowed_origins:
        raise errors.Forbidden(f"Origin {origin[:100]} is not allowed.")


def preflight(allowed: list[str]) -> flask.Response:
    response = flask.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted({*allowed, "OPTIONS"}))
    response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _with_head(methods: list[str]) -> list[str]:
    """The methods, and HEAD wherever GET is allowed."""
    return [*methods, "HEAD"] if "GET" in methods and "HEAD" not in methods else methods


def _add_cors(request: flask.Request, response: flask.Response) -> None:
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") in get_settings().allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-Id"
        response.vary.add("Origin")


def client_key(request: flask.Request) -> str:
    """The caller's address: the socket's, or with proxies in front (Cloud Run's front end:
    1), the address the outermost trusted proxy saw. Earlier entries of X-Forwarded-For are
    the client's own claims and are ignored."""
    hops = get_settings().proxy_hops
    address = request.remote_addr or ""
    if hops:
        chain = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        chain = [a for a in chain if a]
        if len(chain) >= hops:
            address = chain[-hops]
    return address_key(address)


def address_key(address: str) -> str:
    """The bucket key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's
    prefix: a host there has 2^64 addresses to rotate through)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return f"ip:{address.strip()[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip6:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"
