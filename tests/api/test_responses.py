"""Real requests to the local stack, route by route: each answer, success or error, must be
one the document gives its operation (status, media type, headers, body; a stream event by
event)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.support import (
    Client,
    Reply,
    check,
    documented_operations,
    schema_errors,
)
from tests.local_stack import Stack

SESSION = "/chat/sessions/{session_id}"
MESSAGES = "/chat/sessions/{session_id}/messages"
RESUME = "/chat/sessions/{session_id}/resume"


def error_code(body: Any) -> str:
    return str(body["error"]["code"])


def ask(client: Client, sid: str, token: str, text: str, accept: str = "application/json") -> Reply:
    return client.call(
        "POST",
        f"/chat/sessions/{sid}/messages",
        {"message": text},
        token=token,
        headers={"Accept": accept},
    )


# --- sessions


def test_creating_a_session(client: Client) -> None:
    anonymous = client.call("POST", "/chat/sessions")  # no body at all
    assert anonymous.status == 201
    body = check(anonymous, "/chat/sessions")
    assert body["token"].split(".")[1] == body["session_id"]
    named = client.call("POST", "/chat/sessions", {"user_id": "shopper-1"})
    assert named.status == 201 and check(named, "/chat/sessions")
    cases = [
        ({"user_id": 5}, None, {}, 400, "invalid_request"),
        ({"user_id": "   "}, None, {}, 400, "invalid_request"),
        ({"user_id": "u", "admin": True}, None, {}, 400, "invalid_request"),
        (None, b"{not json", {}, 400, "invalid_json"),
        (None, b"user_id=1", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (None, b" " * 20_000, {}, 413, "payload_too_large"),
    ]
    for body_in, raw, headers, status, code in cases:
        reply = client.call("POST", "/chat/sessions", body_in, raw=raw, headers=headers)
        assert reply.status == status, (body_in, raw, reply.body)
        assert error_code(check(reply, "/chat/sessions")) == code
        if status == 400 and code == "invalid_request":
            assert reply.json()["error"]["details"]


def test_new_sessions_are_rate_limited_per_address(client: Client) -> None:
    replies = [client.call("POST", "/chat/sessions", {}) for _ in range(6)]
    limited = [r for r in replies if r.status == 429]
    assert limited, [r.status for r in replies]
    assert error_code(check(limited[0], "/chat/sessions")) == "rate_limited"
    assert int(limited[0].header("Retry-After") or 0) >= 1


def test_reading_a_session_and_its_history(client: Client) -> None:
    sid, token = client.session()
    empty = client.call("GET", f"/chat/sessions/{sid}?limit=50", token=token)
    assert empty.status == 200 and check(empty, SESSION)["messages"] == []
    assert ask(client, sid, token, "recommend a dark roast coffee").status == 200
    full = check(client.call("GET", f"/chat/sessions/{sid}?limit=50", token=token), SESSION)
    user, assistant = full["messages"]
    assert (user["role"], assistant["role"]) == ("user", "assistant")
    assert assistant["intent"] == "PRODUCT_RAG" and assistant["sources"]
    page = client.call("GET", f"/chat/sessions/{sid}?limit=1", token=token)
    newest = check(page, SESSION)
    assert newest["messages"] == [assistant] and "next" in newest
    older = client.call("GET", f"/chat/sessions/{sid}?limit=1&before={newest['next']}", token=token)
    assert check(older, SESSION)["messages"] == [user]
    invalid = (
        "limit=0",
        "limit=201",
        "limit=ten",
        "before=yesterday",
        "before=0.5",
        "limit=1&limit=2",
    )
    for query in invalid:
        reply = client.call("GET", f"/chat/sessions/{sid}?{query}", token=token)
        assert reply.status == 400, query
        assert error_code(check(reply, SESSION)) == "invalid_request"


def test_tokens_name_one_session(client: Client) -> None:
    sid, token = client.session()
    _other, other_token = client.session()
    forged = f"v1.{sid}.{'A' * 43}"
    for method, template in (("GET", SESSION), ("DELETE", SESSION), ("POST", RESUME)):
        path = template.replace("{session_id}", sid)
        for sent in (None, "not-a-token", forged):
            reply = client.call(method, path, token=sent)
            assert reply.status == 401, (method, sent)
            assert error_code(check(reply, template)) == "unauthorized"
        reply = client.call(method, path, token=other_token)  # genuine, for another session
        assert reply.status == 404
        assert error_code(check(reply, template)) == "not_found"
    own = client.call("POST", f"/chat/sessions/{sid}/resume", token=token)
    assert own.status == 200 and check(own, RESUME)["session_id"] == sid


def test_a_path_no_route_serves_is_not_found(client: Client) -> None:
    sid, token = client.session()
    reply = client.call("GET", f"/chat/sessions/{sid}.json", token=token)
    assert reply.status == 404 and error_code(check(reply, SESSION)) == "not_found"


def test_a_path_with_a_line_break_is_answered_in_the_contracts_shape(client: Client) -> None:
    """functions-framework's own routing matches no path with a line break in it: the answer
    must still be the contract's JSON 404, with the headers every answer has."""
    sid, token = client.session()
    for method, path, template in (
        ("GET", f"/chat/sessions/{sid}%0A", SESSION),
        ("DELETE", "/chat/sessions/a%0Ab", SESSION),
        ("OPTIONS", "/chat/sessions/%0A/resume", RESUME),
        ("POST", "/chat/sessions/%0A/messages", MESSAGES),
    ):
        reply = client.call(method, path, {"message": "hi"}, token=token)
        assert reply.status == 404, (method, path)
        assert error_code(check(reply, template)) == "not_found"
    for path in ("/chat/health%0A", "/intent/route%0A", "/metrics/summary%0A", "/metrics/%0A"):
        reply = client.call("GET", path)
        assert reply.status == 404 and reply.media_type == "application/json", path
        assert not schema_errors("/components/schemas/NotFoundError", reply.json()), path
        assert reply.header("X-Request-Id") and reply.header("X-Content-Type-Options") == "nosniff"


