import io
import json
import logging
from pathlib import Path

import flask
import pytest
from functions_framework import create_app
from pydantic import BaseModel, Field, ValidationError

from shared import errors
from shared.httpapi import Inbound, Route, Routes, json_response, parse_body
from shared.logs import JsonFormatter, log_context, parse_trace_header
from shared.store import StoreError, StoreUnavailable


class Echo(Inbound):
    message: str = Field(min_length=1, max_length=20)


def _echo(request: flask.Request) -> flask.Response:
    return json_response({"echo": parse_body(request, Echo).message})


def _item(request: flask.Request, item_id: str) -> flask.Response:
    return json_response({"id": item_id})


def _boom(request: flask.Request) -> flask.Response:
    raise RuntimeError("internal detail: /srv/db/table-7")


def _store_rejected(request: flask.Request) -> flask.Response:
    raise StoreError("Firestore rejected the request: projects/prod-123/databases/users/alice")


def _store_down(request: flask.Request) -> flask.Response:
    raise StoreUnavailable("Firestore is unavailable: DeadlineExceeded at 10.1.2.3")


def _busy(request: flask.Request) -> flask.Response:
    raise errors.RateLimited(7)


ROUTER = Routes(
    "test",
    [
        (Route("POST", "/echo"), _echo),
        (Route("GET", "/items/{item_id}"), _item),
        (Route("GET", "/boom"), _boom),
        (Route("GET", "/busy"), _busy),
        (Route("GET", "/store-rejected"), _store_rejected),
        (Route("GET", "/store-down"), _store_down),
    ],
)
app = flask.Flask("t")


def call(method: str, path: str, **kw: object) -> flask.Response:
    with app.test_request_context(path, method=method, **kw):  # type: ignore[arg-type]
        return ROUTER(flask.request)


def body(response: flask.Response) -> dict:
    return json.loads(response.get_data())


