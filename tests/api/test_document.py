"""docs/openapi.yaml against the code: a valid OpenAPI 3.1 document whose routes, methods,
path patterns, request bounds, security and error codes are the ones the code has."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel, ValidationError

from shared import errors
from shared.config import Settings
from shared.httpapi import Route, error_response
from tests.api.support import (
    code_operations,
    document,
    documented_operations,
    load_function_module,
    pointer,
    resolve,
    routes_table,
    schema_errors,
)


def schema_of(name: str) -> dict[str, Any]:
    return flatten({"$ref": f"#/components/schemas/{name}"})


def flatten(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref`s followed and its `allOf` merged into one object."""
    merged: dict[str, Any] = {}
    for key, value in resolve(schema).items():
        if key == "allOf":
            for part in value:
                merged.update(flatten(part))
        else:
            merged[key] = value
    return merged


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


# --- the document itself


def test_the_document_is_valid_openapi_3_1() -> None:
    assert document()["openapi"] == "3.1.0"
    validate(document(), cls=OpenAPIV31SpecValidator)


def test_the_validator_refuses_a_broken_document() -> None:
    """The check above can fail: a response without a description is not OpenAPI."""
    broken = {**document(), "paths": {"/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))


# --- routes


def test_every_route_of_the_code_is_documented_and_every_documented_route_is_served() -> None:
    code, documented = code_operations(), documented_operations()
    assert sorted(documented) == sorted(code)
    for path, methods in code.items():
        # OPTIONS is the CORS preflight, which the code answers on every route it matches.
        assert documented[path] == {*methods, "options"}, path


def test_path_parameters_are_the_routes_own_pattern() -> None:
    compiled = Route("GET", "/{name}").compile().pattern
    found = re.search(r"\(\?P<name>(.+?)\)", compiled)
    assert found is not None, compiled
    expected = f"^{found.group(1)}$"
    checked = 0
    for path, item in document()["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        for method, operation in item.items():
            if method == "parameters":
                continue
            parameters = [
                resolve(p) for p in [*item.get("parameters", []), *operation.get("parameters", [])]
            ]
            in_path = {p["name"]: flatten(p["schema"]) for p in parameters if p["in"] == "path"}
            assert sorted(in_path) == sorted(names), f"{method} {path}"
            for name, schema in in_path.items():
                assert schema["type"] == "string" and schema["pattern"] == expected, (path, name)
                checked += 1
    assert checked


def test_the_session_routes_and_only_they_need_the_token() -> None:
    """The handlers that authorize a session's token are the operations with security."""
    from scripts.devserver import HTTP_FUNCTIONS

    for name in HTTP_FUNCTIONS:
        for route, _regex, handler in routes_table(load_function_module(name))._routes:
            authorizes = ".authorize(" in inspect.getsource(handler)
            operation = document()["paths"][f"/{name}{route.pattern}"][route.method.lower()]
            expected = [{"sessionToken": []}] if authorizes else None
            assert operation.get("security") == expected, f"{route.method} /{name}{route.pattern}"
    for _path, method, operation in operations():
        if method == "options":
            assert "security" not in operation


# --- request bounds


def _code_properties(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Each field's JSON schema as pydantic writes it, a nullable one without its null branch."""
    properties = {}
    for name, schema in model.model_json_schema()["properties"].items():
        branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
        assert len(branches) == 1, (model, name)
        nullable = len(schema.get("anyOf", [])) > len(branches)
        properties[name] = {**branches[0], "nullable": nullable, "default": schema.get("default")}
    return properties


BOUNDS = ("type", "minLength", "maxLength", "minimum", "maximum", "format")


def _same_bounds(code: Mapping[str, Any], doc: Mapping[str, Any], where: str) -> None:
    doc_types = doc["type"] if isinstance(doc["type"], list) else [doc["type"]]
    assert ("null" in doc_types) == code["nullable"], where
    assert [t for t in doc_types if t != "null"] == [code["type"]], where
    for key in BOUNDS[1:]:
        assert doc.get(key) == code.get(key), f"{where}: {key}"


def _check_body(
    model: type[BaseModel], doc_name: str, extra: Mapping[str, Any] | None = None
) -> None:
    doc = schema_of(doc_name)
    code = _code_properties(model)
    assert sorted(doc["properties"]) == sorted(code), doc_name
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    assert sorted(doc.get("required", [])) == sorted(required), doc_name
    assert (doc.get("additionalProperties") is False) == (
        model.model_config.get("extra") == "forbid"
    )
    visible = schema_of("VisibleText")["pattern"]
    for name, field in code.items():
        field = {**field, **(extra or {}).get(name, {})}
        prop = flatten(doc["properties"][name])
        _same_bounds(field, prop, f"{doc_name}.{name}")
        if field["type"] == "string":  # trimmed by the model: at least one non-space character
            assert model.model_config.get("str_strip_whitespace") is True
            assert prop["pattern"] == visible, f"{doc_name}.{name}"


def test_request_bodies_have_the_bounds_the_code_enforces() -> None:
    from shared.chat.api import CreateSession, PostMessage

    intent = load_function_module("intent")
    _check_body(CreateSession, "CreateSessionRequest")
    # The message's upper bound is a setting, checked after normalisation (413 past it).
    limit = Settings().max_message_chars
    _check_body(PostMessage, "PostMessageRequest", {"message": {"maxLength": limit}})
    _check_body(intent.RouteRequest, "RouteRequest")


def _query_parameters(path: str) -> dict[str, dict[str, Any]]:
    operation = document()["paths"][path]["get"]
    found = {}
    for parameter in map(resolve, operation.get("parameters", [])):
        if parameter["in"] == "query":
            assert parameter.get("required") is not True
            found[parameter["name"]] = flatten(parameter["schema"])
    return found


def test_the_history_query_has_the_codes_bounds() -> None:
    from shared.chat.api import HistoryQuery

    documented = _query_parameters("/chat/sessions/{session_id}")
    code = _code_properties(HistoryQuery)
    assert sorted(documented) == sorted(code)
    for name, schema in documented.items():
        _same_bounds({**code[name], "nullable": False}, schema, name)
        assert schema.get("default") == code[name]["default"], name


def test_the_summary_window_accepts_exactly_what_the_code_accepts() -> None:
    metrics = load_function_module("metrics")
    from shared.metrics.summary import MAX_WINDOW_MINUTES

    field = metrics.SummaryQuery.model_fields["minutes"]
    pattern = next(m.pattern for m in field.metadata if hasattr(m, "pattern"))
    (schema,) = _query_parameters("/metrics/summary").values()
    assert schema["type"] == "integer"
    assert schema["default"] == int(field.default)
    for n in range(-5, 10_001):  # every window the code might take, as a client writes it
        code = re.fullmatch(pattern, str(n)) is not None and int(n) <= MAX_WINDOW_MINUTES
        assert code == (schema["minimum"] <= n <= schema["maximum"]), n


def test_the_visible_text_pattern_is_what_trimming_leaves() -> None:
    """A trimmed field needs a character that trimming keeps: over every code point, the
    pattern finds one exactly where the code's model takes the one-character value."""
    model = load_function_module("intent").RouteRequest
    pattern = re.compile(schema_of("VisibleText")["pattern"])
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        try:
            model(query=char)
            kept = True
        except ValidationError:
            kept = False
        assert (pattern.search(char) is not None) == kept, hex(point)


def test_the_documented_limits_are_the_settings_defaults() -> None:
    settings = Settings()
    described = resolve({"$ref": "#/components/responses/PayloadTooLarge"})["description"]
    assert f"{settings.max_body_bytes:,} bytes" in described
    assert f"{settings.max_message_chars:,} characters" in described
    assert f"{settings.max_body_bytes:,} bytes" in document()["info"]["description"]


# --- errors


def _app_errors() -> list[type[errors.AppError]]:
    """Every error the code can raise: AppError and its subclasses, in every module of shared/
    and of the functions."""
    import shared

    for found in pkgutil.walk_packages(shared.__path__, "shared."):
        importlib.import_module(found.name)
    for name in ("chat", "intent", "metrics", "ingest"):
        load_function_module(name)
    classes, todo = [], [errors.AppError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


def _documented_error(status: int, code: str) -> bool:
    """Whether some operation documents an error body with this code for this status."""
    body = {"error": {"code": code, "message": "Something."}}
    for path, method, operation in operations():
        ref = operation["responses"].get(str(status))
        if ref is None or "application/json" not in resolve(ref).get("content", {}):
            continue
        base = (
            ref["$ref"][1:]
            if "$ref" in ref
            else pointer("paths", path, method, "responses", str(status))
        )
        if not schema_errors(f"{base}/content/application~1json/schema", body):
            return True
    return False


def test_every_client_error_the_code_raises_is_documented_with_its_code() -> None:
    checked = set()
    for cls in _app_errors():
        if 400 <= cls.status < 500 and cls.status != 405:  # 405: no operation, see info
            assert _documented_error(cls.status, cls.code), (
                f"{cls.__name__}: {cls.status} {cls.code}"
            )
            checked.add(cls.status)
    assert checked >= {400, 401, 403, 404, 406, 409, 413, 415, 429}
    assert f"405 `{errors.MethodNotAllowed.code}`" in document()["info"]["description"]


def test_server_errors_are_documented_as_the_code_shows_them() -> None:
    """A 5xx names only the kind of failure (internal, or unavailable with Retry-After),
    whatever the error was: each is documented as the client sees it."""
    servers = [cls for cls in _app_errors() if cls.status >= 500]
    assert len(servers) > 5
    for cls in servers:
        response = error_response(cls())
        body = json.loads(response.get_data())
        assert _documented_error(response.status_code, body["error"]["code"]), cls.__name__
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) >= 1
    assert not _documented_error(503, "store_unavailable")


def test_every_operation_documents_the_errors_any_request_can_meet() -> None:
    for path, method, operation in operations():
        responses = operation["responses"]
        where = f"{method} {path}"
        assert {"403", "500"} <= set(responses), where  # a refused origin; a failure
        if method != "options":
            assert "503" in responses, where
        if "429" in responses:
            assert responses["429"] == {"$ref": "#/components/responses/RateLimited"}, where


def test_rate_limited_and_unavailable_answers_carry_retry_after() -> None:
    for name in ("RateLimited", "Unavailable"):
        header = resolve(
            resolve({"$ref": f"#/components/responses/{name}"})["headers"]["Retry-After"]
        )
        assert header["required"] is True and header["schema"]["type"] == "integer", name