def test_resuming_and_deleting_a_session(client: Client) -> None:
    sid, token = client.session()
    resumed = client.call("POST", f"/chat/sessions/{sid}/resume", token=token)
    assert resumed.status == 200 and check(resumed, RESUME)["session_id"] == sid
    deleted = client.call("DELETE", f"/chat/sessions/{sid}", token=token)
    assert deleted.status == 204 and check(deleted, SESSION) is None
    for method, template in (("GET", SESSION), ("DELETE", SESSION), ("POST", RESUME)):
        reply = client.call(method, template.replace("{session_id}", sid), token=token)
        assert reply.status == 404, method
        assert error_code(check(reply, template)) == "not_found"
    gone = ask(client, sid, token, "hello")
    assert gone.status == 404 and error_code(check(gone, MESSAGES)) == "not_found"


def test_reads_are_rate_limited_per_address(client: Client) -> None:
    sid, token = client.session()
    replies = [client.call("GET", f"/chat/sessions/{sid}", token=token) for _ in range(4)]
    replies += [client.call("POST", f"/chat/sessions/{sid}/resume", token=token) for _ in range(8)]
    limited = [r for r in replies if r.status == 429]
    assert limited, [r.status for r in replies]
    for reply in limited:
        template = RESUME if reply.path.endswith("/resume") else SESSION
        assert error_code(check(reply, template)) == "rate_limited"
    for path in ("/chat/health", "/chat/about"):
        reply = client.call("GET", path)
        assert reply.status == 429 and error_code(check(reply, path)) == "rate_limited"


# --- chat turns


def test_a_turn_as_json(client: Client) -> None:
    sid, token = client.session()
    reply = ask(client, sid, token, "which shops are in Seattle?")
    assert reply.status == 200
    body = check(reply, MESSAGES)
    assert body["intent"] == "LOCATION_RAG" and body["sources"] and body["reply"]
    assert {s["kind"] for s in body["sources"]} == {"shop"}


def test_a_turn_as_a_stream(client: Client) -> None:
    sid, token = client.session()
    reply = ask(client, sid, token, "recommend a dark roast coffee", accept="text/event-stream")
    assert reply.status == 200 and reply.media_type == "text/event-stream"
    events = check(reply, MESSAGES)
    names = [e.name for e in events]
    assert names[0] == "meta" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    meta, done = events[0].data, events[-1].data
    assert "".join(e.data["text"] for e in events[1:-1]) == done["reply"]
    assert {k: done[k] for k in meta} == meta


