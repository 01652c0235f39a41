"""The error family: each error knows its HTTP status and the message that is safe to show."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class AppError(Exception):
    """An error whose code and message may be shown to the caller."""

    status: int = 500
    code: str = "internal"
    public_message: str = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.message = message or self.public_message
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON error body of the HTTP contract."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(AppError):
    status, code, public_message = 400, "invalid_request", "The request is not valid."


class InvalidJson(BadRequest):
    code, public_message = "invalid_json", "The request body is not valid JSON."


class Unauthorized(AppError):
    status, code, public_message = 401, "unauthorized", "Missing or invalid credentials."


class Forbidden(AppError):
    status, code, public_message = 403, "forbidden", "This origin or caller is not allowed."


class NotFound(AppError):
    status, code, public_message = 404, "not_found", "Not found."


class MethodNotAllowed(AppError):
    status, code, public_message = 405, "method_not_allowed", "Method not allowed."

    def __init__(self, allowed: list[str]) -> None:
        self.allowed = sorted(allowed)
        super().__init__(f"Allowed methods: {', '.join(self.allowed)}.")

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class NotAcceptable(AppError):
    status, code, public_message = 406, "not_acceptable", "Cannot produce the requested type."


class Conflict(AppError):
    status, code, public_message = 409, "conflict", "The resource changed; try again."


class PayloadTooLarge(AppError):
    status, code, public_message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"
    public_message = "Send the body as application/json."


class RateLimited(AppError):
    status, code, public_message = 429, "rate_limited", "Too many requests; slow down."

    def __init__(self, retry_after_s: int, message: str | None = None) -> None:
        self.retry_after_s = max(1, int(retry_after_s))
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class ServiceUnavailable(AppError):
    """A dependency failed in a way that may pass: callers may retry."""

    status, code = 503, "unavailable"
    public_message = "A service we depend on is unavailable; try again shortly."


# --- Event handling: what a Pub/Sub handler raises decides redelivery.


class PoisonMessage(Exception):
    """A message that can never succeed: dead-letter it, do not retry."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransientError(ServiceUnavailable):
    """A failure worth retrying: the handler raises so Pub/Sub redelivers."""


MAX_PROBLEMS = 10  # problems listed in an error body; one more entry says how many are left
MAX_FIELD_CHARS = 64  # a field's path, cut: unknown keys are the caller's own words
MAX_PROBLEM_CHARS = 200  # a message, cut: a few (a union's tag) quote the input


def problems(error: ValidationError) -> list[dict[str, str]]:
    """Which field is wrong and why, without echoing the input, and bounded: at most
    MAX_PROBLEMS entries (then one that counts the rest), each path at most MAX_FIELD_CHARS."""
    found = error.errors(include_url=False, include_input=False, include_context=False)
    listed = [
        {
            "field": _cut(_path(e["loc"]), MAX_FIELD_CHARS),
            "problem": _cut(e["msg"], MAX_PROBLEM_CHARS),
        }
        for e in found[:MAX_PROBLEMS]
    ]
    if len(found) > MAX_PROBLEMS:
        more = len(found) - MAX_PROBLEMS
        listed.append({"field": "(more)", "problem": f"{more} more problem{'s' * (more > 1)}"})
    return listed


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(body)"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_problem(error: ValidationError) -> str:
    first = problems(error)[0]
    return f"{first['field']}: {first['problem']}"
