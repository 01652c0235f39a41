"""Schemathesis against the running local stacks, `make dev` and `make dev-cloud` (the deployed
shape: a process per function behind the front door, Firestore and Pub/Sub on the emulators),
every operation of docs/openapi.yaml: inputs
generated from the document (valid ones and ones that break it), each answer checked: no 5xx,
a documented status, a documented media type and headers, a body matching its schema, invalid
input refused, a secured operation refused without its token, and undocumented methods
answered 405 with their Allow header.

Deterministic (a fixed seed, derandomized generation, no example database) and bounded
(MAX_EXAMPLES per operation and mode), so that it takes the same path on every run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.api.conftest import start_stack
from tests.api.support import OPENAPI, document
from tests.cloud import conftest as cloud

MAX_EXAMPLES = 150  # per operation, in the fuzzing phase
SEED = 20261207
# Limits no fuzzer reaches, so that generated requests meet the routes rather than a 429.
FUZZ_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "100000",
    "READ_RATE_LIMIT_PER_MINUTE": "100000",
    "INTENT_RATE_LIMIT_PER_MINUTE": "1000000",
    "SUMMARY_RATE_LIMIT_PER_MINUTE": "1000000",
}
SESSION_ID = re.compile(document()["components"]["schemas"]["SessionIdParameter"]["pattern"])
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
    allow_header_conformance,
]


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # No deadline on an example (schemathesis sets none) and no health check that
            # times generation: a slow machine is not a failure. A request that hangs is one.
            "suppress-health-check": ["too_slow"],
            "request-timeout": 30,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": False},  # the document gives none
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
            },
            "checks": {
                # A body that breaks the document is refused: 413 is the code's answer to a
                # message or body past its size, which the schema states as maxLength.
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "403", "404", "405", "406", "413", "415"]
                },
            },
        }
    )


schema = schemathesis.openapi.from_path(OPENAPI, config=fuzz_config())


# Cases are generated before the stack runs (schemathesis builds its coverage cases as it
# collects the test), so the auth provider marks where a session goes and the test puts a new
# one there just before sending.
OWN_TOKEN = "own-session-token"
OWN_SESSION = "own-session"


@schema.auth(refresh_interval=None)
class SessionToken:
    """The token of a session of the case's own, on every secured operation, and that
    session's id in the path unless the generated id is one the document refuses (then the
    case tests that refusal). Schemathesis leaves the token out where it tests its absence."""

    def get(self, case: Any, context: Any) -> str | None:
        return OWN_TOKEN if context.operation.definition.raw.get("security") else None

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
        generated = (case.path_parameters or {}).get("session_id")
        if isinstance(generated, str) and SESSION_ID.search(generated):
            case.path_parameters = {**case.path_parameters, "session_id": OWN_SESSION}


def with_own_session(case: Any, base_url: str) -> None:
    """A new session in place of the marks: each case stands alone, a DELETE included."""
    if (case.headers or {}).get("Authorization") != f"Bearer {OWN_TOKEN}":
        return
    r = requests.post(f"{base_url}/chat/sessions", json={}, timeout=30)
    assert r.status_code == 201, r.text
    session = r.json()
    case.headers = {**case.headers, "Authorization": f"Bearer {session['token']}"}
    if (case.path_parameters or {}).get("session_id") == OWN_SESSION:
        case.path_parameters = {**case.path_parameters, "session_id": session["session_id"]}


OFF: set[str] = set()  # operations the stack under test serves switched off, as configured


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("make dev", id="make-dev"),
        # with REQUIRE_EMULATORS=1 (CI), a skip for want of gcloud's emulators is a failure
        pytest.param("make dev-cloud", id="make-dev-cloud", marks=pytest.mark.emulator),
    ],
)
def fuzz_base(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of a stack started for the fuzzing (its front door for dev-cloud)."""
    OFF.clear()
    if request.param == "make dev":
        stack = start_stack(tmp_path_factory, "api-fuzz", FUZZ_LIMITS)
        yield stack.base
        stack.kill()
    else:
        deployed = cloud.start_stack(tmp_path_factory.mktemp("api-fuzz-cloud"), **FUZZ_LIMITS)
        OFF.add("GET /chat/health/details")  # off on chat as deployed: a documented 404
        yield deployed.url.rstrip("/")
        deployed.stop()


@pytest.fixture(scope="module")
def answered(fuzz_base: str) -> Iterator[dict[str, set[int]]]:
    """The statuses each operation answered; once all have run, each must have succeeded at
    least once, so that the fuzzing reached past the refusals (the token and path hookup
    above included)."""
    statuses: dict[str, set[int]] = {}
    yield statuses
    missed = {
        label: sorted(s)
        for label, s in statuses.items()
        if not any(200 <= c < 300 for c in s) and label not in OFF
    }
    assert not missed, f"operations that never succeeded: {missed}"
    lit = {label: sorted(statuses[label]) for label in OFF if 404 not in statuses.get(label, ())}
    assert not lit, f"operations switched off that never answered 404: {lit}"


@schema.parametrize()
def test_the_stack_answers_as_documented(
    case: Any, fuzz_base: str, answered: dict[str, set[int]]
) -> None:
    with_own_session(case, fuzz_base)
    response = case.call_and_validate(base_url=fuzz_base, checks=CHECKS)
    answered.setdefault(case.operation.label, set()).add(response.status_code)
