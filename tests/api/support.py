"""The OpenAPI document and what the tests need around it: the code's own route tables, a
validator of real responses against the document, and an HTTP client bound to a loopback
address of its own (each address has its own rate-limit buckets)."""

from __future__ import annotations

import http.client
import importlib.util
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.httpapi import Route, Routes

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.yaml"
DOCUMENT_URI = "urn:cymbal:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TIMEOUT_S = 60
FORMATS = FormatChecker()
# Without rfc3339-validator installed, jsonschema would pass any string as a date-time.
assert "date-time" in FORMATS.checkers, "rfc3339-validator is missing (requirements-dev.txt)"


@cache
def document() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return data


def documented_operations() -> dict[str, set[str]]:
    """Path -> the methods the document gives it (lower case)."""
    return {
        path: {m for m in item if m in HTTP_METHODS} for path, item in document()["paths"].items()
    }


# --- the code's routes


def load_function_module(name: str) -> Any:
    """functions/<name>/main.py, imported as the runtime imports it (under a name of its own)."""
    path = ROOT / "functions" / name / "main.py"
    spec = importlib.util.spec_from_file_location(f"_openapi_check_{name}_main", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def routes_table(module: Any) -> Routes:
    """The one route table a function's module serves."""
    tables = [value for value in vars(module).values() if isinstance(value, Routes)]
    assert len(tables) == 1, f"{module.__name__}: {len(tables)} route tables"
    return tables[0]


def table_routes(table: Routes) -> list[Route]:
    return [route for route, _regex, _handler in table._routes]


def code_operations() -> dict[str, set[str]]:
    """Path as served behind one origin (/<function><pattern>) -> methods, from the route table
    of each HTTP function the local stack mounts."""
    from scripts.devserver import HTTP_FUNCTIONS

    found: dict[str, set[str]] = {}
    for name in HTTP_FUNCTIONS:
        module = load_function_module(name)
        assert callable(getattr(module, name, None)), f"functions/{name}/main.py has no {name}()"
        table = routes_table(module)
        assert table.name == name
        for route in table_routes(table):
            found.setdefault(f"/{name}{route.pattern}", set()).add(route.method.lower())
    return found


# --- responses against the document


def pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) into the document."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A local `$ref` (to a response or a header) followed to what it names."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


def schema_errors(location: str, instance: Any) -> list[str]:
    """What is wrong with `instance` against the schema at `location` (a JSON pointer into the
    document), formats (date-time) included."""
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{location}"},
        registry=_registry(),
        format_checker=FORMATS,
    )
    return [_describe(e) for e in validator.iter_errors(instance)]


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:300]}"


@dataclass
class Reply:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    @property
    def media_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Event:
    name: str
    data: Any


def sse_events(body: bytes) -> list[Event]:
    """Server-Sent Events: blocks of `event:` and `data:` lines, each ended by a blank line."""
    events = []
    text = body.decode("utf-8")
    assert text.endswith("\n\n"), "the stream does not end at an event's end"
    for block in text.split("\n\n")[:-1]:
        name, data = "message", []
        for line in block.split("\n"):
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            else:
                raise AssertionError(f"unexpected line in the stream: {line!r}")
        events.append(Event(name, json.loads("\n".join(data))))
    return events


def check(reply: Reply, operation_path: str) -> Any:
    """`reply` must be one of the responses the document gives its operation (path template
    `operation_path`): a documented status, a documented media type, a body that matches its
    schema (each event of a stream, its event's schema) and every required header, valid.
    Returns the body: parsed JSON, the list of events of a stream, or None."""
    method = reply.method.lower()
    operation = document()["paths"][operation_path][method]
    label = f"{reply.method} {reply.path} -> {reply.status}"
    documented = operation["responses"]
    assert str(reply.status) in documented, f"{label}: undocumented: {reply.body[:300]!r}"
    response_ref = operation["responses"][str(reply.status)]
    response = resolve(response_ref)
    base = (
        response_ref["$ref"][1:]
        if "$ref" in response_ref
        else pointer("paths", operation_path, method, "responses", str(reply.status))
    )
    for name, header in response.get("headers", {}).items():
        header = resolve(header)
        value = reply.header(name)
        if value is None:
            assert not header.get("required"), f"{label}: required header {name} missing"
            continue
        coerced: Any = int(value) if header["schema"].get("type") == "integer" else value
        problems = _header_errors(header["schema"], coerced)
        assert not problems, f"{label}: header {name}: {value!r}: {problems}"
    content = response.get("content")
    if not content:
        assert reply.body == b"", (
            f"{label}: a body where the document has none: {reply.body[:200]!r}"
        )
        return None
    assert reply.media_type in content, f"{label}: {reply.media_type!r} not in {sorted(content)}"
    media = pointer("content", reply.media_type)
    if reply.media_type == "text/event-stream":
        events = sse_events(reply.body)
        names = content["text/event-stream"]["x-events"]
        for event in events:
            assert event.name in names, f"{label}: undocumented event {event.name!r}"
            problems = schema_errors(f"{base}{media}{pointer('x-events', event.name)}", event.data)
            assert not problems, f"{label}: event {event.name}: {problems}"
        return events
    body = reply.json()
    problems = schema_errors(f"{base}{media}/schema", body)
    assert not problems, f"{label}: {problems}: {reply.body[:500]!r}"
    return body


def _header_errors(schema: Mapping[str, Any], value: Any) -> list[str]:
    validator = Draft202012Validator(dict(schema), format_checker=FORMATS)
    return [_describe(e) for e in validator.iter_errors(value)]


# --- HTTP from a loopback address of the test's own

_ADDRESSES: Iterator[int] = itertools.count(2)


def next_address() -> str:
    """A loopback address no other client of this run has used: fresh rate-limit buckets."""
    n = next(_ADDRESSES)
    return f"127.0.{n // 250 + 1}.{n % 250 + 2}"


@dataclass
class Client:
    port: int
    address: str = field(default_factory=next_address)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = {"Accept": "application/json"}
        if data is not None:
            sent["Content-Type"] = "application/json"
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=TIMEOUT_S, source_address=(self.address, 0)
        )
        try:
            conn.request(method, path, data, sent)
            r = conn.getresponse()
            return Reply(method, path, r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def session(self) -> tuple[str, str]:
        """A new anonymous session: its id and its token."""
        r = self.call("POST", "/chat/sessions", {})
        assert r.status == 201, r.body
        body = r.json()
        return body["session_id"], body["token"]
