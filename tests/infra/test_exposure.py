"""Who can reach what, under every setting of the variables that open something: allUsers and
ingress ALLOW_ALL appear where a variable asks for them and nowhere else, the page's origin
is its own, and the functions let in exactly the origins Terraform means (never the local
stack's). The expressions are evaluated (hcl_eval.py), not pattern-matched."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.config import Settings
from tests.infra.hcl_eval import EvalError, Scope, Unknown, evaluate
from tests.infra.terraform_model import Terraform

PUBLIC = ("allUsers", "allAuthenticatedUsers")
OPEN_INGRESS = "ALLOW_ALL"
DOMAIN = "shop.example.com"
PROJECT = "my-project"
INVOKER = "serviceAccount:router@my-project.iam.gserviceaccount.com"
BROWSER_FUNCTIONS = ("chat", "intent", "metrics")


@dataclass(frozen=True)
class Setting:
    web_hosting: str
    intent_public: bool
    metrics_public: bool
    intent_invokers: bool
    metrics_invokers: bool

    @property
    def load_balancer(self) -> bool:
        return self.web_hosting == "load_balancer"

    def public(self, function: str) -> bool:
        return function == "chat" or bool(getattr(self, f"{function}_public", False))

    def invokers(self, function: str) -> bool:
        return bool(getattr(self, f"{function}_invokers", False))


FLAGS = (False, True)
SETTINGS = [
    Setting(*values)
    for values in itertools.product(("none", "bucket", "load_balancer"), *[FLAGS] * 4)
]


def values(terraform: Terraform, setting: Setting, **more: Any) -> dict[str, Any]:
    found = {name: body.get("default") for name, body in terraform.variables.items()}
    found.update(
        project_id=PROJECT,
        web_hosting=setting.web_hosting,
        web_domain=DOMAIN if setting.load_balancer else None,
        intent_public=setting.intent_public,
        metrics_public=setting.metrics_public,
        intent_invokers=[INVOKER] if setting.intent_invokers else [],
        metrics_invokers=[INVOKER] if setting.metrics_invokers else [],
    )
    found.update(more)
    return found


def module_scope(terraform: Terraform, root: Scope, name: str, needed: set[str]) -> Scope:
    """The module variables `needed`, as the module's call in the root sets them (or their
    defaults)."""
    defaults = {
        var: body.get("default")
        for path, parsed in terraform.files.items()
        if path.startswith("modules/function/")
        for block in parsed.get("variable", [])
        for var, body in block.items()
    }
    call = terraform.block("module", "", name)
    return Scope({v: evaluate(call[v], root) if v in call else defaults[v] for v in needed})


def count_of(body: dict[str, Any], scope: Scope) -> int:
    """How many instances a resource block makes: its count, or 1 (for_each is not used on
    the grants read here)."""
    assert "for_each" not in body or body.get("member") not in PUBLIC
    return int(evaluate(body.get("count", 1), scope))


def public_grants(terraform: Terraform, setting: Setting) -> set[str]:
    """What allUsers (or allAuthenticatedUsers) may reach: module names and root resources."""
    root = Scope(values(terraform, setting), terraform.locals)
    found = set()
    for path, kind, rtype, name, body in terraform.blocks:
        if kind != "resource" or body.get("member") not in PUBLIC:
            continue
        if path.startswith("modules/function/"):
            needed = set(re.findall(r"var\.(\w+)", str(body.get("count", ""))))
            for module in terraform.modules:
                if count_of(body, module_scope(terraform, root, module, needed)):
                    found.add(module)
        elif count_of(body, root):
            found.add(f"{rtype}.{name}")
    return found


def ingress(terraform: Terraform, setting: Setting) -> dict[str, str]:
    root = Scope(values(terraform, setting), terraform.locals)
    return {
        name: evaluate(terraform.block("module", "", name)["ingress"], root)
        for name in terraform.modules
    }


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_allusers_only_where_a_variable_asks(terraform: Terraform, setting: Setting) -> None:
    expected = {f for f in BROWSER_FUNCTIONS if setting.public(f)}
    if setting.web_hosting != "none":
        expected.add("google_storage_bucket_iam_member.web_public_read")
    assert public_grants(terraform, setting) == expected


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_ingress_is_open_only_where_a_variable_asks(terraform: Terraform, setting: Setting) -> None:
    found = ingress(terraform, setting)
    for name, value in found.items():
        if name not in BROWSER_FUNCTIONS:
            assert value == "ALLOW_INTERNAL_ONLY", f"{name}: only Eventarc delivers to it"
            continue
        public, named = setting.public(name), setting.invokers(name)
        if public and setting.load_balancer:
            expected = "ALLOW_INTERNAL_AND_GCLB"  # the load balancer alone, Cloud Armor in front
        elif public or named:
            expected = OPEN_INGRESS
        else:
            expected = "ALLOW_INTERNAL_ONLY"
        assert value == expected, f"{name} under {setting}"


def occurrences(value: Any, where: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(value, str):
        if any(token in value for token in (*PUBLIC, OPEN_INGRESS)):
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "__comments__":  # python-hcl2 keeps the comments
                yield from occurrences(item, (*where, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from occurrences(item, where)


def test_allusers_and_allow_all_are_written_in_the_known_places_only(
    terraform: Terraform,
) -> None:
    """The checks above evaluate the places below; anything new elsewhere fails here until a
    check covers it. Variable blocks only declare (validations, descriptions); moved blocks
    name state addresses."""
    found = {
        (path, *where)
        for path, parsed in terraform.files.items()
        for kind, blocks in parsed.items()
        if kind not in ("variable", "moved", "__comments__")
        for block in blocks
        for where in occurrences(block, (kind,))
    }
    assert found == {
        ("modules/function/main.tf", "resource", "google_cloud_run_v2_service_iam_member", "public",
         "member"),
        ("hosting.tf", "resource", "google_storage_bucket_iam_member", "web_public_read",
         "member"),
        ("functions.tf", "locals", "ingress", "chat"),
        ("functions.tf", "locals", "ingress", "intent"),
        ("functions.tf", "locals", "ingress", "metrics"),
    }  # fmt: skip
    for name in BROWSER_FUNCTIONS:
        assert terraform.block("module", "", name)["ingress"] == f'${{local.ingress["{name}"]}}'


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_functions_behind_the_load_balancer_count_its_hop(
    terraform: Terraform, setting: Setting
) -> None:
    """FORWARDED_HOPS: 2 where the load balancer serves the function (it appends the client's
    address and its own), else 1; and the load balancer routes exactly those functions."""
    root = Scope(values(terraform, setting), terraform.locals)
    routed = set(evaluate("${local.lb_functions}", root))
    gclb = {n for n, v in ingress(terraform, setting).items() if v == "ALLOW_INTERNAL_AND_GCLB"}
    assert routed == gclb
    for name in BROWSER_FUNCTIONS:
        env = terraform.block("module", "", name)["environment"]
        hops = evaluate(env, root)["FORWARDED_HOPS"] if isinstance(env, dict) else None
        hops = hops if hops is not None else evaluate(f'${{local.forwarded_hops["{name}"]}}', root)
        assert hops == (2 if name in routed else 1), f"{name} under {setting}"


def cors_value(terraform: Terraform, **variables: Any) -> str:
    setting = Setting(variables.pop("web_hosting"), False, False, False, False)
    root = Scope(values(terraform, setting, **variables), terraform.locals)
    value = evaluate("${local.cors_allowed_origins}", root)
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize(
    ("web_hosting", "operator", "expected"),
    [
        ("none", [], []),
        ("none", ["https://shop.example.com"], ["https://shop.example.com"]),
        ("bucket", [], [f"https://{PROJECT}-cymbal-web.storage.googleapis.com"]),
        ("load_balancer", [], [f"https://{DOMAIN}"]),
        (
            "load_balancer",
            ["https://a.example.com"],
            ["https://a.example.com", f"https://{DOMAIN}"],
        ),
    ],
)
def test_the_functions_let_in_the_origins_terraform_means_and_never_the_local_ones(
    terraform: Terraform, web_hosting: str, operator: list[str], expected: list[str]
) -> None:
    value = cors_value(terraform, web_hosting=web_hosting, cors_allowed_origins=operator)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORS_ALLOWED_ORIGINS", value)
        assert Settings().allowed_origins == expected  # as the deployed code reads it
    # The page's origin is its own: never the storage.googleapis.com every bucket shares.
    assert "https://storage.googleapis.com" not in expected


def test_the_hosted_page_calls_the_functions_where_they_are(terraform: Terraform) -> None:
    lb = Scope(values(terraform, SETTINGS[-1]), terraform.locals)
    assert evaluate("${local.page_functions}", lb) == {f: f"/{f}" for f in BROWSER_FUNCTIONS}, (
        "same origin: the paths the URL map routes"
    )
    rules = terraform.block("resource", "google_compute_url_map", "web")["path_matcher"][0]
    route = rules["dynamic"][0]["route_rules"]["content"][0]
    assert route["match_rules"][0]["prefix_match"] == "/${route_rules.key}/"
    assert route["route_action"][0]["url_rewrite"][0]["path_prefix_rewrite"] == "/"
    bucket = Scope(values(terraform, SETTINGS[len(SETTINGS) // 3]), terraform.locals)
    assert evaluate("${local.web_bucket_name}", bucket) == f"{PROJECT}-cymbal-web"
    assert set(evaluate("${local.page_functions}", bucket).values()) == {Unknown}, (
        "each function's own URL, known after apply"
    )


def test_the_expression_reader_refuses_what_it_cannot_read(terraform: Terraform) -> None:
    scope = Scope({"on": True, "off": False, "name": None, "items": ["a"]})
    assert evaluate('${var.on ? "x-${length(var.items)}" : "https://${var.name}"}', scope) == "x-1"
    assert evaluate("${!var.on || var.off ? 1 : 2}", scope) == 2
    with pytest.raises(EvalError, match="null in a string template"):
        evaluate("https://${var.name}", scope)
    with pytest.raises(EvalError, match="not known here"):
        evaluate("${fileset(var.name, var.name)}", scope)
    with pytest.raises(EvalError, match=r"no var\.missing"):
        evaluate("${var.missing}", scope)
    with pytest.raises(EvalError, match="for expressions"):
        evaluate("${[for x in var.items : x]}", scope)
