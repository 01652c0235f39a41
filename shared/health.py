"""Health reports: each check runs, is timed, and a failed one makes the whole 'degraded'.

Publicly, `/health` says only that: `{"status": "ok"}` (200) or `{"status": "degraded"}` (503).
What each check found (adapters, models, breakers, counters) would tell an attacker which
fallback is active: it is on `/health/details`, served where only operators reach it: the
local stack, and deployed functions that IAM protects (HEALTH_DETAILS=on; Terraform sets it
on the functions that are not public)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import flask

from shared import errors, wiring
from shared.ai import LOCAL_EMBEDDER_ID, OFFLINE_WRITER_ID
from shared.catalog import read_catalog_meta
from shared.config import get_settings
from shared.httpapi import json_response

log = logging.getLogger("shared.health")
Check = Callable[[], Mapping[str, Any]]


def report(checks: Mapping[str, Check]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    healthy = True
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            result = {"ok": True, **check()}
        except Exception as e:  # a health check reports failures; it never raises
            log.warning("health check %s failed: %s", name, type(e).__name__)
            result = {"ok": False, "error": type(e).__name__}
        result["ms"] = round((time.perf_counter() - started) * 1000, 2)
        healthy = healthy and bool(result["ok"])
        results[name] = result
    return {"status": "ok" if healthy else "degraded", "checks": results}


def public_response(checks: Mapping[str, Check]) -> flask.Response:
    """Status only: 200 when every check passes, 503 when one fails."""
    status = report(checks)["status"]
    return json_response({"status": status}, 200 if status == "ok" else 503)


def details_response(checks: Mapping[str, Check]) -> flask.Response:
    """Every check's findings, where operators only can ask (else no such route: 404)."""
    if not get_settings().health_details_served:
        raise errors.NotFound("No route for GET /health/details.")
    return json_response(report(checks))


def store_check() -> dict[str, Any]:
    store = wiring.get_store()
    store.ping()
    return {"kind": store.kind}


def bus_check() -> dict[str, Any]:
    return {"kind": wiring.get_bus().kind}


def catalog_check() -> dict[str, Any]:
    """Not ok while the catalog is empty: every grounded answer would be "nothing found"."""
    meta = read_catalog_meta(wiring.get_store())
    if meta is None:
        return {"ok": False, "version": 0, "counts": {}}
    return {"ok": any(meta.counts.values()), "version": meta.version, "counts": meta.counts}


def catalog_version_check() -> dict[str, Any]:
    """The catalog's version and counts, for operators (the smoke test sees a change land);
    an empty catalog is no failure here: routing works without one."""
    meta = read_catalog_meta(wiring.get_store())
    return {"version": meta.version if meta else 0, "counts": meta.counts if meta else {}}


def metrics_events_check() -> dict[str, Any]:
    """The per-turn event queue of this instance: published, dropped, failed (never blocks)."""
    publisher = wiring.peek("metrics_publisher")
    return publisher.stats() if publisher is not None else {"started": False}


def model_checks() -> dict[str, Check]:
    """Which models answer, and their circuits; building nothing that is not built yet."""
    settings = get_settings()
    offline = settings.genai_kind == "offline"

    def embedder() -> dict[str, Any]:
        remote = f"{settings.embedding_model}@{settings.embedding_dimensions}"
        model = LOCAL_EMBEDDER_ID if offline else remote
        return _model(settings.genai_kind, model, "embedder")

    def generator() -> dict[str, Any]:
        model = OFFLINE_WRITER_ID if offline else settings.generation_model
        return _model(settings.genai_kind, model, "generator")

    return {"embedder": embedder, "generator": generator}


def _model(kind: str, model: str, breaker: str) -> dict[str, Any]:
    circuit = wiring.get_breaker(breaker).snapshot()
    return {"ok": circuit["state"] != "open", "kind": kind, "model": model, "circuit": circuit}


def router_check() -> dict[str, Any]:
    """The exemplar cache: loaded in this instance yet, how many, which calibration."""
    router = wiring.peek("router")
    if router is None:
        return {"loaded": False}
    return {
        "loaded": True,
        "exemplars": len(router.texts),
        "model": router.embedder.model_id,
        "calibration_version": router.calibration.version,
    }


def basic_checks() -> dict[str, Check]:
    """What every function checks: its store and its bus."""
    return {"store": store_check, "bus": bus_check}
