"""Publishing a catalog, as the operator's command does: read and check the files, plan the
batches, publish them to the ingest topic (scripts/publish_catalog.py is the command).

Every line is checked (JSON, then the record schema) and every bad one is reported as
`file:line: reason`; the good records go out in batches that stay under Eventarc's event limit
and the ingest function's record limit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.bus import encode_payload
from shared.catalog.files import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    batches,
    catalog_files,
    kind_of,
    read_jsonl,
)
from shared.catalog.records import KINDS, validate_records

if TYPE_CHECKING:
    from shared.bus import EventBus

MIN_BATCH_BYTES = 1024
MAX_RECORDS_PER_MESSAGE = 5000  # shared.catalog.ingest.MAX_RECORDS: the ingest function's own limit
Progress = Callable[[int, int], None]  # (done, total) records


class UsageError(Exception):
    """A path or option the command cannot work with (exit code 2)."""


@dataclass(frozen=True)
class Problem:
    """One bad line: `file:line: reason`."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class CatalogFile:
    path: Path
    kind: str
    records: list[Any]  # the good ones, as read (the ingest function validates them again)
    lines: int  # non-blank lines read
    problems: list[Problem]


@dataclass
class Catalog:
    files: list[CatalogFile]

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.files for p in f.problems]

    @property
    def records(self) -> int:
        return sum(len(f.records) for f in self.files)


@dataclass
class Summary:
    topic: str
    files: list[Path] = field(default_factory=list)
    lines: int = 0
    records: dict[str, int] = field(default_factory=dict)  # good records per kind
    bad: list[Problem] = field(default_factory=list)
    batches: int = 0  # published; in a dry run, the batches that would be
    bytes: int = 0  # message bodies, encoded, as above
    published: bool = False
    dry_run: bool = False
    refused: bool = False  # --strict with bad lines: nothing was published
    message_ids: list[str] = field(default_factory=list)
    destination: str = ""  # where the topic is: "Pub/Sub projects/p", "local bus", ...

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


class PublishFailed(Exception):
    """The bus refused a batch; `summary` counts what was published before it."""

    def __init__(self, message: str, summary: Summary) -> None:
        super().__init__(message)
        self.summary = summary


# --- reading and validating


def envelope_bytes(kind: str) -> int:
    """What a batch's message costs beyond its records: `{"kind":...,"records":[]}`."""
    return len(encode_payload({"kind": kind, "records": []}))


def record_limit(kind: str, max_bytes: int) -> int:
    """The `max_bytes` to give catalog_files.batches so a whole message stays <= max_bytes.

    batches() counts each record's compact JSON plus one byte (its comma); a message is the
    envelope plus the records and one comma fewer, so it is at most envelope + limit - 1."""
    limit = max_bytes - envelope_bytes(kind)
    if limit < 2:
        raise ValueError(f"max_bytes={max_bytes} leaves no room for a record.")
    return limit


def resolve_paths(paths: Sequence[Path], kind: str | None = None) -> list[tuple[Path, str]]:
    """The files to read and their kinds, in catalog order (products, shops, inventory,
    documents: the records inventory rows refer to go first). UsageError when a path is
    missing, a file name says no kind, or --kind is used with anything but one file."""
    if not paths:
        raise UsageError("no PATH given")
    if kind is not None:
        if kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
        if len(paths) != 1 or paths[0].is_dir():
            raise UsageError("--kind applies to a single file, not to directories or several")
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files = catalog_files(path)
            if not files:
                raise UsageError(
                    f"{path}: no catalog files in this directory "
                    f"(expected catalog.json or {', '.join(k + '.jsonl' for k in KINDS[1:])})"
                )
            found.extend((f, kind_of(f)) for f in files)
        elif path.is_file():
            if kind is not None:
                found.append((path, kind))
                continue
            try:
                found.append((path, kind_of(path)))
            except ValueError as e:
                raise UsageError(f"{path}: unknown kind: {e} Or give --kind.") from None
        elif path.exists():
            raise UsageError(f"{path}: not a file or directory")
        else:
            raise UsageError(f"{path}: no such file or directory")
    unique: dict[Path, tuple[Path, str]] = {}
    for path, k in found:
        unique.setdefault(path.resolve(), (path, k))
    return sorted(unique.values(), key=lambda item: KINDS.index(item[1]))


