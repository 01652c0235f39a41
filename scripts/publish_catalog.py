"""Publish catalog JSON Lines files to the ingest topic, as an operator does.

Usage: python -m scripts.publish_catalog [options] PATH...

Each PATH is a .jsonl file or a directory of them (products, shops, inventory, documents: the
file name says what it holds, or --kind does for a single file). Every line is checked (JSON,
then the record schema) and every bad one is reported as `file:line: reason`; the good records
go out in batches that stay under Eventarc's event limit. The bus is the one settings choose:
Pub/Sub when GOOGLE_CLOUD_PROJECT (or PUBSUB_EMULATOR_HOST, or BUS_BACKEND=pubsub) says so;
otherwise the local stack's in-process bus, with the ingest function subscribed as `make dev`
does, writing into the same local store, and the command waits until everything is ingested.

Exit codes: 0 done; 1 bad lines (with --dry-run or --strict); 2 usage (a missing file, an
unknown kind, a bad option); 3 publishing or ingesting failed.  See docs/ingestion.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from shared.bus.base import encode_payload
from shared.catalog import KINDS, validate_records
from shared.catalog_files import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    batches,
    catalog_files,
    kind_of,
    read_jsonl,
)

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

    from shared.bus.base import EventBus
    from shared.bus.local_bus import LocalBus
    from shared.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_BAD_LINES, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
MIN_BATCH_BYTES = 1024
MAX_RECORDS_PER_MESSAGE = 5000  # shared.ingestion.MAX_RECORDS: the ingest function's own limit
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
                    f"(expected {', '.join(k + '.jsonl' for k in KINDS)})"
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


# --- the local stack: the ingest function on the in-process bus


class IngestWatch:
    """Counts what the in-process ingest function has done, and what was dead-lettered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records = 0
        self.batches = 0
        self.dead_letters: list[str] = []

    def wrap(self, deliver: Callable[[CloudEvent], None]) -> Callable[[CloudEvent], None]:
        def counted(event: CloudEvent) -> None:
            deliver(event)  # raises on failure: the bus retries, then dead-letters
            records = _records_in(event)
            with self._lock:
                self.records += records
                self.batches += 1

        return counted

    def dead_letter(self, event: CloudEvent) -> None:
        try:
            body = _body_of(event)
            what = f"message {body.get('message_id')}: {body.get('reason')}"
        except (ValueError, TypeError, AttributeError):
            what = f"dead letter {event['id']}"
        with self._lock:
            self.dead_letters.append(what[:500])


def _body_of(event: CloudEvent) -> Any:
    return json.loads(base64.b64decode(event.data["message"]["data"]))


