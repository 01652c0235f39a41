"""The operator's catalog publisher (scripts/publish_catalog.py), through its real code: the
command line in-process (main(argv)) and as a process, the local bus with the ingest function
subscribed as `make dev` does, and the SQLite store that function writes into."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from scripts import publish_catalog as cli
from scripts.progress import ProgressBar
from shared import wiring
from shared.catalog import publish, read_catalog_meta
from shared.catalog.files import catalog_files, kind_of, read_jsonl
from shared.catalog.watch import IngestWatch
from shared.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "catalog"

PRODUCT = {
    "id": "cof-1",
    "kind": "coffee",
    "name": "Test Roast",
    "description": "Bright and sweet.",
    "price": 12.5,
    "currency": "USD",
    "attributes": {"roast": "light"},
}


def row(i: int, quantity: int = 3) -> dict[str, Any]:
    return {"shop_id": f"shop-{i % 7}", "product_id": f"cof-{i}", "quantity": quantity}


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Records as JSON lines; a str is written as it is (a broken line, a blank one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def store_file() -> Path:
    return Path(os.environ["LOCAL_DIR"]) / "store.sqlite3"


def open_store() -> SqliteStore:
    assert store_file().exists(), "nothing was written to the local store"
    return SqliteStore(str(store_file()))


def summary_of(stdout: str) -> dict[str, str]:
    """The summary's `name: value` lines."""
    out = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name in {
            "files",
            "records",
            "bad lines",
            "batches published",
            "bytes published",
            "topic",
            "ingested",
            "catalog version",
            "dead letters",
        }:
            out[name] = value
    return out


def number(value: str) -> int:
    return int(value.split()[0])


class RecordingBus:
    kind = "recording"

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any], bytes]] = []

    def publish(
        self, topic: str, payload: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None
    ) -> str:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.published.append((topic, json.loads(data), data))
        return str(len(self.published))


# --- checking: dry run, strict, usage


def test_a_dry_run_reports_every_bad_line_and_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog"
    products = write_lines(
        catalog / "products.jsonl",
        [
            PRODUCT,
            {**PRODUCT, "id": "cof-2", "price": -1},
            "",
            '{"id": "cof-3", "kind": ',
            {**PRODUCT, "id": "cof-4", "colour": "red"},
            {**PRODUCT, "id": "cof-5"},
        ],
    )
    inventory = write_lines(catalog / "inventory.jsonl", [row(1), {**row(2), "quantity": "many"}])
    with inventory.open("ab") as f:
        f.write(b'{"shop_id": "s\xff"}\n')  # not UTF-8
        f.write(json.dumps(row(3)).encode() + b"\n")

    code = cli.main(["--dry-run", str(catalog)])

    out = capsys.readouterr().out
    bad = [line for line in out.splitlines() if line.startswith(str(catalog))]
    assert code == cli.EXIT_BAD_LINES
    assert [line.split(": ", 1)[0] for line in bad] == [
        f"{products}:2",
        f"{products}:4",
        f"{products}:5",
        f"{inventory}:2",
        f"{inventory}:3",
    ]
    assert bad[0].startswith(f"{products}:2: price:")
    assert bad[1].startswith(f"{products}:4: not JSON:")
    assert bad[2].startswith(f"{products}:5: colour:")
    assert bad[3].startswith(f"{inventory}:2: quantity:")
    assert bad[4].startswith(f"{inventory}:3: not UTF-8")
    summary = summary_of(out)
    assert summary["files"] == "2"
    assert summary["records"] == "4 (products 2, inventory 2)"
    assert summary["bad lines"] == "5"
    assert summary["batches published"] == "0" and summary["bytes published"] == "0"
    assert "Dry run: nothing was published (2 batches" in out
    assert wiring.peek("bus") is None and not store_file().exists()  # no bus was even built


def test_a_dry_run_of_a_good_file_exits_0_and_publish_paths_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "inventory.jsonl", [row(i) for i in range(5)])
    assert cli.main(["--dry-run", str(path)]) == cli.EXIT_OK
    assert "bad lines: 0" in capsys.readouterr().out
    bus = RecordingBus()
    summary = publish.publish_paths([path], bus, "ingest", dry_run=True)
    assert bus.published == [] and not summary.published
    assert (summary.total_records, summary.batches) == (5, 1)


def test_a_record_too_big_for_one_message_is_a_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(
        tmp_path / "documents.jsonl",
        [
            {"id": "big", "title": "Big", "text": "word " * 1000},
            {"id": "ok", "title": "Ok", "text": "short"},
        ],
    )
    assert cli.main(["--dry-run", "--max-bytes", "2048", str(path)]) == cli.EXIT_BAD_LINES
    out = capsys.readouterr().out
    assert f"{path}:1: the record is " in out and "one message holds at most" in out
    assert summary_of(out)["records"] == "1 (documents 1)"


