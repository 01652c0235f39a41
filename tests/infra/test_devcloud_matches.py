"""`make dev-cloud` runs each function as Terraform deploys it: the same functions, bundles,
entry points and triggers, and as many requests at once per process (THREADS) as Cloud Run
sends one instance (the function's concurrency)."""

from __future__ import annotations

from pathlib import Path

from scripts.cloudstack import FUNCTIONS, CloudStack, Instance
from tests.infra.terraform_model import Terraform


def test_each_function_runs_with_its_deployed_bundle_entry_point_and_concurrency(
    terraform: Terraform, tmp_path: Path
) -> None:
    defaults = terraform.locals["function_defaults"]
    bundles = terraform.locals["function_bundles"]
    assert {f.name for f in FUNCTIONS} == set(terraform.modules) == set(defaults)
    stack = CloudStack(tmp_path, port=0, build_dir=tmp_path / "build", work_dir=tmp_path / "work")
    for f in FUNCTIONS:
        module = terraform.modules[f.name]
        assert f.bundle == bundles[f.name], f.name
        assert f.target == module["entry_point"], f.name
        trigger = module.get("trigger_topic")
        if f.signature == "cloudevent":  # pushed the same topic's messages
            assert f"google_pubsub_topic.{f.topic[1]}.name" in str(trigger), f.name
        else:
            assert trigger in (None, "null"), f.name
        env = stack.function_env(Instance(f, 0, 9999, tmp_path / "log"))
        assert env["THREADS"] == str(defaults[f.name]["concurrency"]), f.name
        assert env["K_SERVICE"] == f.name and env["FUNCTION_TARGET"] == f.target
        assert env["STORE_BACKEND"] == "firestore" and env["BUS_BACKEND"] == "pubsub"
