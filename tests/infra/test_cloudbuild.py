"""cloudbuild.yaml (main branch: plan, apply, smoke test) and cloudbuild-plan.yaml (every other
trigger: a plan that changes nothing), read as Cloud Build reads them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.infra.terraform_model import ROOT

MAIN = ROOT / "cloudbuild.yaml"
PLAN_ONLY = ROOT / "cloudbuild-plan.yaml"
# Cloud Build replaces $NAME and ${NAME}; `$$` is a literal `$` for the shell.
SUBSTITUTION = re.compile(r"(?<!\$)\$(?:\{(\w+)\}|(\w+))")
BUILT_IN = {"PROJECT_ID", "BUILD_ID", "PROJECT_NUMBER", "LOCATION", "BRANCH_NAME", "COMMIT_SHA"}


def load(path: Any) -> dict[str, Any]:
    build: dict[str, Any] = yaml.safe_load(path.read_text())
    return build


def step(build: dict[str, Any], step_id: str) -> str:
    """A step's command line, as one string."""
    found = [s for s in build["steps"] if s["id"] == step_id]
    assert len(found) == 1, f"no single step {step_id}"
    return " ".join(str(a) for a in found[0].get("args", []))


def ids(build: dict[str, Any]) -> list[str]:
    return [s["id"] for s in build["steps"]]


@pytest.mark.parametrize("path", [MAIN, PLAN_ONLY], ids=lambda p: p.name)
def test_images_are_pinned_and_every_substitution_is_declared(path: Any) -> None:
    build = load(path)
    for s in build["steps"]:
        image = s["name"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image
    used = set()
    for s in build["steps"]:
        for found in SUBSTITUTION.finditer(json.dumps(s.get("args", []))):
            used.add(found[1] or found[2])
    user = {u for u in used if u.startswith("_")}
    assert used - user <= BUILT_IN, f"{path.name}: shell variables not escaped as $$: {used - user}"
    assert user == set(build["substitutions"]), f"{path.name}: {user ^ set(build['substitutions'])}"
    # A user-specified service account (the trigger's) needs logs in Cloud Logging only.
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"


@pytest.mark.parametrize("path", [MAIN, PLAN_ONLY], ids=lambda p: p.name)
def test_both_run_ci_then_check_the_format_then_plan(path: Any) -> None:
    build = load(path)
    ci = (ROOT / ".ci" / "run").read_text()
    for target in ("make lint", "make test"):
        assert target in ci and target in json.dumps(build["steps"])
    order = ids(build)
    assert order[:7] == [
        "install",
        "lint",
        "test",
        "stage",
        "terraform-fmt",
        "terraform-init",
        "terraform-plan",
    ]
    assert "terraform fmt -check -recursive" in step(build, "terraform-fmt")
    init = step(build, "terraform-init")
    # A committed lock file is enforced, never rewritten by a build.
    assert "-lockfile=readonly" in init and "terraform/.terraform.lock.hcl" in init


def test_the_main_build_waits_for_the_state_lock_applies_only_when_asked_then_smoke_tests() -> None:
    build = load(MAIN)
    plan, apply = step(build, "terraform-plan"), step(build, "terraform-apply")
    assert "-lock-timeout=$_TF_LOCK_TIMEOUT" in plan and "-out=tfplan" in plan
    assert "-lock-timeout=$_TF_LOCK_TIMEOUT" in apply and "apply -input=false" in apply
    assert '[ "$_APPLY" = "true" ]' in apply and build["substitutions"]["_APPLY"] == "false"
    assert re.fullmatch(r"\d+[sm]", build["substitutions"]["_TF_LOCK_TIMEOUT"])
    # The smoke test comes after the apply, against the URLs Terraform reports.
    assert ids(build)[-2:] == ["terraform-apply", "smoke"]
    assert "output -json > build/terraform_outputs.json" in apply
    smoke = step(build, "smoke")
    assert '[ "$_APPLY" != "true" ]' in smoke
    assert '["base_url"]["value"]' in smoke and '--url "$$base"' in smoke
    assert "-m scripts.smoke" in smoke and "--function-urls build/terraform_outputs.json" in smoke


def test_the_plan_only_build_cannot_change_anything() -> None:
    build = load(PLAN_ONLY)
    text = json.dumps(build["steps"])
    assert "apply" not in text and "_APPLY" not in text and "import " not in text
    plan = step(build, "terraform-plan")
    # Its identity can read the state only: no refresh from the live resources, no lock taken.
    assert "-lock=false" in plan and "-refresh=false" in plan and "-out" not in plan
    assert "serviceAccount" not in build, "the trigger names the identity, not the file"