def test_a_turn_refused(client: Client) -> None:
    sid, token = client.session()
    path = f"/chat/sessions/{sid}/messages"
    cases = [
        ({"message": "   "}, None, {}, 400, "invalid_request"),
        ({"message": "\u200b\u2060"}, None, {}, 400, "invalid_request"),  # nothing visible
        ({}, None, {}, 400, "invalid_request"),
        ({"message": "hi", "role": "system"}, None, {}, 400, "invalid_request"),
        (None, b'{"message": ', {}, 400, "invalid_json"),
        ({"message": "x" * 2001}, None, {}, 413, "payload_too_large"),
        (None, b'{"message": "' + b"x" * 17_000 + b'"}', {}, 413, "payload_too_large"),
        (None, b"message=hi", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ({"message": "hi"}, None, {"Accept": "text/html"}, 406, "not_acceptable"),
    ]
    for body_in, raw, headers, status, code in cases:
        reply = client.call("POST", path, body_in, raw=raw, token=token, headers=headers)
        assert reply.status == status, (body_in, raw, headers, reply.body[:200])
        assert error_code(check(reply, MESSAGES)) == code
    unauthorized = client.call("POST", path, {"message": "hi"})
    assert (
        unauthorized.status == 401 and error_code(check(unauthorized, MESSAGES)) == "unauthorized"
    )


def test_turns_are_rate_limited(client: Client) -> None:
    sid, token = client.session()
    replies = [ask(client, sid, token, f"hello number {n}") for n in range(6)]
    limited = [r for r in replies if r.status == 429]
    assert limited, [r.status for r in replies]
    assert error_code(check(limited[0], MESSAGES)) == "rate_limited"


# --- what the page and operators read


def test_about(client: Client) -> None:
    reply = client.call("GET", "/chat/about")
    assert reply.status == 200
    body = check(reply, "/chat/about")
    assert body["name"] == "Cymbal Coffee" and body["has_shops"] is True


@pytest.mark.parametrize("function", ["chat", "intent", "metrics"])
def test_health(client: Client, function: str) -> None:
    reply = client.call("GET", f"/{function}/health")
    assert reply.status == 200 and check(reply, f"/{function}/health") == {"status": "ok"}
    head = client.call("HEAD", f"/{function}/health")
    assert head.status == 200 and head.body == b""
    details = client.call("GET", f"/{function}/health/details")  # HEALTH_DETAILS=off here
    assert details.status == 404
    assert error_code(check(details, f"/{function}/health/details")) == "not_found"


def test_routing_a_query(client: Client) -> None:
    reply = client.call("POST", "/intent/route", {"query": "do you sell decaf beans?"})
    assert reply.status == 200
    assert check(reply, "/intent/route")["intent"] == "PRODUCT_RAG"
    cases = [
        ({"query": ""}, None, {}, 400, "invalid_request"),
        ({"query": "x" * 1001}, None, {}, 400, "invalid_request"),
        ({"text": "hello"}, None, {}, 400, "invalid_request"),
        (None, b"[1, 2", {}, 400, "invalid_json"),
        (None, b"query=hi", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (None, json.dumps({"query": "x" * 17_000}).encode(), {}, 413, "payload_too_large"),
    ]
    for body_in, raw, headers, status, code in cases:
        refused = client.call("POST", "/intent/route", body_in, raw=raw, headers=headers)
        assert refused.status == status, (body_in, raw, refused.body[:200])
        assert error_code(check(refused, "/intent/route")) == code


def test_routing_is_rate_limited(client: Client) -> None:
    replies = [client.call("POST", "/intent/route", {"query": "hello"}) for _ in range(6)]
    limited = [r for r in replies if r.status == 429]
    assert limited and error_code(check(limited[0], "/intent/route")) == "rate_limited"


def test_the_metrics_summary(client: Client) -> None:
    day = client.call("GET", "/metrics/summary?minutes=1440")
    assert day.status == 200
    assert len(check(day, "/metrics/summary")["series"]) == 1440
    default = check(client.call("GET", "/metrics/summary"), "/metrics/summary")
    assert default["window"]["minutes"] == 60
    for query in (
        "minutes=0",
        "minutes=1441",
        "minutes=5.0",
        "minutes=%2B5",
        "minutes=05",
        "window=5",
    ):
        reply = client.call("GET", f"/metrics/summary?{query}")
        assert reply.status == 400, query
        assert error_code(check(reply, "/metrics/summary")) == "invalid_request"
    replies = [client.call("GET", "/metrics/summary") for _ in range(6)]
    limited = [r for r in replies if r.status == 429]
    assert limited, [r.status for r in replies]
    assert error_code(check(limited[0], "/metrics/summary")) == "rate_limited"


# --- every route: CORS and methods


def test_every_route_answers_the_preflight_with_its_methods(
    client: Client, contract_stack: Stack
) -> None:
    origin = f"http://127.0.0.1:{contract_stack.port}"  # the local stack's own origin
    for path, methods in documented_operations().items():
        url = path.replace("{session_id}", "abc")
        reply = client.call("OPTIONS", url, headers={"Origin": origin})
        assert reply.status == 204, path
        check(reply, path)
        allowed = {
            m.strip().lower()
            for m in (reply.header("Access-Control-Allow-Methods") or "").split(",")
        }
        assert allowed == methods | ({"head"} if "get" in methods else set()), path
        assert reply.header("Access-Control-Allow-Origin") == origin
        refused = client.call("OPTIONS", url, headers={"Origin": "https://elsewhere.example"})
        assert refused.status == 403 and error_code(check(refused, path)) == "forbidden"


def test_a_browser_elsewhere_is_refused_on_every_operation(client: Client) -> None:
    for path, methods in documented_operations().items():
        url = path.replace("{session_id}", "abc")
        for method in methods - {"options"}:
            reply = client.call(
                method.upper(), url, {}, headers={"Origin": "https://elsewhere.example"}
            )
            assert reply.status == 403, (method, path)
            assert error_code(check(reply, path)) == "forbidden"


def test_a_method_no_route_serves_is_refused_with_the_documented_ones(client: Client) -> None:
    """405 is no operation's answer: its Allow header lists the document's methods."""
    for path, methods in documented_operations().items():
        reply = client.call("PATCH", path.replace("{session_id}", "abc"), {})
        assert reply.status == 405, path
        allowed = {m.strip().lower() for m in (reply.header("Allow") or "").split(",")}
        assert allowed == (methods - {"options"}) | ({"head"} if "get" in methods else set())
        assert error_code(reply.json()) == "method_not_allowed"
        assert not schema_errors("/components/schemas/Error", reply.json())
        assert reply.header("X-Request-Id")
    assert "patch" not in {m for ms in documented_operations().values() for m in ms}
