"""terraform/, checked offline: it parses, it is typed and described, checkov passes (with our
own check, checkov_checks/), and it declares what the code actually uses (recorded in
conftest.py). The Cloud Build files are test_cloudbuild.py's; exposure, test_exposure.py's."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest

from scripts.stage import FUNCTIONS as BUNDLES
from shared.config import Settings
from shared.store import EXPIRES_AT
from tests.infra.conftest import Usage
from tests.infra.terraform_model import ROOT, TERRAFORM, Terraform, variables_of

DECORATORS = {"http": None, "cloud_event": "event"}
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"


def entry_points(bundle: str) -> dict[str, str]:
    """The functions a bundle's main.py declares: name -> "http" | "cloud_event"."""
    tree = ast.parse((ROOT / "functions" / bundle / "main.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                if isinstance(d, ast.Attribute) and d.attr in DECORATORS:
                    found[node.name] = d.attr
    return found


def test_every_file_parses_and_every_variable_is_typed_and_described(
    terraform: Terraform,
) -> None:
    assert {"variables.tf", "outputs.tf", "functions.tf", "firestore.tf", "pubsub.tf"} <= set(
        terraform.files
    )
    assert any(p.startswith("modules/function/") for p in terraform.files)
    for path, parsed in terraform.files.items():
        for name, body in variables_of(parsed).items():
            assert body.get("type"), f"{path}: variable {name} has no type"
            assert str(body.get("description", "")).strip(), f"{path}: {name} has no description"
    assert (TERRAFORM / "terraform.tfvars.example").is_file()


def test_each_function_has_its_entry_point_runtime_and_trigger(terraform: Terraform) -> None:
    assert len(terraform.modules) == 5
    settings = Settings()
    topics = {settings.ingest_topic, settings.metrics_topic}
    bundles = terraform.locals["function_bundles"]
    for name, body in terraform.modules.items():
        uploaded = re.fullmatch(
            r'\$\{google_storage_bucket_object\.source\["([a-z-]+)"\]\.name\}',
            str(body["source_object"]),
        )
        assert uploaded and uploaded[1] == name, f"{name} is built from {body['source_object']}"
        bundle = bundles[name]
        assert bundle in BUNDLES, f"{name}: no staged bundle {bundle}"
        declared = entry_points(bundle)
        entry = body["entry_point"]
        assert entry in declared, f"{name}: {bundle}/main.py has no entry point {entry}"
        runtime = str(terraform.resolve(body["runtime"]))
        assert runtime.startswith("python3") and int(runtime[len("python3") :]) >= 12
        topic = terraform.resolve(body.get("trigger_topic"))
        if declared[entry] == "cloud_event":
            assert topic is not None, f"{name} takes events but has no trigger"
        else:
            assert topic is None, f"{name} is HTTP but has a trigger"
    triggers = {
        str(terraform.resolve(body["trigger_topic"])): body["entry_point"]
        for body in terraform.modules.values()
        if body.get("trigger_topic") is not None
    }
    assert (
        set(triggers)
        <= {f"${{google_pubsub_topic.{t}.name}}" for t in ("ingest", "metrics")} | topics
    )
    assert sorted(triggers.values()) == ["ingest", "metrics_events"]


def topic_names(terraform: Terraform) -> set[str]:
    return {
        str(terraform.resolve(body["name"])) for _, body in terraform.of_type("google_pubsub_topic")
    }


def test_every_topic_the_code_uses_exists_with_the_same_name(
    terraform: Terraform, usage: Usage
) -> None:
    settings = Settings()
    names = topic_names(terraform)
    expected = {
        settings.ingest_topic,
        settings.metrics_topic,
        settings.dead_letter_topic(settings.ingest_topic),
        settings.dead_letter_topic(settings.metrics_topic),
    }
    assert expected <= names
    assert usage.published and usage.published <= names, usage.published - names
    for _, body in terraform.of_type("google_pubsub_topic"):
        assert body.get("message_retention_duration"), "every topic keeps its messages"


def test_every_collection_the_code_expires_has_a_ttl_policy(
    terraform: Terraform, usage: Usage
) -> None:
    policies = {
        (body["collection"], body["field"])
        for _, body in terraform.of_type("google_firestore_field")
        if "ttl_config" in body
    }
    assert {"sessions", "messages", "response_cache", "rate_limits"} <= usage.expiring
    assert {"processed_events", "metrics_minutes"} <= usage.expiring
    missing = {(c, EXPIRES_AT) for c in usage.expiring} - policies
    assert not missing, f"no TTL policy for {sorted(missing)}"
    for _, body in terraform.of_type("google_firestore_field"):
        if "ttl_config" in body:
            assert "index_config" in body, "a TTL field is exempt from single-field indexes"


def test_every_vector_search_the_code_runs_has_its_index(
    terraform: Terraform, usage: Usage
) -> None:
    dimension = Settings().embedding_dimensions
    assert terraform.resolve("${var.embedding_dimensions}") == dimension
    indexes: dict[str, list[tuple[tuple[str, ...], str, int]]] = {}
    for _, body in terraform.of_type("google_firestore_index"):
        fields = body["fields"]
        vectors = [f for f in fields if "vector_config" in f]
        if not vectors:
            continue
        config = vectors[0]["vector_config"][0]
        size = int(terraform.resolve(config["dimension"]))
        # `__name__` is declared as the server stores the index (else every plan recreates it).
        plain = tuple(
            sorted(
                f["field_path"]
                for f in fields
                if "vector_config" not in f and f["field_path"] != "__name__"
            )
        )
        indexes.setdefault(body["collection"], []).append((plain, vectors[0]["field_path"], size))
    assert {c for c, _, _ in usage.nearest} >= {"products", "shops", "response_cache"}
    # A large catalog's named category is pre-filtered in the store (retrieval `_products`),
    # which the small catalog here never reaches: its index is checked by name.
    by_category = (("category", "embedding_model"), "embedding", dimension)
    assert by_category in indexes["products"], indexes["products"]
    for collection, field_name, where in usage.nearest:
        # The Firestore adapter adds `<field>_model ==` to every find_nearest.
        needed = tuple(sorted({*where, f"{field_name}_model"}))
        assert (needed, field_name, dimension) in indexes.get(collection, []), (
            f"no vector index on {collection}.{field_name} with {needed} and {dimension} dims: "
            f"{indexes.get(collection)}"
        )


def test_every_setting_a_deployed_function_requires_is_provided(terraform: Terraform) -> None:
    for name, body in terraform.modules.items():
        env = {k: str(terraform.resolve(v)) for k, v in (body.get("environment") or {}).items()}
        secrets = dict(body.get("secret_environment") or {})
        unresolved = {k: v for k, v in env.items() if "${" in v}
        assert set(env) - set(unresolved) or env, name
        values = {
            **{k: stand_in(k) for k in unresolved},  # a condition's value: any it may take
            **{k: v for k, v in env.items() if k not in unresolved},
        }
        values.update(dict.fromkeys(secrets, "s" * 40))
        values.update({"K_SERVICE": name, "FUNCTION_TARGET": str(body["entry_point"])})
        known = set(Settings.model_fields) | {"K_SERVICE", "FUNCTION_TARGET"}
        assert {k.lower() for k in values} <= {k.lower() for k in known}, (
            f"{name}: settings the code does not read: {sorted(set(values) - known)}"
        )
        with pytest.MonkeyPatch.context() as mp:
            for key, value in values.items():
                mp.setenv(key, value)
            if "GENAI_BACKEND" in unresolved:
                mp.setenv("GENAI_BACKEND", "vertex")
            Settings()  # raises when a deployed function would refuse to start
        if body["entry_point"] == "chat":
            assert "SESSION_SECRET" in secrets


def stand_in(name: str) -> str:
    """A value for a setting Terraform computes (a condition, an expression, a resource's
    attribute): a number for a number, one of its literals for a fixed set, else any text."""
    field = Settings.model_fields.get(name.lower())
    if field is not None and (field.annotation is int or int in typing.get_args(field.annotation)):
        return "1"
    choices = typing.get_args(field.annotation) if field is not None else ()
    return str(choices[0]) if choices and all(isinstance(c, str) for c in choices) else "x"


CUSTOM_CHECKS = Path(__file__).resolve().parent / "checkov_checks"
PUBLIC_INVOKER_CHECK = "CKV_CYMBAL_1"


def checkov() -> str:
    path = os.environ.get("CHECKOV") or str(ROOT / ".venv-infra" / "bin" / "checkov")
    assert Path(path).exists(), f"checkov is missing at {path}: `make test` installs it"
    return path


def run_checkov(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """checkov on a folder, with our own checks: its failed, passed and skipped checks."""
    done = subprocess.run(
        [
            checkov(),
            "-d",
            str(directory),
            "--external-checks-dir",
            str(CUSTOM_CHECKS),
            "-o",
            "json",
            "--framework",
            "terraform",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report: Any = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    return {
        kind: [c for r in reports for c in r.get("results", {}).get(f"{kind}_checks", [])]
        for kind in ("failed", "passed", "skipped")
    }


def test_checkov_passes_and_every_skip_is_justified(terraform: Terraform) -> None:
    results = run_checkov(TERRAFORM)
    failed, skipped = results["failed"], results["skipped"]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} {c['file_path']}: {c['check_name']}" for c in failed
    )
    for c in skipped:
        reason = str(c.get("check_result", {}).get("suppress_comment", ""))
        assert len(reason.strip()) >= 15, (
            f"{c['check_id']} on {c['resource']} skipped without a reason"
        )
    # Our check ran: every function's invoker grants were looked at, and only chat's allUsers
    # is let through, by its own skip.
    ours = [c for kind in ("passed", "skipped") for c in results[kind]]
    ours = [c for c in ours if c["check_id"] == PUBLIC_INVOKER_CHECK]
    assert {c["resource"].split(".")[1] for c in ours} == set(terraform.modules)
    assert {c["resource"] for c in skipped if c["check_id"] == PUBLIC_INVOKER_CHECK} >= {
        "module.chat.google_cloud_run_v2_service_iam_member.public[0]"
    }
    assert all(c["resource"].startswith("module.chat.") for c in skipped if c in ours)


def test_the_public_invoker_check_fails_allusers_on_a_v2_service(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        """
resource "google_cloud_run_v2_service_iam_member" "open" {
  name     = "svc"
  location = "us-central1"
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloudfunctions2_function_iam_binding" "open" {
  cloud_function = "fn"
  role           = "roles/cloudfunctions.invoker"
  members        = ["serviceAccount:a@p.iam.gserviceaccount.com", "allAuthenticatedUsers"]
}

resource "google_cloud_run_v2_service_iam_member" "named" {
  name     = "svc"
  location = "us-central1"
  role     = "roles/run.invoker"
  member   = "serviceAccount:a@p.iam.gserviceaccount.com"
}
"""
    )
    results = run_checkov(tmp_path)
    by_result = {
        kind: {c["resource"] for c in results[kind] if c["check_id"] == PUBLIC_INVOKER_CHECK}
        for kind in ("failed", "passed")
    }
    assert by_result == {
        "failed": {
            "google_cloud_run_v2_service_iam_member.open",
            "google_cloudfunctions2_function_iam_binding.open",
        },
        "passed": {"google_cloud_run_v2_service_iam_member.named"},
    }
