"""JSON log lines on stdout that Cloud Logging reads: severity, trace, request id, fields."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_trace: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar(
    "trace", default=None
)
_configured = False
_configure_lock = threading.Lock()
_project: str | None = None

TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra={"fields": {...}}` adds structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        request_id = _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        trace = _trace.get()
        if trace:
            trace_id, span_id = trace
            entry[TRACE_KEY] = f"projects/{_project}/traces/{trace_id}" if _project else trace_id
            if span_id:
                entry[SPAN_KEY] = span_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", project: str | None = None) -> None:
    """Route the root logger to stdout as JSON, once per process."""
    global _configured, _project
    with _configure_lock:
        _project = project
        if _configured:
            logging.getLogger().setLevel(level)
            return
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        for existing in list(root.handlers):
            root.removeHandler(existing)
        root.addHandler(handler)
        root.setLevel(level)
        _configured = True


def parse_trace_header(
    cloud_trace: str | None, traceparent: str | None = None
) -> tuple[str, str | None] | None:
    """(trace id, span id as 16 hex digits) from `X-Cloud-Trace-Context: TRACE/SPAN;o=1`
    (span in decimal) or, failing that, W3C `traceparent: 00-TRACE-SPAN-01` (span in hex)."""
    if cloud_trace:
        trace_id, _, rest = cloud_trace.partition("/")
        trace_id, span = trace_id.strip(), rest.split(";", 1)[0]
        if _is_hex(trace_id, 32):
            span_id = f"{int(span):016x}" if span.isdigit() and int(span) < 2**64 else None
            return trace_id.lower(), span_id
    if traceparent:
        parts = traceparent.strip().split("-")
        if len(parts) == 4 and _is_hex(parts[1], 32) and _is_hex(parts[2], 16):
            return parts[1].lower(), parts[2].lower()
    return None


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdefABCDEF" for c in value)


@contextlib.contextmanager
def log_context(request_id: str, trace: tuple[str, str | None] | None) -> Iterator[None]:
    """Tag every log line written inside with the request id and trace."""
    token_r = _request_id.set(request_id)
    token_t = _trace.set(trace)
    try:
        yield
    finally:
        _request_id.reset(token_r)
        _trace.reset(token_t)


def fields(**values: Any) -> dict[str, Any]:
    """`logger.info("msg", extra=fields(a=1))`: structured fields for one line."""
    return {"fields": values}
