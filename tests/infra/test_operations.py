"""What running the deployment relies on: each secret pinned at its own version, plans that do
not rebuild unchanged functions, identities that reach only what they use, alerts on events
nobody would otherwise see, a first plan that works on a fresh project, and a README that names
every input."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.hcl_eval import Scope, evaluate
from tests.infra.terraform_model import TERRAFORM, Terraform

PROJECT_LEVEL = "google_project_iam_member"


def defaults(terraform: Terraform, **more: Any) -> dict[str, Any]:
    found = {name: body.get("default") for name, body in terraform.variables.items()}
    found.update(project_id="my-project", **more)
    return found


def test_each_secret_is_pinned_at_a_version_of_its_own(terraform: Terraform) -> None:
    assert "secret_version" not in terraform.variables, "one version for two secrets"
    for name in ("session_secret_version", "gemini_api_key_version"):
        variable = terraform.variables[name]
        assert variable["type"] == "number" and variable["default"] == 1, name
    pinned = defaults(terraform, session_secret_version=3, gemini_api_key_version=7)
    scope = Scope(pinned, terraform.locals)
    assert evaluate("${local.session_secret_env.version}", scope) == 3
    assert evaluate("${local.gemini_api_key_env.version}", scope) == 7
    vertex = Scope(defaults(terraform, genai_backend="vertex"), terraform.locals)
    assert evaluate("${local.gemini_api_key_env}", vertex) is None, "no key on Vertex AI"
    for name in ("chat", "intent", "ingest"):
        secrets = terraform.block("module", "", name)["secret_environment"]
        assert secrets["GEMINI_API_KEY"] == "${local.gemini_api_key_env}", name
    chat = terraform.block("module", "", "chat")["secret_environment"]
    assert chat["SESSION_SECRET"] == "${local.session_secret_env}"
    # The module passes each secret's own version on, never "latest".
    module = terraform.block("resource", "google_cloudfunctions2_function", "this")
    secret = module["service_config"][0]["dynamic"][0]["secret_environment_variables"]
    version = secret["content"][0]["version"]
    assert version == "${tostring(secret_environment_variables.value.version)}"


def test_source_zips_are_read_where_no_depends_on_can_defer_them(terraform: Terraform) -> None:
    """A module called with depends_on defers its data sources to the apply whenever one of the
    dependencies changes: the zips' md5 (the object names) would be unknown, and every
    function rebuilt."""
    for path, kind, rtype, name, _ in terraform.blocks:
        assert not (path.startswith("modules/") and kind == "data"), f"{rtype}.{name} in {path}"
    archive = terraform.block("data", "archive_file", "source")
    assert "depends_on" not in archive
    assert archive["for_each"] == "${local.function_bundles}"
    objects = terraform.block("resource", "google_storage_bucket_object", "source")
    assert objects["name"] == "${each.key}-${data.archive_file.source[each.key].output_md5}.zip"
    assert set(terraform.locals["function_bundles"]) == set(terraform.modules)


def project_roles(terraform: Terraform, account: str) -> dict[str, dict[str, Any]]:
    """Role -> its grant body, for project-level grants to google_service_account.<account>."""
    member = f"serviceAccount:${{google_service_account.{account}.email}}"
    found: dict[str, dict[str, Any]] = {}
    for _, body in terraform.of_type(PROJECT_LEVEL):
        if body["member"] == member and "${" not in str(body["role"]):
            found[str(body["role"])] = body
    for _, kind, rtype, _, body in terraform.blocks:
        if (kind, rtype) == ("resource", PROJECT_LEVEL) and body["member"] == member:
            roles = body.get("for_each")
            if isinstance(roles, str) and roles.startswith("${toset("):
                for role in re.findall(r'"(roles/[^"]+)"', roles):
                    found[role] = body
    return found


def test_the_build_identity_reaches_only_its_sources_and_its_repository(
    terraform: Terraform,
) -> None:
    roles = project_roles(terraform, "build")
    assert set(roles) == {"roles/logging.logWriter", "roles/storage.objectViewer"}
    condition = roles["roles/storage.objectViewer"]["condition"][0]["expression"]
    scope = Scope(defaults(terraform), terraform.locals)
    assert "gcf-v2-sources-${data.google_project.this.number}-${var.region}" in condition
    assert "google_storage_bucket.source.name" in condition and "startsWith" in condition
    pushes = terraform.block(
        "resource", "google_artifact_registry_repository_iam_member", "build_pushes_images"
    )
    assert pushes["role"] == "roles/artifactregistry.writer"
    assert pushes["repository"] == "${google_artifact_registry_repository.functions.name}"
    for name in terraform.modules:
        call = terraform.block("module", "", name)
        assert call["docker_repository"] == "${google_artifact_registry_repository.functions.id}"
        assert call["build_service_account"] == "${google_service_account.build.id}"
    assert evaluate("${local.function_bundles}", scope)["metrics-events"] == "metrics"


def test_the_plan_only_identity_can_read_and_nothing_more(terraform: Terraform) -> None:
    assert set(project_roles(terraform, "plan")) == {"roles/logging.logWriter", "roles/browser"}
    state = terraform.block("resource", "google_storage_bucket_iam_member", "plan_reads_state")
    assert state["role"] == "roles/storage.objectViewer"
    assert state["bucket"] == "${var.terraform_state_bucket}"
    for _, kind, rtype, name, body in terraform.blocks:
        if kind == "resource" and "plan.email" in str(body.get("member")):
            assert name.startswith("plan"), f"{rtype}.{name} grants the plan-only identity more"


def test_a_fresh_project_can_be_planned(terraform: Terraform) -> None:
    """data.google_project needs Cloud Resource Manager: on a fresh project the read waits for
    the API (an unknown value at plan time) instead of failing the first plan."""
    project = terraform.block("data", "google_project", "this")
    assert project["depends_on"] == ["${google_project_service.resource_manager}"]
    manager = terraform.block("resource", "google_project_service", "resource_manager")
    assert manager["service"] == "cloudresourcemanager.googleapis.com"
    apis = terraform.block("resource", "google_project_service", "apis")
    assert apis["depends_on"] == ["${google_project_service.resource_manager}"]
    assert "cloudresourcemanager.googleapis.com" not in str(terraform.locals["apis"])
    for mode, compute in (("none", False), ("load_balancer", True)):
        scope = Scope(defaults(terraform, web_hosting=mode), terraform.locals)
        apis_on = evaluate("${local.apis}", scope)
        assert "monitoring.googleapis.com" in apis_on
        assert ("compute.googleapis.com" in apis_on) is compute


def eventarc_subscription(region: str, function: str) -> str:
    """The name Eventarc gives a gen2 function's Pub/Sub subscription."""
    return f"eventarc-{region}-{function}-481516-sub-342"


