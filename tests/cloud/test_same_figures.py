"""`make dev` and `make dev-cloud`, each started for the run on the benchmark catalog, asked the
same labelled questions through the public HTTP contract (scripts/contract_eval.py): the same
figures (intent, cited records, cache hits and wrong hits, turns counted) and the same turn for
turn, but for the clock a reply may quote.

On the full sets (`python -m scripts.contract_eval` against each, docs/devcloud.md) the two
agreed on every figure and on 454 of 455 turns, the other differing only in the minute it quoted."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scripts import contract_eval
from scripts.cloudstack import CloudStack
from tests.cloud.conftest import COFFEE, start_stack
from tests.local_stack import Stack

LINES = 40  # of each set: 40 routes, 40 retrieval turns, 40 pairs (80 turns)
LIMITS = {"RATE_LIMIT_PER_MINUTE": "100000"}  # the figures, not the rate limit, are compared
NOW = re.compile(r"checked for [^()]*\(now\)")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("local"), {"CATALOG": str(COFFEE), **LIMITS}).ready(240)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudStack]:
    stack = start_stack(tmp_path_factory.mktemp("same"), **LIMITS)
    yield stack
    stack.stop()


def run(url: str) -> contract_eval.Figures:
    client = contract_eval.Client(url, 60.0, time.sleep)
    return contract_eval.evaluate(client, LINES, time.monotonic)


def turn(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "reply": NOW.sub("checked for <now>", str(row["reply"]))}


@pytest.mark.timeout(900)
def test_make_dev_and_make_dev_cloud_give_the_same_figures_turn_for_turn(
    local: Stack, cloud: CloudStack
) -> None:
    here, there = run(local.base), run(cloud.url)
    assert here.summary() == there.summary()
    assert here.turns_made == here.turns_counted == 3 * LINES  # every turn counted, once
    assert here.routed == LINES and here.answerable > 0 and here.paraphrases > 0
    differing = [
        (a["message"], a, b)
        for a, b in zip(map(turn, here.turns), map(turn, there.turns), strict=True)
        if a != b
    ]
    assert differing == []