def _records_in(event: CloudEvent) -> int:
    try:
        return len(_body_of(event)["records"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0


def subscribe_ingest(bus: LocalBus, settings: Settings, topic: str) -> IngestWatch:
    """Subscribe the ingest function to `topic` as devserver.build_app does (through its own
    functions-framework app), counting its work, and listen on the dead-letter topics."""
    from functions_framework import create_app

    from shared.bus.local_bus import wsgi_subscriber

    app = create_app(  # type: ignore[no-untyped-call, unused-ignore]
        target="ingest",
        source=str(ROOT / "functions" / "ingest" / "main.py"),
        signature_type="cloudevent",
    )
    watch = IngestWatch()
    bus.subscribe(topic, watch.wrap(wsgi_subscriber(app)), name="ingest")
    for dead in {
        settings.dead_letter_topic(topic),
        settings.dead_letter_topic(settings.ingest_topic),
    }:
        bus.subscribe(dead, watch.dead_letter, name="publish-catalog-dead-letters")
    return watch


def wait_for_ingest(
    bus: LocalBus,
    watch: IngestWatch,
    total: int,
    timeout_s: float,
    progress: Progress | None = None,
) -> bool:
    """Wait until the bus has delivered everything; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        if progress:
            progress(min(watch.records, total), total)
        if bus.drain(0.1):
            if progress:
                progress(min(watch.records, total), total)
            return True
        if time.monotonic() >= deadline:
            return False


# --- the progress bar


class ProgressBar:
    """One line redrawn in place on a terminal; elsewhere a line every 10 %."""

    def __init__(
        self, label: str, stream: IO[str] | None = None, *, unit: str = "records", width: int = 28
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last_text = ""
        self._last_step = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        done = max(0, min(done, total))
        percent = 100 * done // total
        if self.tty:
            filled = self.width * done // total
            bar = "#" * filled + "." * (self.width - filled)
            text = f"{self.label} [{bar}] {percent:3d}% {done}/{total} {self.unit}"
            if text != self._last_text or not self._drawn:
                self.stream.write("\r" + text + "\x1b[K")
                self.stream.flush()
                self._last_text, self._drawn = text, True
            return
        step = percent // 10
        if step > self._last_step:
            self._last_step = step
            self.stream.write(f"{self.label}: {percent}% ({done}/{total} {self.unit})\n")
            self.stream.flush()

    def clear(self) -> None:
        """Rub the line out (before a log line); the next update draws it again."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class _ClearBars(logging.Filter):
    """Before a log line reaches the terminal, rub out the progress bar it would run into."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[ProgressBar] = []

    def filter(self, record: logging.LogRecord) -> bool:
        for bar in self.bars:
            bar.clear()
        return True


@contextlib.contextmanager
def logs_on_stderr(level: str, settings: Settings) -> Iterator[_ClearBars]:
    """The in-process functions log JSON to stdout: send it to stderr, where it cannot mix
    with the summary, at `level` and above; put everything back afterwards."""
    from shared.logs import JsonFormatter, configure_logging

    configure_logging(settings.log_level)
    clear = _ClearBars()
    changed: list[tuple[logging.StreamHandler[Any], Any, int]] = []
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and isinstance(handler.formatter, JsonFormatter):
            changed.append((handler, handler.stream, handler.level))
            _set_stream(handler, sys.stderr)
            handler.setLevel(level)
            handler.addFilter(clear)
    try:
        yield clear
    finally:
        for handler, stream, old_level in changed:
            handler.removeFilter(clear)
            handler.setLevel(old_level)
            _set_stream(handler, stream)


def _set_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    """StreamHandler.setStream, without flushing the old stream (it may be closed)."""
    handler.acquire()
    try:
        handler.stream = stream
    finally:
        handler.release()


# --- the command


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def format_summary(summary: Summary, notes: Sequence[str] = ()) -> str:
    per_kind = ", ".join(f"{k} {n}" for k, n in summary.records.items())
    lines = []
    if summary.dry_run:
        batches_ = _count(summary.batches, "batch", "batches")
        would = f"{batches_}, {summary.bytes} bytes ({_kib(summary.bytes)})"
        lines.append(f"Dry run: nothing was published ({would} would be).")
    elif summary.refused:
        bad = _count(len(summary.bad), "bad line", "bad lines")
        lines.append(f"Refused (--strict): {bad}, nothing was published.")
    elif summary.total_records == 0:
        lines.append("Nothing to publish.")
    else:
        records = _count(summary.total_records, "record", "records")
        lines.append(f"Published {records} to {summary.topic}.")
    published = summary.published
    lines += [
        f"files: {len(summary.files)}",
        f"records: {summary.total_records}" + (f" ({per_kind})" if per_kind else ""),
        f"bad lines: {len(summary.bad)}" + (" (skipped)" if summary.bad and published else ""),
        f"batches published: {summary.batches if published else 0}",
        f"bytes published: {summary.bytes if published else 0}"
        + (f" ({_kib(summary.bytes)})" if published else ""),
        f"topic: {summary.topic}" + (f" ({summary.destination})" if summary.destination else ""),
        *notes,
    ]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.publish_catalog",
        description="Check catalog JSON Lines files and publish them to the ingest topic.",
        epilog="Exit codes: 0 done; 1 bad lines (--dry-run, --strict); 2 usage; "
        "3 publishing or ingesting failed.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=".jsonl file or directory")
    p.add_argument("--kind", choices=KINDS, help="what a single file holds (default: its name)")
    p.add_argument("--dry-run", action="store_true", help="check only; publish nothing")
    p.add_argument("--strict", action="store_true", help="publish nothing if any line is bad")
    p.add_argument("--topic", help="topic to publish to (default: INGEST_TOPIC, 'ingest')")
    p.add_argument(
        "--max-bytes",
        type=int,
        default=MAX_BATCH_BYTES,
        help=f"largest message body, in bytes ({MIN_BATCH_BYTES}-{MAX_BATCH_BYTES}; "
        "default %(default)s)",
    )
    p.add_argument(
        "--max-records",
        type=int,
        default=MAX_BATCH_RECORDS,
        help=f"most records per message (1-{MAX_RECORDS_PER_MESSAGE}; default %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="local bus: seconds to wait for the ingest function (default %(default)s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="local bus: show the functions' INFO logs"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not MIN_BATCH_BYTES <= args.max_bytes <= MAX_BATCH_BYTES:
        return _usage(f"--max-bytes must be {MIN_BATCH_BYTES} to {MAX_BATCH_BYTES}")
    if not 1 <= args.max_records <= MAX_RECORDS_PER_MESSAGE:
        return _usage(f"--max-records must be 1 to {MAX_RECORDS_PER_MESSAGE}")
    if args.timeout <= 0:
        return _usage("--timeout must be positive")
    try:
        catalog = read_catalog(args.paths, kind=args.kind, max_bytes=args.max_bytes)
    except UsageError as e:
        return _usage(str(e))
    except OSError as e:
        return _usage(f"{e.filename or ''}: {e.strerror or e}")

    for problem in catalog.problems:
        print(problem)
    refused = args.strict and bool(catalog.problems)
    if args.dry_run or refused:
        summary = publish_catalog(
            catalog,
            None,
            args.topic or _configured_topic(),
            dry_run=args.dry_run,
            strict=args.strict,
            max_bytes=args.max_bytes,
            max_records=args.max_records,
        )
        print(format_summary(summary))
        return EXIT_BAD_LINES if summary.bad else EXIT_OK
    return _publish(args, catalog)


def _configured_topic() -> str:
    """INGEST_TOPIC, for a dry run's summary (which needs no valid settings otherwise)."""
    from pydantic import ValidationError

    from shared.config import get_settings

    try:
        return get_settings().ingest_topic
    except ValidationError:
        return "ingest"


def _usage(message: str) -> int:
    print(f"publish_catalog: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _publish(args: argparse.Namespace, catalog: Catalog) -> int:
    from pydantic import ValidationError

    from shared import wiring
    from shared.config import get_settings

    try:
        settings = get_settings()
    except ValidationError as e:
        return _usage(f"the settings are not valid: {e}")
    topic = args.topic or settings.ingest_topic
    level = "INFO" if args.verbose else "WARNING"
    with logs_on_stderr(level, settings) as clear_bars:
        try:
            return _publish_to_bus(args, catalog, settings, topic, clear_bars)
        except KeyboardInterrupt:
            print("\nInterrupted: run it again to finish (unchanged records are not rewritten).")
            return EXIT_INTERRUPTED
        finally:
            wiring.reset()  # closes the bus (flushing Pub/Sub) and the store


def _publish_to_bus(
    args: argparse.Namespace,
    catalog: Catalog,
    settings: Settings,
    topic: str,
    clear_bars: _ClearBars,
) -> int:
    from shared import wiring
    from shared.bus.local_bus import LocalBus
    from shared.catalog import read_catalog_meta

    def bar(label: str) -> ProgressBar | None:
        if args.quiet:
            return None
        made = ProgressBar(label)
        clear_bars.bars.append(made)
        return made

    bus = wiring.get_bus()
    local = isinstance(bus, LocalBus)
    watch = subscribe_ingest(bus, settings, topic) if isinstance(bus, LocalBus) else None
    before = read_catalog_meta(wiring.get_store()) if local else None
    project = getattr(bus, "project", None)
    if local:
        destination = "local bus, ingested by this process"
    else:
        destination = f"Pub/Sub, project {project}" if project else str(bus.kind)

    publishing = bar("publishing")
    try:
        summary = publish_catalog(
            catalog,
            bus,
            topic,
            max_bytes=args.max_bytes,
            max_records=args.max_records,
            progress=publishing,
        )
    except PublishFailed as e:
        if publishing:
            publishing.finish()
        e.summary.destination = destination
        print(format_summary(e.summary))
        print(f"publish_catalog: error: {e} (publishing again is safe)", file=sys.stderr)
        return EXIT_FAILED
    if publishing:
        publishing.finish()
    summary.destination = destination

    notes: list[str] = []
    status = EXIT_OK
    if isinstance(bus, LocalBus) and watch is not None:
        ingesting = bar("ingesting")
        done = wait_for_ingest(bus, watch, summary.total_records, args.timeout, ingesting)
        if ingesting:
            ingesting.finish()
        after = read_catalog_meta(wiring.get_store())
        store = settings.sqlite_file if settings.store_kind == "sqlite" else "Firestore"
        ingested = _count(watch.batches, "batch", "batches")
        notes.append(f"ingested: {watch.records} records in {ingested} ({store})")
        if after is not None:
            was = before.version if before else "none"
            kinds = sorted(after.counts, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
            counts = ", ".join(f"{k} {after.counts[k]}" for k in kinds)
            notes.append(f"catalog version: {after.version} (was {was}); {counts}")
        notes.append(f"dead letters: {len(watch.dead_letters)}")
        if not done:
            status = EXIT_FAILED
            notes.append(f"error: the ingest function did not finish in {args.timeout:g} s")
        if watch.dead_letters:
            status = EXIT_FAILED
            notes += [f"dead letter: {d}" for d in watch.dead_letters]
    print(format_summary(summary, notes))
    return status


if __name__ == "__main__":
    sys.exit(main())