def test_strict_refuses_to_publish_anything_when_a_line_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "inventory.jsonl", [row(1), row(2), {"shop_id": "x"}])

    assert cli.main(["--strict", "-q", str(path)]) == cli.EXIT_BAD_LINES
    out = capsys.readouterr().out
    assert f"{path}:3: product_id:" in out
    assert "Refused (--strict): 1 bad line, nothing was published." in out
    assert summary_of(out)["batches published"] == "0"
    assert wiring.peek("bus") is None and not store_file().exists()

    # Without --strict the good lines go, and the bad one is reported and skipped.
    assert cli.main(["-q", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"{path}:3: product_id:" in out
    summary = summary_of(out)
    assert summary["bad lines"] == "1 (skipped)" and summary["batches published"] == "1"
    store = open_store()
    assert read_catalog_meta(store).counts == {"inventory": 2}
    assert summary["dead letters"] == "0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{tmp}/missing.jsonl"], "no such file or directory"),
        (["{tmp}/stuff.jsonl"], "unknown kind"),
        (["--kind", "coffee", "{tmp}/stuff.jsonl"], "invalid choice"),
        (["--kind", "products", "{tmp}"], "--kind applies to a single file"),
        (["{tmp}/empty"], "no catalog files"),
        (["--max-bytes", "100", "{tmp}/inventory.jsonl"], "--max-bytes must be"),
        (["--max-records", "0", "{tmp}/inventory.jsonl"], "--max-records must be"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    write_lines(tmp_path / "stuff.jsonl", [row(1)])
    write_lines(tmp_path / "inventory.jsonl", [row(1)])
    (tmp_path / "empty").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main(args) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert wiring.peek("bus") is None


def test_kind_names_what_a_single_file_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "stuff.jsonl", [row(1), row(2)])
    assert cli.main(["--dry-run", "--kind", "inventory", str(path)]) == cli.EXIT_OK
    assert summary_of(capsys.readouterr().out)["records"] == "2 (inventory 2)"


def test_the_process_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.publish_catalog", str(tmp_path / "nope.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "no such file or directory" in done.stderr and done.stdout == ""


# --- publishing through the local bus into the local store


def test_batches_stay_under_the_byte_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row(i, quantity=i) for i in range(120)]
    path = write_lines(tmp_path / "inventory.jsonl", rows)

    bus = RecordingBus()
    summary = publish.publish_paths([path], bus, "ingest", max_bytes=1024)
    sizes = [len(data) for _, _, data in bus.published]
    assert len(bus.published) > 5 and all(size <= 1024 for size in sizes)
    assert max(sizes) > 1024 - 80  # filled, not cut needlessly small
    assert [r for _, batch, _ in bus.published for r in batch["records"]] == rows
    assert {topic for topic, _, _ in bus.published} == {"ingest"}
    assert all(batch["kind"] == "inventory" for _, batch, _ in bus.published)
    assert (summary.batches, summary.bytes) == (len(sizes), sum(sizes))
    assert summary.message_ids == [str(i) for i in range(1, len(sizes) + 1)]

    few = RecordingBus()
    publish.publish_paths([path], few, "ingest", max_records=7)
    assert {len(batch["records"]) for _, batch, _ in few.published} == {7, 120 % 7}

    # The same through the command and the local bus, into the local store.
    assert cli.main(["--max-bytes", "1024", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    numbers = summary_of(out)
    assert number(numbers["batches published"]) == len(sizes)
    assert number(numbers["bytes published"]) == sum(sizes)
    assert numbers["ingested"].startswith(f"120 records in {len(sizes)} batches (")
    store = open_store()
    assert read_catalog_meta(store).counts == {"inventory": 120}
    assert store.get("inventory", "shop-5_cof-40")["quantity"] == 40


def test_the_sample_catalog_is_published_once_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "LOCAL_DIR": str(tmp_path),
        "BUS_BACKEND": "local",  # whatever a developer's .env says
        "STORE_BACKEND": "sqlite",
        "GENAI_BACKEND": "offline",
    }

    def run() -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "scripts.publish_catalog", str(SAMPLE)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert not any(line.startswith("{") for line in done.stdout.splitlines())  # no logs
        return done

    expected: dict[str, list[Any]] = {
        kind_of(path): [line.record for line in read_jsonl(path)[0]]
        for path in catalog_files(SAMPLE)
    }
    counts = {kind: len(records) for kind, records in expected.items()}
    stored = {k: n for k, n in counts.items() if k != "manifest"}  # the manifest sits in meta
    total = sum(counts.values())
    # Small enough for one message per file: the bytes are those messages' bodies.
    message_bytes = sum(
        len(json.dumps({"kind": k, "records": r}, separators=(",", ":")).encode())
        for k, r in expected.items()
    )

    first = run()
    summary = summary_of(first.stdout)
    assert summary["files"] == str(len(counts))
    per_kind = ", ".join(f"{k} {n}" for k, n in counts.items())
    assert summary["records"] == f"{sum(counts.values())} ({per_kind})"
    assert summary["bad lines"] == "0"
    assert summary["batches published"] == str(len(counts))
    assert number(summary["bytes published"]) == message_bytes
    assert summary["topic"].startswith("ingest (local bus")
    assert summary["dead letters"] == "0"
    assert f"publishing: 100% ({total}/{total} records)" in first.stderr  # not a TTY: no \r
    assert f"ingesting: 100% ({total}/{total} records)" in first.stderr
    assert "\r" not in first.stderr

    store = SqliteStore(str(tmp_path / "store.sqlite3"))
    meta = read_catalog_meta(store)
    assert meta is not None and meta.counts == counts
    assert {k: len(store.query(k)) for k in stored} == stored
    assert store.get("products", "cof-101")["embedding"] is not None  # embedded on the way
    assert summary["catalog version"].startswith(f"{meta.version} (was none)")
    store.close()

    second = run()
    again = summary_of(second.stdout)
    assert again["batches published"] == str(len(counts))
    assert again["catalog version"].startswith(f"{meta.version} (was {meta.version})")
    store = SqliteStore(str(tmp_path / "store.sqlite3"))
    assert read_catalog_meta(store) == meta  # nothing was written again
    assert {k: len(store.query(k)) for k in stored} == stored
    store.close()


def test_quiet_draws_no_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "inventory.jsonl", [row(i) for i in range(3)])
    assert cli.main(["--quiet", str(path)]) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert "%" not in captured.err
    assert cli.main([str(path)]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "publishing: 100% (3/3 records)" in err and "ingesting: 100% (3/3 records)" in err


# --- the progress bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_prints_a_line_every_10_percent_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar("publishing", stream)
    for done in range(0, 1001, 7):
        bar(done, 1000)
    bar(1000, 1000)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(0, 101, 10)]
    assert lines[-1] == "publishing: 100% (1000/1000 records)"


