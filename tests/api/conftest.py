"""The local stack for the contract's checks: `make dev`'s server, in a process of its own on a
loopback port, with the sample catalog loaded through the real ingest path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from tests.api.support import Client
from tests.local_stack import Stack

STACK_START_S = 180.0

# Tight limits, so that each limit is reached in a few requests; every test calls from a
# loopback address of its own, so that no test spends another's buckets.
CONTRACT_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "4",
    "READ_RATE_LIMIT_PER_MINUTE": "10",
    "INTENT_RATE_LIMIT_PER_MINUTE": "4",
    "SUMMARY_RATE_LIMIT_PER_MINUTE": "4",
    "HEALTH_DETAILS": "off",  # as on a public deployment: /health/details is 404
}


def start_stack(tmp: pytest.TempPathFactory, name: str, env: Mapping[str, str]) -> Stack:
    return Stack(tmp.mktemp(name), env).ready(STACK_START_S)


@pytest.fixture(scope="module")
def contract_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory, "api-contract", CONTRACT_LIMITS)
    yield stack
    stack.kill()


@pytest.fixture
def client(contract_stack: Stack) -> Client:
    """A client on a loopback address of its own: buckets no other test has touched."""
    return Client(contract_stack.port)
