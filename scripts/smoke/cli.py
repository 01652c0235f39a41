"""The smoke test's command line: its options, where each function is (--url, --<name>-url,
--function-urls; a function Terraform lists as null takes internal traffic only), and main(),
which runs the plan and turns the report into the exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from scripts.smoke.http import ID_TOKEN_ENV, Http, Identity
from scripts.smoke.plan import Options, Smoke
from scripts.smoke.report import Report
from scripts.smoke.steps import FUNCTIONS, Targets

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 1800.0  # the metrics window (SUMMARY_MINUTES) must outlast the wait
DEFAULT_REQUEST_TIMEOUT_S = 30.0
MAX_REQUEST_TIMEOUT_S = 600.0


class UsageError(Exception):
    """Options the command cannot work with (exit code 2)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.smoke",
        description="A short end-to-end check of a running deployment: health, a session, a "
        "streamed turn with sources, history, resume, delete, the metrics counting it.",
        epilog="Exit codes: 0 every step passed; 1 a step failed; 2 usage; 130 interrupted. "
        "See docs/smoke.md.",
    )
    where = p.add_argument_group("where")
    where.add_argument("--url", help="one origin serving /chat, /intent and /metrics")
    where.add_argument(
        "--function-urls",
        type=Path,
        metavar="FILE",
        help="each function's URL: `terraform output -json function_urls` (or every output, "
        "`terraform output -json`: its base_url and direct_function_urls); a function listed "
        "as null takes internal traffic only, and the steps that need it are skipped",
    )
    for function in FUNCTIONS:
        where.add_argument(f"--{function}-url", help=f"the {function} function's own base URL")
    auth = p.add_argument_group("identity (intent and metrics only; never printed)")
    auth.add_argument(
        "--id-token",
        help=f"identity token for internal functions (default: ${ID_TOKEN_ENV}), e.g. from "
        "`gcloud auth print-identity-token`",
    )
    auth.add_argument(
        "--id-token-from-metadata",
        action="store_true",
        help="mint one per function URL from the metadata server (Cloud Build, a VM)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="bounded wait, in s, for the metrics and the catalog version (default %(default)g)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="each request, and each wait for a stream's next event, in s (default %(default)g)",
    )
    change = p.add_argument_group("catalog change (changes the catalog, then restores it)")
    change.add_argument(
        "--publish-change",
        type=Path,
        metavar="CATALOG",
        help="the catalog directory (or products file) the deployment was loaded from: one "
        "product is published with a harmless change, then as it was",
    )
    change.add_argument("--record-id", help="the product to change (default: one the turn cited)")
    change.add_argument(
        "--project", help="publish to Pub/Sub in this project (sets GOOGLE_CLOUD_PROJECT)"
    )
    change.add_argument("--topic", help="the ingest topic (default: INGEST_TOPIC, 'ingest')")
    return p


def _base(url: str, option: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{option}: {url!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise UsageError(f"{option}: {url!r} has a query or fragment")
    return url.rstrip("/")


def products_file(path: Path) -> Path:
    """--publish-change's argument: a catalog directory (its products.jsonl) or the file."""
    found = path / "products.jsonl" if path.is_dir() else path
    if not found.is_file():
        raise UsageError(f"--publish-change: {found} is not a file")
    return found


def _listed(path: Path) -> tuple[dict[str, str | None], str | None]:
    """--function-urls: the functions' URLs (None for one listed as null: it takes internal
    traffic only), and the one origin if the file names one. Either a JSON object of URLs
    (`terraform output -json function_urls` or `direct_function_urls`), or every output
    (`terraform output -json`): its `base_url` (the load balancer's origin, or null) and the
    URLs of `direct_function_urls` (else `function_urls`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"--function-urls: {path}: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--function-urls: {path}: not a JSON object")
    base = None
    if any(isinstance(v, dict) and "value" in v for v in data.values()):  # every output
        outputs = {k: v.get("value") for k, v in data.items() if isinstance(v, dict)}
        base = outputs.get("base_url") if isinstance(outputs.get("base_url"), str) else None
        urls = outputs.get("direct_function_urls")
        data = urls if isinstance(urls, dict) else outputs.get("function_urls")
        if not isinstance(data, dict):
            raise UsageError(f"--function-urls: {path}: no function_urls output")
    listed: dict[str, str | None] = {}
    for function in FUNCTIONS:
        url = data.get(function, "")
        if url is None or (isinstance(url, str) and url):
            listed[function] = url
    return listed, base


def _targets(args: argparse.Namespace) -> Targets:
    """Each function's URL: its --<name>-url, else its entry in --function-urls (null: it takes
    internal traffic only, and no origin serves it), else under the one origin (--url, else the
    file's base_url)."""
    listed, base = _listed(args.function_urls) if args.function_urls else ({}, None)
    if args.url:
        base = args.url
    origin = _base(base, "--url" if args.url else "--function-urls (base_url)") if base else None
    found: dict[str, str | None] = {}
    for function in FUNCTIONS:
        own = getattr(args, f"{function}_url")
        if own:
            found[function] = _base(own, f"--{function}-url")
        elif function in listed:
            url = listed[function]
            found[function] = url and _base(url, f"--function-urls ({function})")
        elif origin:
            found[function] = f"{origin}/{function}"
    missing = [f for f in FUNCTIONS if f not in found]
    if missing:
        raise UsageError(
            f"no URL for {', '.join(missing)}: give --url BASE (one origin serving /chat, "
            "/intent, /metrics), or each function's --<name>-url, or --function-urls FILE"
        )
    return Targets(**found)


def options(args: argparse.Namespace) -> Options:
    if not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} s")
    if not 0 < args.request_timeout <= MAX_REQUEST_TIMEOUT_S:
        raise UsageError(
            f"--request-timeout must be more than 0 and at most {MAX_REQUEST_TIMEOUT_S:g} s"
        )
    token = args.id_token or os.environ.get(ID_TOKEN_ENV) or None
    if token and args.id_token_from_metadata:
        raise UsageError(
            "--id-token (or $SMOKE_ID_TOKEN) and --id-token-from-metadata: one or the other"
        )
    if args.publish_change is None and (args.record_id or args.project or args.topic):
        raise UsageError("--record-id, --project and --topic go with --publish-change")
    products = products_file(args.publish_change) if args.publish_change is not None else None
    return Options(
        targets=_targets(args),
        timeout_s=args.timeout,
        request_timeout_s=args.request_timeout,
        token=token.strip() if token else None,
        token_from_metadata=args.id_token_from_metadata,
        products=products,
        record_id=args.record_id,
        project=args.project,
        topic=args.topic,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        opts = options(args)
    except UsageError as e:
        print(f"smoke: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    identity = Identity(opts.token, opts.token_from_metadata, opts.request_timeout_s)
    report = Report(stream)
    smoke = Smoke(opts, Http(opts.request_timeout_s, identity), report)
    t = opts.targets
    guarded = " and ".join(f for f in ("intent", "metrics") if f not in t.internal)
    auth = f", identity token for {guarded}" if identity.configured and guarded else ""
    where = ", ".join(t.shown(f) for f in FUNCTIONS)
    print(f"smoke test: {where}{auth}", file=stream)
    try:
        smoke.run()
    except KeyboardInterrupt:
        print(report.summary(interrupted=True), file=stream, flush=True)
        return EXIT_INTERRUPTED
    print(report.summary(), file=stream, flush=True)
    return EXIT_OK if report.passed else EXIT_FAILED