def test_a_valid_body_is_parsed() -> None:
    r = call("POST", "/echo", json={"message": "  hi  "})
    assert r.status_code == 200 and body(r) == {"echo": "hi"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "message=hi", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": {"message": ""}}, 400, "invalid_request"),
        ({"json": {"message": "x" * 21}}, 400, "invalid_request"),
        ({"json": {"message": "hi", "admin": True}}, 400, "invalid_request"),
        ({"json": ["message"]}, 400, "invalid_request"),
        ({"json": {"message": "x" * 20_000}}, 413, "payload_too_large"),
        ({"data": "[" * 5000, "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "9" * 5000, "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"\xff\xfe{}", "content_type": "application/json"}, 400, "invalid_json"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(kwargs: dict, status: int, code: str) -> None:
    r = call("POST", "/echo", **kwargs)
    assert r.status_code == status
    assert body(r)["error"]["code"] == code
    assert body(r)["error"]["message"]


def test_an_oversized_body_without_length_is_cut_off() -> None:
    stream = io.BytesIO(b'{"message": "' + b"x" * 40_000 + b'"}')
    r = call(
        "POST",
        "/echo",
        input_stream=stream,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what servers set for chunked bodies
    )
    assert r.status_code == 413


def test_validation_details_name_fields_and_never_echo_input() -> None:
    r = call("POST", "/echo", json={"message": "x" * 21, "extra": "sekrit-value"})
    details = body(r)["error"]["details"]
    assert {d["field"] for d in details} == {"message", "extra"}
    assert "sekrit-value" not in r.get_data(as_text=True)


def test_path_parameters_reach_the_handler() -> None:
    assert body(call("GET", "/items/abc-123"))["id"] == "abc-123"


def test_unknown_route_and_wrong_method() -> None:
    assert call("GET", "/nowhere").status_code == 404
    r = call("DELETE", "/echo")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_unknown_errors_are_a_generic_500(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        r = call("GET", "/boom")
    assert r.status_code == 500
    assert body(r) == {
        "error": {"code": "internal", "message": "Something went wrong on our side."}
    }
    assert "/srv/db/table-7" in caplog.text  # the details go to the log, not to the caller


@pytest.mark.parametrize(
    ("path", "status", "code", "secret"),
    [
        ("/store-rejected", 500, "internal", "prod-123"),
        ("/store-down", 503, "unavailable", "10.1.2.3"),
    ],
)
def test_server_side_app_errors_never_show_their_details(
    path: str, status: int, code: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        r = call("GET", path)
    assert r.status_code == status and body(r)["error"]["code"] == code
    assert secret not in r.get_data(as_text=True)
    assert secret in caplog.text
    if status == 503:
        assert r.headers["Retry-After"] == "5"


def test_rate_limited_carries_retry_after() -> None:
    r = call("GET", "/busy")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"


def test_cors_allowlist() -> None:
    ok = call("GET", "/items/a", headers={"Origin": "http://localhost:8080"})
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert "Origin" in ok.headers["Vary"]
    denied = call("GET", "/items/a", headers={"Origin": "https://evil.example"})
    assert denied.status_code == 403 and "Access-Control-Allow-Origin" not in denied.headers
    no_origin = call("GET", "/items/a")
    assert no_origin.status_code == 200 and "Access-Control-Allow-Origin" not in no_origin.headers


def test_preflight_lists_methods_and_headers() -> None:
    r = call("OPTIONS", "/echo", headers={"Origin": "http://localhost:8080"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]


def test_request_id_is_echoed_or_made() -> None:
    given = call("GET", "/items/a", headers={"X-Request-Id": "req-12345678"})
    assert given.headers["X-Request-Id"] == "req-12345678"
    made = call("GET", "/items/a", headers={"X-Request-Id": "bad id!"})
    assert len(made.headers["X-Request-Id"]) == 32


def test_trace_header_parsing() -> None:
    trace = "105445aa7843bc8bf206b12000100000"
    assert parse_trace_header(f"{trace}/1;o=1") == (trace, "0000000000000001")
    assert parse_trace_header(f"{trace}/255") == (trace, "00000000000000ff")
    assert parse_trace_header(trace) == (trace, None)
    w3c = f"00-{trace}-00f067aa0ba902b7-01"
    assert parse_trace_header(None, w3c) == (trace, "00f067aa0ba902b7")
    assert parse_trace_header("not a trace/x", "garbage") is None
    assert parse_trace_header(None) is None


def test_log_lines_are_json_with_severity_trace_and_fields() -> None:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    record.fields = {"intent": "PRODUCT_RAG"}
    with log_context("req-1", ("t123", "0000000000000009")):
        line = json.loads(JsonFormatter().format(record))
    assert line["severity"] == "WARNING" and line["message"] == "hello you"
    assert line["request_id"] == "req-1" and line["intent"] == "PRODUCT_RAG"
    assert line["logging.googleapis.com/trace"].endswith("t123")
    assert line["logging.googleapis.com/spanId"] == "0000000000000009"


def test_validation_details_are_bounded_in_count_and_field_length() -> None:
    long_key = "k" * 3000
    unknown = {f"{i:x}": 0 for i in range(1200)}  # the caller's own field names, 1,200 of them
    data = json.dumps({"message": "hi", long_key: 1, **unknown})  # in this order
    r = call("POST", "/echo", data=data, content_type="application/json")
    assert r.status_code == 400
    details = body(r)["error"]["details"]
    assert len(details) == errors.MAX_PROBLEMS + 1
    assert details[-1] == {"field": "(more)", "problem": "1191 more problems"}
    assert all(set(d) == {"field", "problem"} for d in details)
    assert all(len(d["field"]) <= errors.MAX_FIELD_CHARS for d in details)
    assert details[0]["field"].startswith("k" * 60) and details[0]["field"].endswith("…")
    assert long_key not in r.get_data(as_text=True) and len(r.get_data()) < 2000


def test_a_few_problems_are_listed_whole_and_the_first_is_named() -> None:
    try:
        Echo.model_validate({"message": "", "x" * 100: 1})
    except ValidationError as e:
        listed = errors.problems(e)
        first = errors.first_problem(e)
    else:
        raise AssertionError("not rejected")
    assert [d["field"] for d in listed] == ["message", "x" * 63 + "…"]  # no "(more)" entry
    assert first.startswith("message: String should have at least 1 character")


def test_head_runs_the_get_route_and_answers_without_a_body(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(
        "import functions_framework\n"
        "from tests.unit.test_httpapi import ROUTER\n"
        "@functions_framework.http\n"
        "def target(request):\n"
        "    return ROUTER(request)\n"
    )
    function = create_app(target="target", source=str(source))  # type: ignore[no-untyped-call]
    client = function.test_client()
    got = client.get("/items/abc")
    head = client.head("/items/abc")
    assert got.status_code == head.status_code == 200
    assert got.get_data() == b'{"id":"abc"}' and head.get_data() == b""
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert client.head("/boom").status_code == 500  # the GET handler did run
    assert client.head("/echo").status_code == 405  # HEAD only where GET is


def test_head_is_allowed_wherever_get_is() -> None:
    r = call("PUT", "/items/a")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    assert call("HEAD", "/echo").headers["Allow"] == "POST"
    pre = call("OPTIONS", "/items/a", headers={"Origin": "http://localhost:8080"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


def test_a_json_request_with_no_body_is_an_empty_object() -> None:
    """A client that sets Content-Type: application/json on every request and sends no body
    gets what the fields say: an anonymous session, or which field is missing, never a
    complaint about JSON it did not send."""

    class Optional_(BaseModel):
        user_id: str | None = None

    class Required(BaseModel):
        message: str

    app = flask.Flask(__name__)
    with app.test_request_context("/", method="POST", data=b"", content_type="application/json"):
        assert parse_body(flask.request, Optional_).user_id is None
    with app.test_request_context("/", method="POST", data=b"  ", content_type="application/json"):
        with pytest.raises(errors.BadRequest) as raised:
            parse_body(flask.request, Required)
        assert raised.value.body()["error"]["code"] == "invalid_request"
