"""The turn event: one model for the chat that writes it and the metrics function that reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.metrics.event import STAGES, TURN_ERRORS, TurnEvent


def turn(**kw: Any) -> TurnEvent:
    fields: dict[str, Any] = {
        "turn_id": "0123456789abcdef",
        "ts": datetime(2026, 12, 6, 17, 30, 5, 250000, tzinfo=UTC),
        "intent": "PRODUCT_RAG",
        "confidence": 0.8123,
        "method": "embedding",
        "cached": True,
        "cache_kind": "semantic",
        "fallback": None,
        "top_score": 0.71,
        "result_count": 3,
        "timings_ms": {"embed": 4.5, "total": 20.25},
        **kw,
    }
    return TurnEvent(**fields)


def test_the_wire_body_is_the_published_json_and_reads_back_the_same() -> None:
    body = turn().wire()
    assert list(body) == [
        "turn_id", "ts", "intent", "confidence", "method", "cached", "cache_kind", "fallback",
        "top_score", "result_count", "timings_ms",
    ]  # fmt: skip
    assert body["ts"] == "2026-12-06T17:30:05.250000Z"
    assert TurnEvent.model_validate(json.loads(json.dumps(body))) == turn()


def test_error_is_on_the_wire_only_when_there_is_one() -> None:
    assert "error" not in turn().wire()
    assert turn(error="cache_failed").wire()["error"] == "cache_failed"


@pytest.mark.parametrize("code", TURN_ERRORS)
def test_every_error_the_chat_can_report_is_one_the_consumer_counts(code: str) -> None:
    assert TurnEvent.model_validate(turn(error=code).wire()).error == code


def test_the_consumer_counts_a_newer_chats_unknown_code_but_not_a_malformed_one() -> None:
    assert turn(error="a_code_from_a_newer_chat").error == "a_code_from_a_newer_chat"
    for bad in ("Bad Code", "x" * 41, "drop;table"):
        with pytest.raises(ValidationError):
            turn(error=bad)


def test_stages_are_the_timings_a_turn_reports() -> None:
    assert STAGES == ("embed", "route", "search", "cache", "generate", "persist", "total")
    with pytest.raises(ValidationError):
        turn(timings_ms={"think": 1.0})


def test_unknown_fields_from_a_newer_chat_are_ignored_and_user_text_has_no_field() -> None:
    event = TurnEvent.model_validate({**turn().wire(), "text": "my secret question"})
    assert "text" not in event.wire()
