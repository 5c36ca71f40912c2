"""``mlops promote`` through the real azure-ai-ml client over the scripted service: a version that
passed its gate and staging is shared into the registry and production deploys it from there;
every other version is refused with its reason, and nothing reaches the registry."""

from __future__ import annotations

import json

import pytest

from tests.azure_flows import DEPLOYED_MODEL

REGISTRY = "reg-churn"
GATE = "roc_auc=0.75"
PASSED = {"job_name": "test_334734506738", "metric.roc_auc": "0.86"}
STAGED = {"stage": "staging"}
REGISTRY_ID = f"azureml://registries/{REGISTRY}/models/{DEPLOYED_MODEL}/versions/3"
# The workspace of workspace/get.json: where the shared version comes from.
WORKSPACE_LOCATION = "eastus"
WORKSPACE_GUID = "5881e5dc-6e3e-408e-b99e-754026b4a07b"


def promote(mlops, *extra):
    return mlops(
        "promote",
        "--model",
        f"{DEPLOYED_MODEL}:3",
        "--registry",
        REGISTRY,
        "--min-metric",
        GATE,
        *extra,
    )


def serve_version(azure, tags, properties):
    azure.serve(
        "models/get.json", model_name=DEPLOYED_MODEL, version="3", tags=tags, properties=properties
    )


def serve_registry(azure, file):
    azure.serve("workspace/get.json")
    azure.serve("registries/discovery.json", registry_name=REGISTRY)
    azure.serve(file, registry_name=REGISTRY, model_name=DEPLOYED_MODEL, version="3")


def test_a_version_that_passed_its_gate_and_staging_is_shared_into_the_registry(
    mlops, project, azure
):
    serve_version(azure, STAGED, PASSED)
    serve_registry(azure, "registries/share-model.json")

    result = promote(mlops, "--metadata-out", "outputs/promoted.json")

    assert result.exit_code == 0, result.output
    promoted = json.loads(result.stdout)
    assert promoted["result"] == "promoted"
    assert promoted["model_id"] == REGISTRY_ID
    assert promoted["metrics"] == {"roc_auc": 0.86}
    assert promoted["job_name"] == PASSED["job_name"]
    assert json.loads((project / "outputs/promoted.json").read_text()) == promoted
    (imported,) = azure.requests("POST", f"/registries/{REGISTRY}/import")
    assert imported.json()["properties"] == {
        "referenceType": "Id",
        "destinationName": DEPLOYED_MODEL,
        "destinationVersion": "3",
        "sourceAssetId": f"azureml://locations/{WORKSPACE_LOCATION}/workspaces/{WORKSPACE_GUID}"
        f"/models/{DEPLOYED_MODEL}/versions/3",
    }


def deploy_promoted(mlops, project, paths, promoted_to):
    """The production dry run of the version promote recorded as shared into ``promoted_to``."""
    (project / "outputs").mkdir()
    promoted = {"name": DEPLOYED_MODEL, "version": "3", "registry": promoted_to}
    (project / "outputs/promoted.json").write_text(json.dumps(promoted))
    return mlops(
        "deploy",
        "--endpoint",
        paths.endpoint,
        "--deployment",
        paths.deployment,
        "--model-metadata",
        "outputs/promoted.json",
        "--registry",
        REGISTRY,
        "--dry-run",
    )


def test_production_deploys_the_promoted_version_from_the_registry(mlops, project, paths):
    result = deploy_promoted(mlops, project, paths, REGISTRY)

    assert result.exit_code == 0, result.output
    bodies = [request["body"] or {} for request in json.loads(result.stdout)["requests"]]
    models = [
        body["properties"]["model"] for body in bodies if "model" in body.get("properties", {})
    ]
    assert models == [REGISTRY_ID]


def test_a_version_promoted_to_another_registry_is_refused(mlops, project, paths):
    result = deploy_promoted(mlops, project, paths, "reg-elsewhere")

    assert result.exit_code == 2
    assert "was promoted to registry reg-elsewhere" in result.stderr


def test_a_version_already_in_the_registry_is_left_as_it_is(mlops, project, azure):
    serve_version(azure, STAGED, PASSED)
    serve_registry(azure, "registries/existing-model.json")

    result = promote(mlops)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"] == "already in the registry"
    assert azure.requests("POST") == []


@pytest.mark.parametrize(
    ("tags", "properties", "reason"),
    [
        pytest.param(
            STAGED,
            {"job_name": "j"},
            "it records no roc_auc, so it did not come through the gate",
            id="registered-without-the-gate",
        ),
        pytest.param(
            STAGED,
            {"metric.roc_auc": "0.7"},
            "it failed its gate: roc_auc 0.7 is below the minimum 0.75",
            id="failed-its-gate",
        ),
        pytest.param(
            {}, PASSED, "it was never deployed to staging (its tag stage is not set", id="unstaged"
        ),
        pytest.param(
            {"stage": "archived"},
            PASSED,
            "it was never deployed to staging (its tag stage is 'archived'",
            id="another-stage",
        ),
    ],
)
def test_a_version_that_failed_its_gate_or_staging_is_refused_with_the_reason(
    mlops, project, azure, tags, properties, reason
):
    serve_version(azure, tags, properties)

    result = promote(mlops, "--metadata-out", "outputs/promoted.json")

    assert result.exit_code == 1
    (refusal,) = [line for line in result.stderr.splitlines() if line.startswith("mlops: ")]
    assert refusal.startswith(f"mlops: promotion of {DEPLOYED_MODEL}:3 refused: ")
    assert reason in refusal
    assert result.stdout == ""
    # Only the version was read: nothing went to the registry, nothing was written.
    assert [sent.method for sent in azure.sent] == ["GET"]
    assert not (project / "outputs/promoted.json").exists()


def test_every_reason_is_given_at_once(mlops, project, azure):
    serve_version(azure, {}, {})

    result = promote(mlops)

    assert result.exit_code == 1
    assert "records no roc_auc" in result.stderr
    assert "never deployed to staging" in result.stderr


def test_the_dry_run_shows_the_share_and_what_is_checked_when_sent(dry_run, project):
    document = dry_run(
        "--env",
        "dev",
        "promote",
        "--model",
        f"{DEPLOYED_MODEL}:3",
        "--registry",
        REGISTRY,
        "--min-metric",
        GATE,
    )

    assert document["environment"] == "dev"
    assert document["model_id"] == REGISTRY_ID
    assert document["checked_when_sent"] == ["roc_auc >= 0.75", "tag stage in staging, production"]
    imported = document["requests"][-1]
    assert imported["method"] == "POST"
    assert imported["resource"].endswith(f"/registries/{REGISTRY}/import")
    assert imported["body"]["properties"]["destinationName"] == DEPLOYED_MODEL


@pytest.mark.parametrize("registry", ["rg", "reg.churn", "-reg"])
def test_a_registry_name_azure_refuses_is_refused_before_anything_is_sent(
    mlops, project, azure, registry
):
    result = mlops("promote", "--model", f"{DEPLOYED_MODEL}:3", "--registry", registry)

    assert result.exit_code == 2
    assert result.stderr.startswith(f'mlops: --registry: "{registry}" must be 3 to 33 letters')
    assert azure.sent == []