def read_catalog_file(path: Path, kind: str, *, max_bytes: int = MAX_BATCH_BYTES) -> CatalogFile:
    """Every line checked: JSON, the record schema, and a size that fits in one message."""
    lines, not_json = read_jsonl(path)
    problems = [Problem(path, b.number, b.reason) for b in not_json]
    _, rejected = validate_records(kind, [line.record for line in lines])
    invalid = {r.index: r.reason for r in rejected}
    limit = record_limit(kind, max_bytes) - 1  # batches() adds one byte per record
    records: list[Any] = []
    for index, line in enumerate(lines):
        if index in invalid:
            problems.append(Problem(path, line.number, invalid[index]))
            continue
        size = len(json.dumps(line.record, separators=(",", ":")).encode())
        if size > limit:
            problems.append(
                Problem(
                    path,
                    line.number,
                    f"the record is {size} bytes encoded; one message holds at most {limit}",
                )
            )
            continue
        records.append(line.record)
    problems.sort(key=lambda p: p.line)
    return CatalogFile(path, kind, records, len(lines) + len(not_json), problems)


def read_catalog(
    paths: Sequence[Path], *, kind: str | None = None, max_bytes: int = MAX_BATCH_BYTES
) -> Catalog:
    """Read and check every file before anything is published (so --strict can refuse)."""
    return Catalog(
        [read_catalog_file(p, k, max_bytes=max_bytes) for p, k in resolve_paths(paths, kind)]
    )


# --- publishing


def plan(
    catalog: Catalog, *, max_bytes: int = MAX_BATCH_BYTES, max_records: int = MAX_BATCH_RECORDS
) -> Iterator[tuple[dict[str, Any], int]]:
    """Each message to publish, with its encoded size (always <= max_bytes)."""
    for f in catalog.files:
        limit = record_limit(f.kind, max_bytes)
        for batch in batches(f.kind, f.records, max_bytes=limit, max_records=max_records):
            yield batch, len(encode_payload(batch))


def publish_catalog(
    catalog: Catalog,
    bus: EventBus | None,
    topic: str,
    *,
    dry_run: bool = False,
    strict: bool = False,
    max_bytes: int = MAX_BATCH_BYTES,
    max_records: int = MAX_BATCH_RECORDS,
    progress: Progress | None = None,
) -> Summary:
    """Publish the good records of a checked catalog. Nothing is published in a dry run, nor
    with `strict` when a line is bad (then `bus` may be None). A bus failure raises
    PublishFailed carrying what was published before it; publishing again is safe (ingest
    writes only what changed)."""
    if not 1 <= max_records <= MAX_RECORDS_PER_MESSAGE:
        raise ValueError(f"max_records must be 1 to {MAX_RECORDS_PER_MESSAGE}")
    summary = Summary(
        topic=topic,
        files=[f.path for f in catalog.files],
        lines=sum(f.lines for f in catalog.files),
        bad=catalog.problems,
        dry_run=dry_run,
    )
    for f in catalog.files:
        summary.records[f.kind] = summary.records.get(f.kind, 0) + len(f.records)
    summary.refused = strict and bool(summary.bad)
    if dry_run or summary.refused:
        if not summary.refused:
            for _, size in plan(catalog, max_bytes=max_bytes, max_records=max_records):
                summary.batches += 1
                summary.bytes += size
        return summary
    if bus is None:
        raise ValueError("a bus is needed to publish")
    total, done = catalog.records, 0
    if progress:
        progress(0, total)
    for batch, size in plan(catalog, max_bytes=max_bytes, max_records=max_records):
        try:
            message_id = bus.publish(topic, batch)
        except Exception as e:
            raise PublishFailed(
                f"publishing a {batch['kind']} batch to {topic} failed: {type(e).__name__}: {e}",
                summary,
            ) from e
        summary.published = True
        summary.message_ids.append(message_id)
        summary.batches += 1
        summary.bytes += size
        done += len(batch["records"])
        if progress:
            progress(done, total)
    summary.published = True
    return summary


def publish_paths(
    paths: Sequence[Path],
    bus: EventBus | None,
    topic: str,
    *,
    kind: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    max_bytes: int = MAX_BATCH_BYTES,
    max_records: int = MAX_BATCH_RECORDS,
    progress: Progress | None = None,
) -> Summary:
    """Check and publish catalog files or directories: read_catalog, then publish_catalog.
    Raises UsageError (bad paths, unknown kind) and PublishFailed (the bus refused)."""
    catalog = read_catalog(paths, kind=kind, max_bytes=max_bytes)
    return publish_catalog(
        catalog,
        bus,
        topic,
        dry_run=dry_run,
        strict=strict,
        max_bytes=max_bytes,
        max_records=max_records,
        progress=progress,
    )
