"""The smoke test's catalog change (--publish-change): one product published through the operator
CLI (scripts.publish_catalog) with a harmless change and seen to move the catalog version, then
published back as it was and seen to move it again (docs/smoke.md, "The catalog change")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.smoke.http import ID_TOKEN_ENV, Failure, Unreachable
from scripts.smoke.steps import FUNCTIONS, Health, internal_only, poll

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the publishing CLI runs from it
PUBLISH_STARTUP_S = 120.0  # the CLI's own start (its imports; on the local bus, the embedder)
# The CLI's report on the local bus: "catalog version: 8 (was 7); products 54, ..."
LOCAL_VERSION = re.compile(r"^catalog version: (?P<now>\d+) \(was (?P<was>\d+|none)\)")


@dataclass
class CatalogChange:
    record_id: str
    original: str  # the record's line, as in the catalog file
    changed: str  # the same record with a harmless change
    source: str  # the function whose health details show the catalog version
    before: int
    attempted: bool = False  # the changed record was handed to the CLI
    seen: int | None = None  # the version after the change, once seen


@dataclass
class Catalog:
    health: Health  # where the catalog version is read
    products: Path  # the catalog's products file
    record_id: str | None
    project: str | None
    topic: str | None
    timeout_s: float  # the bounded wait for each version move (and for the CLI)
    change: CatalogChange | None = None

    def publish_change(self, served: Sequence[Mapping[str, Any]]) -> str | None:
        """Publish one product with a harmless change (one space of its description doubled)
        and wait until the catalog version moves. `served`: the products the turn cited."""
        source = next((f for f in FUNCTIONS if f in self.health.versions), None)
        if source is None:
            internal = self.health.deployment.targets.internal
            raise Failure(
                "no function shows the catalog version (GET /health/details: checks.catalog."
                "version), so a change could not be seen: nothing was published (docs/smoke.md)"
                + "".join(f"; {internal_only(f)}" for f in internal)
            )
        record_id, original, changed = pick_record(self.products, self.record_id, served)
        before = self.health.read_version(source)
        self.change = CatalogChange(record_id, original, changed, source, before)
        self.change.attempted = True
        published = self._publish(changed, before)
        self.change.seen = self._wait_version(source, above=before)
        return (
            f"{record_id} published with a doubled space in its description ({published}); "
            f"catalog version {before} -> {self.change.seen}"
        )

    def restore(self) -> str | None:
        change = self.change
        assert change is not None
        published = self._publish(
            change.original, change.before if change.seen is None else change.seen
        )
        if change.seen is None:
            raise Failure(
                f"{change.record_id} published again as in {self.products} "
                f"({published}), but the change was never seen to land, so the restore cannot be "
                "checked: once the ingest function is healthy, run again with --publish-change"
            )
        after = self._wait_version(change.source, above=change.seen)
        return (
            f"{change.record_id} published as in {self.products} ({published}); "
            f"catalog version {change.seen} -> {after}"
        )

    def _wait_version(self, function: str, *, above: int) -> int:
        version = above

        def attempt() -> int | None:
            nonlocal version
            try:
                version = self.health.read_version(function)
            except Unreachable:
                raise
            except Failure:
                pass  # a degraded moment: the next try may answer
            return version if version > above else None

        moved = poll(attempt, self.timeout_s)
        if moved is None:
            raise Failure(
                f"the catalog version stayed at {version} for {self.timeout_s:g} s "
                "after publishing (the ingest function's logs and the ingest-dead-letter "
                "subscription say why)"
            )
        return moved

    def _publish(self, line: str, shown: int) -> str:
        """One product record through the operator CLI (scripts.publish_catalog): to Pub/Sub
        when the settings say so (--project, GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST), else
        the local stack's bus, which waits until the record is ingested."""
        timeout = self.timeout_s
        with tempfile.TemporaryDirectory(prefix="smoke-") as work:
            path = Path(work) / "products.jsonl"
            path.write_text(line + "\n", encoding="utf-8")
            command = [
                sys.executable, "-m", "scripts.publish_catalog", "--kind", "products",
                "--strict", "--quiet", "--timeout", f"{timeout:g}",
                *(["--topic", self.topic] if self.topic else []),
                str(path),
            ]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if k != ID_TOKEN_ENV}
            if self.project:
                env["GOOGLE_CLOUD_PROJECT"] = self.project
            try:
                done = subprocess.run(
                    command,
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout + PUBLISH_STARTUP_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise Failure(
                    f"scripts.publish_catalog did not finish in {timeout + PUBLISH_STARTUP_S:g} s"
                ) from None
        said = [line for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0:
            complaints = [line for line in done.stderr.splitlines() if line.strip()]
            tail = " / ".join((complaints or said)[-3:]) or "no output"
            raise Failure(f"scripts.publish_catalog exited {done.returncode}: {tail}")
        moved = next((m for m in map(LOCAL_VERSION.match, said) if m), None)
        if moved and moved["was"] != str(shown):
            raise Failure(
                f"scripts.publish_catalog wrote into a local store at version {moved['was']}, "
                f"while the deployment shows version {shown}: it is not the "
                "deployment's store (run from the directory, and with the LOCAL_DIR, that the "
                "local stack uses; for Pub/Sub, give --project or set PUBSUB_EMULATOR_HOST)"
            )
        topic = next((line for line in said if line.startswith("topic: ")), "")
        return topic.removeprefix("topic: ") or "published"


# --- the record a change is made to


def pick_record(
    products: Path, wanted: str | None, served: Sequence[Mapping[str, Any]]
) -> tuple[str, str, str]:
    """(id, its line as in the file, the line with one space of its description doubled).

    The record is --record-id, else the first product the turn cited that the file holds,
    else the file's first. A product the deployment served must have the same name and price
    in the file: otherwise the file is not the catalog deployed, and publishing its record
    back would change the catalog rather than restore it."""
    try:
        text = products.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"{products}: cannot be read ({e})") from None
    lines: dict[str, tuple[str, dict[str, Any]]] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a bad line: the CLI would report it; it is never the one changed
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            description = record.get("description")
            if isinstance(description, str) and " " in description.strip():
                lines.setdefault(record["id"], (line.strip(), record))
    if not lines:
        raise Failure(f"{products}: no product record with a description of several words")
    served_ids = [str(s.get("id")) for s in served]
    if wanted is not None:
        if wanted not in lines:
            raise Failure(
                f"--record-id {wanted}: no such product (with a description) in {products}"
            )
        record_id = wanted
    elif served_ids:
        record_id = next((i for i in served_ids if i in lines), "")
        if not record_id:
            raise Failure(
                f"none of the products the chat cited ({', '.join(served_ids)}) is in {products}: "
                "give the catalog the deployment was loaded from (nothing was published)"
            )
    else:
        record_id = next(iter(lines))
    original, record = lines[record_id]
    for cited in served:
        if str(cited.get("id")) == record_id:
            _same_as_served(record, cited, products)
    description = str(record["description"])
    at = description.rstrip().rindex(" ")
    changed = {**record, "description": description[:at] + " " + description[at:]}
    return record_id, original, json.dumps(changed, ensure_ascii=False)


def _same_as_served(record: Mapping[str, Any], cited: Mapping[str, Any], products: Path) -> None:
    differs = []
    name = record.get("name")
    if isinstance(name, str) and cited.get("name") not in (None, name.strip()):
        differs.append("name")
    price = record.get("price")
    served_price = cited.get("price")
    if (
        isinstance(price, int | float)
        and isinstance(served_price, int | float)
        and round(float(price), 2) != round(float(served_price), 2)
    ):
        differs.append("price")
    if differs:
        raise Failure(
            f"{products} holds another version of {record.get('id')} than the deployment serves "
            f"({' and '.join(differs)} differ): publishing it back would change the catalog, so "
            "nothing was published"
        )
