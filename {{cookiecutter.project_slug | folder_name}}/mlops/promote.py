"""``mlops promote``: share a registered model version from the dev workspace into an Azure ML
registry, from which production deploys it as
``azureml://registries/<registry>/models/<name>/versions/<version>``: the very version that passed
in dev, with its tags, metrics and lineage (the registry keeps a reference to the job that trained
it), never a copy retrained elsewhere.

A version is promoted only when it passed its gate and reached staging: it records each gated
metric (``metric.<name>``, as ``mlops register`` and the pipeline's register step record them) at
or above its minimum, and carries the tag ``stage=staging`` (or ``stage=production``) that a
successful ``mlops deploy --stage staging`` gives it. Otherwise nothing is shared, and the reasons
are said (exit 1). A version already in the registry is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops import gate, payloads
from mlops.deploy import STAGE_TAG
from mlops.errors import GateRefused
from mlops.metadata import ModelMetadata, write_json
from mlops.naming import require_valid_name
from mlops.output import say

# The stages a version reaches after a good staging rollout (production follows staging).
STAGED = ("staging", "production")
# azure-ai-ml's refusal, before it sends the import, of a version the registry already holds.
ALREADY_IN_REGISTRY = "already exists in registry"
# The workspace's location and id, which the asset id of the shared version names.
WORKSPACE_LOCATION = "<workspace location>"
WORKSPACE_GUID = "<workspace id>"


def registry_model_id(registry: str, name: str, version: str) -> str:
    return f"azureml://registries/{registry}/models/{name}/versions/{version}"


@dataclass(frozen=True)
class Promotion:
    model: ModelMetadata
    registry: str
    thresholds: list[tuple[str, float]]

    @property
    def model_id(self) -> str:
        return registry_model_id(self.registry, self.model.name, self.model.version)


def build_promotion(model: ModelMetadata, registry: str, min_metrics: tuple[str, ...]) -> Promotion:
    require_valid_name("--registry", registry, "registry")
    return Promotion(model, registry, [gate.parse_threshold(text) for text in min_metrics])


def refusals(promotion: Promotion, version: Any) -> list[str]:
    """Why ``version`` (the dev workspace's model version) may not be promoted; empty if it may."""
    reasons = []
    for metric, minimum in promotion.thresholds:
        value = gate.recorded_metric(version, metric)
        if value is None:
            reasons.append(
                f"it records no {metric}, so it did not come through the gate "
                f"(mlops register and the pipeline's register step record it)"
            )
        elif value < minimum:
            reasons.append(
                f"it failed its gate: {metric} {value:g} is below the minimum {minimum:g}"
            )
    stage = (version.tags or {}).get(STAGE_TAG)
    if stage not in STAGED:
        reasons.append(
            f"it was never deployed to staging (its tag {STAGE_TAG} is "
            + (f"{stage!r}" if stage else "not set")
            + f"; a good `mlops deploy --stage staging` sets {STAGE_TAG}=staging)"
        )
    return reasons


def check(promotion: Promotion, version: Any) -> None:
    reasons = refusals(promotion, version)
    if reasons:
        raise GateRefused(
            f"promotion of {promotion.model.reference} refused: " + "; ".join(reasons)
        )


def promote(client: Any, promotion: Promotion, metadata_out: Path | None) -> dict[str, Any]:
    model = promotion.model
    say(f"model {model.reference}: checking its gate and stage in the workspace ...")
    version = client.models.get(name=model.name, version=model.version)
    check(promotion, version)
    # share() waits for the registry's import to finish.
    say(f"model {model.reference}: sharing it into registry {promotion.registry} ...")
    try:
        client.models.share(
            name=model.name,
            version=model.version,
            registry_name=promotion.registry,
            share_with_name=model.name,
            share_with_version=model.version,
        )
        outcome = "promoted"
    except Exception as exc:
        if ALREADY_IN_REGISTRY not in str(getattr(exc, "message", "") or exc):
            raise
        outcome = "already in the registry"
    say(f"model {model.reference}: {outcome}: {promotion.model_id}")
    document = promoted_metadata(promotion, version, outcome)
    if metadata_out is not None:
        write_json(metadata_out, document)
    return document


def promoted_metadata(promotion: Promotion, version: Any, outcome: str) -> dict[str, Any]:
    """What production deploys (``mlops deploy --model-metadata``): the model metadata of the
    version, with the registry it is now in and its id there."""
    properties = version.properties or {}
    return {
        "command": "promote",
        "result": outcome,
        "name": promotion.model.name,
        "version": promotion.model.version,
        "registry": promotion.registry,
        "model_id": promotion.model_id,
        "job_name": properties.get("job_name") or version.job_name,
        "metrics": {
            metric: value
            for metric, _ in promotion.thresholds
            if (value := gate.recorded_metric(version, metric)) is not None
        },
    }


def dry_run(promotion: Promotion) -> dict[str, Any]:
    """The requests of a promotion; the gate and stage are checked on the version when sent."""
    from azure.ai.ml.entities._assets.workspace_asset_reference import WorkspaceAssetReference

    model = promotion.model
    reference = WorkspaceAssetReference(
        name=model.name,
        version=model.version,
        asset_id=(
            f"azureml://locations/{WORKSPACE_LOCATION}/workspaces/{WORKSPACE_GUID}"
            f"/models/{model.name}/versions/{model.version}"
        ),
    )
    registry = (
        "/subscriptions/<registry subscription>/resourceGroups/<registry resource group>"
        f"/providers/Microsoft.MachineLearningServices/registries/{promotion.registry}"
    )
    requests = [
        payloads.Request(
            method="GET",
            resource=f"models/{model.name}/versions/{model.version}",
            description=f"read {model.reference}: its recorded metrics and its stage tag",
        ),
        payloads.Request(
            method="GET",
            resource="",
            description="read the workspace's location and id, which the shared asset names",
        ),
        payloads.Request(
            method="POST",
            resource=f"{registry}/import",
            description=f"share {model.reference} into registry {promotion.registry}",
            body=payloads.rest_body(reference._to_rest_object()),
        ),
    ]
    checks = [f"{metric} >= {minimum:g}" for metric, minimum in promotion.thresholds]
    return payloads.dry_run_document(
        "promote",
        requests,
        model=model.reference,
        registry=promotion.registry,
        model_id=promotion.model_id,
        checked_when_sent=[*checks, f"tag {STAGE_TAG} in {', '.join(STAGED)}"],
    )
