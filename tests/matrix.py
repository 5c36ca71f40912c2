"""The option combinations the template supports, and the ones it refuses.

Each supported bake has a readable id; tests that need a project ask for it by id. The rejected list
names, for each combination, the options the refusal must name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from jinja2 import Environment

from locations import MODEL_TEMPLATE_DIR, REPO_ROOT

# cookiecutter.json as written: defaults, choices and the template's own settings.
TEMPLATE_CONTEXT = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
# The model template's cookiecutter.json, which the project template renders (its defaults are the
# project's answers): rendered here with the project's defaults.
MODEL_TEMPLATE_CONTEXT = json.loads(
    Environment()
    .from_string((MODEL_TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    .render(cookiecutter=TEMPLATE_CONTEXT)
)

HOSTILE_PROSE = {
    "project_name": 'Churn "Prévision" #1: {{ 7*7 }} ${{ secrets.X }} {% raw %} — 😀',
    "description": "- &anchor *alias !tag | > key: value # not a comment 'single' \"double\" \\ {#",
    "author": "Zoë O'Brien <zoe@example.com>, Équipe ⟨ML⟩ {{ cookiecutter.project_slug }}",
}


# YAML 1.1 reads these as numbers or booleans unless they are quoted; every one passes the hook.
YAML_LOOKALIKE_NAMES = {
    "project_slug": "yes",
    "resource_group": "1_000",
    "workspace_name": "0777",
    "registry_name": "0x1f",
    "compute_name": "true",
    "experiment_name": "2024",
    "model_name": "12345",
    "online_endpoint_name": "null",
}


@dataclass(frozen=True)
class Bake:
    id: str
    answers: dict = field(default_factory=dict)
    runs_project_tests: bool = False


SUPPORTED = (
    Bake("defaults"),
    Bake("azure-devops", {"ci_provider": "azure-devops"}),
    Bake("both-providers", {"ci_provider": "both"}),
    # A long name too: the batch endpoint names derived from it must fit in 32 characters.
    Bake(
        "batch-only",
        {
            "deployment": "batch",
            "project_name": "Nightly scoring of customer churn risk for all regions",
        },
    ),
    # Both providers: a project that deploys nothing has CI/CD that ends at registration.
    Bake("no-deployment", {"deployment": "none", "ci_provider": "both"}),
    Bake("no-ci", {"ci_provider": "none"}),
    Bake("python-3.12", {"python_version": "3.12"}),
    # The generated project's whole suite runs once, here, with a second model added: names other
    # than the defaults (the slug of this prose) catch a test that hard-codes them; both providers'
    # CI/CD, both deployment kinds (online and batch scoring) and a production workspace of its
    # own are present. The other
    # combinations change files the template's own tests check for every bake (specs, CI/CD,
    # text), not what the project's suite tests.
    Bake(
        "hostile-prose",
        {
            **HOSTILE_PROSE,
            "ci_provider": "both",
            "deployment": "both",
            "prod_resource_group": "rg-churn-prod",
            "prod_workspace_name": "mlw-churn-prod",
        },
        runs_project_tests=True,
    ),
    Bake("yaml-lookalike-names", YAML_LOOKALIKE_NAMES),
    Bake(
        "long-name-gpu-region",
        {
            "project_name": "Predictive maintenance of wind turbine gearboxes across all sites",
            "azure_location": "swedencentral",
            "vm_size": "Standard_NC4as_T4_v3",
            "max_nodes": "8",
            "retrain_cron": "30 1 1,15 * *",
            "alert_email": "wind.oncall+gearbox@contoso-energy.co.uk",
        },
    ),
)
SUPPORTED_BY_ID = {bake.id: bake for bake in SUPPORTED}


@dataclass(frozen=True)
class Rejected:
    id: str
    answers: dict
    named_options: tuple[str, ...]


REJECTED = (
    Rejected("slug-with-space", {"project_slug": "my project"}, ("project_slug",)),
    Rejected("slug-with-path", {"project_slug": "a/b"}, ("project_slug",)),
    Rejected("slug-parent-dir", {"project_slug": ".."}, ("project_slug",)),
    Rejected("slug-empty", {"project_slug": ""}, ("project_slug",)),
    Rejected("slug-starts-with-digit", {"project_slug": "1churn"}, ("project_slug",)),
    Rejected("empty-project-name", {"project_name": "  "}, ("project_name",)),
    Rejected("multi-line-description", {"description": "one\ntwo"}, ("description",)),
    Rejected("unknown-region", {"azure_location": "West Europe"}, ("azure_location",)),
    Rejected("registry-with-a-dot", {"registry_name": "reg.churn"}, ("registry_name",)),
    Rejected("compute-digit-after-dash", {"compute_name": "cpu-1"}, ("compute_name",)),
    Rejected("workspace-too-short", {"workspace_name": "ws"}, ("workspace_name",)),
    Rejected("vm-size-typo", {"vm_size": "DS3_v2"}, ("vm_size",)),
    Rejected("zero-nodes", {"max_nodes": "0"}, ("max_nodes",)),
    Rejected(
        "endpoint-double-dash", {"online_endpoint_name": "churn--api"}, ("online_endpoint_name",)
    ),
    Rejected(
        "same-endpoint-twice",
        {"online_endpoint_name": "churn-api", "staging_endpoint_name": "Churn-API"},
        ("staging_endpoint_name",),
    ),
    Rejected("unsupported-python", {"python_version": "3.9"}, ("python_version",)),
    Rejected("unknown-ci-provider", {"ci_provider": "jenkins"}, ("ci_provider",)),
    Rejected("unknown-deployment", {"deployment": "serverless"}, ("deployment",)),
    Rejected("cron-with-seconds", {"retrain_cron": "0 0 3 * * 1"}, ("retrain_cron",)),
    Rejected("alert-email-list", {"alert_email": "a@example.com, b@example.com"}, ("alert_email",)),
    Rejected(
        "several-problems-at-once",
        {"resource_group": "rg.", "model_name": "-model", "experiment_name": "exp/1"},
        ("resource_group", "model_name", "experiment_name"),
    ),
)