def test_the_progress_bar_redraws_one_line_on_a_terminal() -> None:
    stream = Terminal()
    bar = ProgressBar("ingesting", stream, width=10)
    for done in range(0, 11):
        bar(done, 10)
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 11
    assert stream.getvalue().endswith("\ringesting [##########] 100% 10/10 records\x1b[K")
    bar(10, 10)  # unchanged: not drawn again
    assert stream.getvalue().count("\r") == 11
    bar.finish()
    assert stream.getvalue().endswith("\n")


# --- Pub/Sub, when the settings say so


class FakePublisher:
    """google.cloud.pubsub_v1.PublisherClient's surface that PubSubBus uses."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.fail_on = fail_on
        self.stopped = False

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, path: str, data: bytes, **attributes: str) -> Future[str]:
        from google.api_core import exceptions as gexc

        self.messages.append((path, data))
        future: Future[str] = Future()
        if self.fail_on == len(self.messages):
            future.set_exception(gexc.ServiceUnavailable("try later"))
        else:
            future.set_result(f"id-{len(self.messages)}")
        return future

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> FakePublisher:
    from google.cloud import pubsub_v1

    from shared.config import get_settings

    publisher = FakePublisher()
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-project")
    monkeypatch.setattr(pubsub_v1, "PublisherClient", lambda: publisher)
    get_settings.cache_clear()
    return publisher


def test_with_a_project_the_batches_go_to_pub_sub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cloud: FakePublisher
) -> None:
    rows = [row(i) for i in range(40)]
    path = write_lines(tmp_path / "inventory.jsonl", rows)
    assert cli.main(["-q", "--max-records", "15", str(path)]) == cli.EXIT_OK
    summary = summary_of(capsys.readouterr().out)
    assert summary["topic"] == "ingest (Pub/Sub, project demo-project)"
    assert summary["batches published"] == "3"
    assert {p for p, _ in cloud.messages} == {"projects/demo-project/topics/ingest"}
    sent = [json.loads(data) for _, data in cloud.messages]
    assert [r for batch in sent for r in batch["records"]] == rows
    assert number(summary["bytes published"]) == sum(len(d) for _, d in cloud.messages)
    assert cloud.stopped  # flushed and closed before exit
    assert "ingested" not in summary and not store_file().exists()  # the cloud ingests


def test_a_refused_publish_exits_3_saying_what_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cloud: FakePublisher
) -> None:
    cloud.fail_on = 2
    path = write_lines(tmp_path / "inventory.jsonl", [row(i) for i in range(40)])
    assert cli.main(["-q", "--max-records", "15", str(path)]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert summary_of(captured.out)["batches published"] == "1"
    assert "TransientError" in captured.err and "publishing again is safe" in captured.err


def test_a_local_bus_message_carries_the_batch_as_pub_sub_would() -> None:
    """The records the watch counts are read from the event the bus delivers."""
    from shared.bus.local_bus import to_cloud_event

    body = {"kind": "inventory", "records": [row(1), row(2)]}
    message = {
        "data": base64.b64encode(json.dumps(body).encode()).decode(),
        "messageId": "7",
        "publishTime": "2026-11-30T00:00:00Z",
    }
    watch = IngestWatch()
    watch.wrap(lambda event: None)(to_cloud_event("ingest", "ingest", message))
    assert (watch.records, watch.batches) == (2, 1)
