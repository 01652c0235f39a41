"""A checkov check the stock set lacks: CKV_GCP_102 looks at the v1 Cloud Run IAM resources only,
so allUsers on a gen2 function (its Cloud Run v2 service, or the function itself) passed
unseen. Loaded with `checkov --external-checks-dir tests/infra/checkov_checks` (tests/infra/ and
terraform/README.md, "Checks")."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

PUBLIC = ("allUsers", "allAuthenticatedUsers")
MEMBER_RESOURCES = (
    "google_cloud_run_v2_service_iam_member",
    "google_cloudfunctions2_function_iam_member",
)
BINDING_RESOURCES = (
    "google_cloud_run_v2_service_iam_binding",
    "google_cloudfunctions2_function_iam_binding",
)


def members_of(conf: dict[str, list[Any]]) -> list[str]:
    """The principals a member or binding grants, as checkov reads them (each value a list)."""
    found: list[str] = []
    for key in ("member", "members"):
        for value in conf.get(key) or []:
            found.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return found


class CloudRunV2NotPublic(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Cloud Run v2 services and gen2 functions are not invocable by "
            "allUsers or allAuthenticatedUsers",
            id="CKV_CYMBAL_1",
            categories=(CheckCategories.IAM,),
            supported_resources=MEMBER_RESOURCES + BINDING_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["member", "members"]
        if any(member in PUBLIC for member in members_of(conf)):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = CloudRunV2NotPublic()