def test_every_trigger_and_every_dead_letter_topic_has_an_alert(terraform: Terraform) -> None:
    region = terraform.variables["region"]["default"]
    triggered = {
        name for name, body in terraform.modules.items() if body.get("trigger_topic") is not None
    }
    assert set(terraform.locals["triggered_functions"]) == triggered == {"ingest", "metrics-events"}
    backlog = terraform.block("resource", "google_monitoring_alert_policy", "trigger_backlog")
    assert backlog["for_each"] == "${local.triggered_functions}"
    threshold = backlog["conditions"][0]["condition_threshold"][0]
    assert threshold["threshold_value"] == "${var.trigger_backlog_alert_s}"
    assert (
        terraform.variables["trigger_backlog_alert_s"]["default"]
        < terraform.variables["max_event_age_s"]["default"]
    )
    topics = evaluate("${local.triggered_functions}", Scope(defaults(terraform), terraform.locals))
    for function in triggered:
        each = {"key": function, "value": topics[function]}
        scope = Scope(defaults(terraform), terraform.locals, each=each)
        text = evaluate(threshold["filter"], scope)
        assert "subscription/oldest_unacked_message_age" in text
        pattern = re.search(r'monitoring\.regex\.full_match\("([^"]+)"\)', text)
        assert pattern, text
        for other in triggered | {"metrics", "chat"}:
            matches = re.fullmatch(pattern[1], eventarc_subscription(region, other)) is not None
            assert matches is (other == function), f"{function}'s alert and {other}"
    reviews = {
        str(terraform.resolve(body["name"]))
        for _, body in terraform.of_type("google_pubsub_subscription")
    }
    dead = terraform.block("resource", "google_monitoring_alert_policy", "dead_letters")
    assert dead["for_each"] == "${local.dead_letter_reviews}"
    watched = set()
    root = Scope(defaults(terraform), terraform.locals)
    for key, name in evaluate("${local.dead_letter_reviews}", root).items():
        scope = Scope(defaults(terraform), terraform.locals, each={"key": key, "value": name})
        text = evaluate(dead["conditions"][0]["condition_threshold"][0]["filter"], scope)
        assert f'subscription_id = "{name}"' in text and "num_undelivered_messages" in text
        watched.add(name)
    assert watched == reviews, "every dead-letter review subscription, and only those"
    for policy in (backlog, dead):
        assert policy["notification_channels"] == "${local.alert_channels}"


def test_the_readme_names_every_input_and_how_to_run_terraform(terraform: Terraform) -> None:
    readme = (TERRAFORM / "README.md").read_text()
    missing = [name for name in terraform.variables if f"`{name}`" not in readme]
    assert not missing, f"terraform/README.md does not name {missing}"
    for must in (
        ".terraform.lock.hcl",
        "terraform providers lock",
        "-lock-timeout",
        "cloudbuild-plan.yaml",
        "--external-checks-dir tests/infra/checkov_checks",
    ):
        assert must in readme, must
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    assert re.search(r'^web_hosting\s*=\s*"none"', example, re.M), "the example's web_hosting"
    assert not re.search(r"^secret_version\s*=", example, re.M), "one version for two secrets"
