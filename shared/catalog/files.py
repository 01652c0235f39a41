"""Catalog JSON Lines files: read with line numbers, and cut into batches Eventarc accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.catalog.records import KINDS

# Eventarc's limit is 512 KB per event, and the event carries the Pub/Sub message base64-encoded
# (4/3 of its size) inside a JSON envelope: 360 KiB of body is ~480 KiB in the event.
MAX_BATCH_BYTES = 360 * 1024
MAX_BATCH_RECORDS = 500


@dataclass(frozen=True)
class Line:
    number: int
    record: Any


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str


MANIFEST_FILE = "catalog.json"


def kind_of(path: Path) -> str:
    """`products.jsonl` -> "products", `catalog.json` -> "manifest": the name says what it holds."""
    if path.name == MANIFEST_FILE:
        return "manifest"
    kind = path.name.split(".", 1)[0]
    if kind not in KINDS:
        raise ValueError(f"{path.name}: the file name must start with one of {', '.join(KINDS)}.")
    return kind


def read_jsonl(path: Path) -> tuple[list[Line], list[BadLine]]:
    """Records with their line numbers; each line that is not UTF-8 or not JSON is reported
    on its own and never stops the rest."""
    good: list[Line] = []
    bad: list[BadLine] = []
    if path.name == MANIFEST_FILE:  # one JSON object, not JSON Lines
        try:
            return [Line(1, json.loads(path.read_bytes().decode("utf-8")))], []
        except UnicodeDecodeError as e:
            return [], [BadLine(1, f"not UTF-8: {e.reason} at byte {e.start}")]
        except json.JSONDecodeError as e:
            return [], [BadLine(e.lineno, f"not JSON: {e.msg}")]
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad.append(BadLine(number, f"not UTF-8: {e.reason} at byte {e.start}"))
                continue
            if not text.strip():
                continue
            try:
                good.append(Line(number, json.loads(text)))
            except json.JSONDecodeError as e:
                bad.append(BadLine(number, f"not JSON: {e.msg}"))
    return good, bad


def batches(
    kind: str,
    records: Sequence[Any],
    *,
    max_bytes: int = MAX_BATCH_BYTES,
    max_records: int = MAX_BATCH_RECORDS,
) -> Iterator[dict[str, Any]]:
    """Ingest messages of at most `max_records` records and about `max_bytes` encoded."""
    chunk: list[Any] = []
    size = 0
    for record in records:
        record_size = len(json.dumps(record, separators=(",", ":")).encode()) + 1
        if record_size > max_bytes:
            raise ValueError(f"A {kind} record of {record_size} bytes cannot fit in one event.")
        if chunk and (len(chunk) == max_records or size + record_size > max_bytes):
            yield {"kind": kind, "records": chunk}
            chunk, size = [], 0
        chunk.append(record)
        size += record_size
    if chunk:
        yield {"kind": kind, "records": chunk}


def catalog_files(directory: Path) -> list[Path]:
    """The directory's catalog files: the manifest, then products and shops before the
    inventory that joins them."""
    files = [p for p in directory.glob("*.jsonl") if p.name.split(".", 1)[0] in KINDS]
    if (directory / MANIFEST_FILE).is_file():
        files.append(directory / MANIFEST_FILE)
    return sorted(files, key=lambda p: KINDS.index(kind_of(p)))
