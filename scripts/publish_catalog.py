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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.progress import ClearBars, ProgressBar, logs_on_stderr
from shared.catalog import KINDS
from shared.catalog.files import MAX_BATCH_BYTES, MAX_BATCH_RECORDS
from shared.catalog.publish import (
    MAX_RECORDS_PER_MESSAGE,
    MIN_BATCH_BYTES,
    Catalog,
    PublishFailed,
    Summary,
    UsageError,
    publish_catalog,
    read_catalog,
)
from shared.catalog.watch import subscribe_ingest, wait_for_ingest

if TYPE_CHECKING:
    from shared.config import Settings

EXIT_OK, EXIT_BAD_LINES, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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
    clear_bars: ClearBars,
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
