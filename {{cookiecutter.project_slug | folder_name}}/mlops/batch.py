"""``mlops deploy-batch`` and ``mlops invoke-batch``: a model's batch deployment on a batch
endpoint, and the batch scoring jobs it runs.

A rollout creates (or updates) the deployment that is not the endpoint's default, blue or green,
runs a smoke job on it by name, and only once that job Completed makes it the default. Otherwise the
default stays what it was, the new deployment stays for a look at its job, and the command fails:
nothing else needs undoing, since a batch deployment without jobs costs nothing.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops import payloads, specs
from mlops.errors import AzureFailure, InvalidInput
from mlops.metadata import COMPLETED, ModelMetadata, RunMetadata, run_metadata_of
from mlops.naming import require_valid_name
from mlops.output import PROGRESS_INTERVAL_SECONDS, say, wait_for
from mlops.rollout import other_colour

DATA_ASSET_PREFIX = "azureml:"
# The output of a batch job that holds the file the deployment's output_file_name names.
SCORE_OUTPUT = "score"
DEFAULT_OUTPUT_FILE = "predictions.csv"


@dataclass(frozen=True)
class BatchTarget:
    """The batch endpoint and deployment a rollout creates, the model, and the smoke job's input."""

    endpoint: Any
    deployment: Any
    model: ModelMetadata
    smoke_input: str

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.name

    def deployment_named(self, name: str) -> Any:
        deployment = copy.copy(self.deployment)
        deployment.name = name
        return deployment


@dataclass(frozen=True)
class BatchPlan:
    endpoint: str
    exists: bool
    default: str | None
    new: str

    @property
    def steps(self) -> list[str]:
        steps = [] if self.exists else [f"create batch endpoint {self.endpoint}"]
        return [
            *steps,
            f"create or update deployment {self.new}",
            f"smoke job of deployment {self.new}",
            f"make {self.new} the default of {self.endpoint}",
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "default": self.default,
            "new": self.new,
            "steps": self.steps,
        }


def plan_batch_rollout(endpoint: str, exists: bool, default: str | None) -> BatchPlan:
    """The new deployment is the colour the default is not (blue on a new endpoint)."""
    return BatchPlan(endpoint, exists, default, other_colour(default))


def is_data_asset(text: str) -> bool:
    return text.startswith(DATA_ASSET_PREFIX)


def check_batch_input(option: str, text: str) -> str:
    """A data asset (``azureml:NAME@latest``, ``azureml:NAME:VERSION``), a local folder or file."""
    if is_data_asset(text):
        reference = text.removeprefix(DATA_ASSET_PREFIX)
        require_valid_name(option, reference.partition("@")[0].partition(":")[0], "asset")
        return text
    if not Path(text).exists():
        raise InvalidInput(f"{option}: {text} is neither a local folder or file nor azureml:NAME")
    return text


def batch_input(text: str) -> Any:
    """The job input azure-ai-ml sends: a data asset as it is, a local path uploaded first."""
    from azure.ai.ml import Input

    if is_data_asset(text):
        return Input(type="uri_folder", path=text)
    path = Path(text).resolve()
    return Input(type="uri_folder" if path.is_dir() else "uri_file", path=str(path))


def load_target(
    endpoint_spec: Path,
    deployment_spec: Path,
    endpoint_name: str | None,
    model: ModelMetadata,
    smoke_input: str,
) -> BatchTarget:
    if endpoint_name:
        require_valid_name("--endpoint-name", endpoint_name, "endpoint")
    _, endpoint = specs.load_spec(endpoint_spec, expected=["batch_endpoint"])
    _, deployment = specs.load_spec(deployment_spec, expected=["batch_deployment"])
    if endpoint_name:
        endpoint.name = endpoint_name
    # The default deployment belongs to the rollout, not to the spec.
    endpoint.defaults = None
    deployment.endpoint_name = endpoint.name
    deployment.model = model.asset_id
    return BatchTarget(endpoint, deployment, model, check_batch_input("--smoke-input", smoke_input))


def default_deployment(endpoint: Any) -> str | None:
    defaults = endpoint.defaults
    if isinstance(defaults, dict):
        return defaults.get("deployment_name") or None
    return getattr(defaults, "deployment_name", None) or None


def current_endpoint(client: Any, name: str) -> Any:
    """The batch endpoint, or None when there is none of that name."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return client.batch_endpoints.get(name=name)
    except ResourceNotFoundError:
        return None


def submit(client: Any, endpoint: str, deployment: str | None, input_text: str) -> RunMetadata:
    """Start a batch scoring job on ``endpoint`` (with ``deployment``, that deployment whatever the
    default); its run metadata."""
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    # azure-ai-ml writes the deployment's header into headers every call shares: without this, a
    # call for the default deployment would reach the one an earlier call of this process named.
    EndpointInvokeFields.DEFAULT_HEADER.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)
    job = client.batch_endpoints.invoke(
        endpoint_name=endpoint, deployment_name=deployment, input=batch_input(input_text)
    )
    metadata = run_metadata_of(client.jobs.get(job.name))
    say(f"submitted batch job {metadata.job_name} ({metadata.status}): {metadata.studio_url}")
    return metadata


def wait_for_batch_job(client: Any, metadata: RunMetadata) -> RunMetadata:
    """The run metadata of the job once it has ended (its status polled; a batch job's log is that
    of the deployment's workers, in the studio)."""
    from mlops import train

    job = train.poll_until_ended(client, metadata, None, PROGRESS_INTERVAL_SECONDS)
    return train.ended(metadata, job, None)


class BatchRollout:
    """Executes a batch rollout through an MLClient."""

    def __init__(self, client: Any, target: BatchTarget) -> None:
        self.client = client
        self.target = target

    def plan(self) -> BatchPlan:
        endpoint = current_endpoint(self.client, self.target.endpoint_name)
        default = default_deployment(endpoint) if endpoint is not None else None
        return plan_batch_rollout(self.target.endpoint_name, endpoint is not None, default)

    def run(self, plan: BatchPlan) -> RunMetadata:
        endpoints = self.client.batch_endpoints
        steps = iter(plan.steps)
        if not plan.exists:
            wait_for(endpoints.begin_create_or_update(self.target.endpoint), next(steps))
        deployment = self.target.deployment_named(plan.new)
        wait_for(self.client.batch_deployments.begin_create_or_update(deployment), next(steps))
        say(next(steps))
        smoke = wait_for_batch_job(
            self.client, submit(self.client, plan.endpoint, plan.new, self.target.smoke_input)
        )
        if smoke.status != COMPLETED:
            stays = plan.default or "none"
            reason = f": {smoke.error}" if smoke.error else ""
            raise AzureFailure(
                f"smoke job {smoke.job_name} of deployment {plan.new} ended {smoke.status}{reason} "
                f"(log: {smoke.studio_url}); the default of {plan.endpoint} stays {stays}"
            )
        endpoint = endpoints.get(name=plan.endpoint)
        endpoint.defaults = {"deployment_name": plan.new}
        wait_for(endpoints.begin_create_or_update(endpoint), next(steps))
        return smoke


def deploy_batch(client: Any, target: BatchTarget, stage: str | None) -> dict[str, Any]:
    from mlops.deploy import tag_model_stage

    rollout = BatchRollout(client, target)
    plan = rollout.plan()
    smoke = rollout.run(plan)
    if stage:
        tag_model_stage(client, target.model, stage)
    return {
        "command": "deploy-batch",
        "endpoint": plan.endpoint,
        "deployment": plan.new,
        "model": target.model.reference,
        "smoke_job": smoke.job_name,
        "plan": plan.summary(),
    }


def dry_run_batch(target: BatchTarget, current_default: str | None) -> dict[str, Any]:
    """The rollout on an endpoint whose default is ``current_default`` (None: no endpoint yet)."""
    plan = plan_batch_rollout(target.endpoint_name, current_default is not None, current_default)
    steps = iter(plan.steps)
    requests = []
    if not plan.exists:
        requests += described(payloads.batch_endpoint_requests(target.endpoint), next(steps))
    deployment = payloads.batch_deployment_requests(target.deployment_named(plan.new))
    requests += described(deployment, next(steps))
    requests += payloads.batch_job_requests(
        plan.endpoint, plan.new, target.smoke_input, next(steps)
    )
    endpoint = replace_defaults(target.endpoint, plan.new)
    requests += described(payloads.batch_endpoint_requests(endpoint), next(steps))
    return payloads.dry_run_document(
        "deploy-batch", requests, model=target.model.reference, plan=plan.summary()
    )


def replace_defaults(endpoint: Any, deployment: str) -> Any:
    endpoint = copy.copy(endpoint)
    endpoint.defaults = {"deployment_name": deployment}
    return endpoint


def described(requests: list[payloads.Request], step: str) -> list[payloads.Request]:
    """The requests of a step, the last one (what the step is for) described as the step."""
    if requests:
        requests[-1].description = step
    return requests


def check_invoke_options(
    endpoint: str, deployment: str | None, wait: bool, download: Path | None
) -> None:
    require_valid_name("--endpoint", endpoint, "endpoint")
    if deployment is not None:
        require_valid_name("--deployment", deployment, "endpoint")
    if download is not None and not wait:
        raise InvalidInput("--download needs --wait: a job's predictions exist once it Completed")


def download_predictions(client: Any, job_name: str, folder: Path) -> Path:
    """The predictions file of a Completed batch job, downloaded into ``folder``."""
    from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

    from mlops.register import output_location

    job = client.jobs.get(job_name)
    uri = output_location(client, job, SCORE_OUTPUT) + DEFAULT_OUTPUT_FILE
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlops-batch-", dir=folder) as scratch:
        say(f"downloading {uri}")
        download_artifact_from_aml_uri(uri, scratch, client.datastores)
        found = Path(scratch) / DEFAULT_OUTPUT_FILE
        if not found.is_file():
            raise AzureFailure(f"batch job {job_name} wrote no {DEFAULT_OUTPUT_FILE} into {uri}")
        target = folder / DEFAULT_OUTPUT_FILE
        found.replace(target)
    say(f"predictions written to {target}")
    return target


def invoke_batch(
    client: Any,
    endpoint: str,
    deployment: str | None,
    input_text: str,
    wait: bool,
    download: Path | None,
) -> dict[str, Any]:
    metadata = submit(client, endpoint, deployment, input_text)
    result: dict[str, Any] = {"command": "invoke-batch", "endpoint": endpoint}
    if wait:
        metadata = wait_for_batch_job(client, metadata)
        if metadata.status != COMPLETED:
            reason = f": {metadata.error}" if metadata.error else ""
            raise AzureFailure(
                f"batch job {metadata.job_name} ended {metadata.status}{reason} "
                f"(log: {metadata.studio_url})"
            )
    result.update(asdict(metadata))
    if download is not None:
        result["predictions"] = download_predictions(client, metadata.job_name, download).as_posix()
    return result


def dry_run_invoke(endpoint: str, deployment: str | None, input_text: str) -> dict[str, Any]:
    description = f"start a batch job on {deployment or 'the default deployment'} of {endpoint}"
    return payloads.dry_run_document(
        "invoke-batch", payloads.batch_job_requests(endpoint, deployment, input_text, description)
    )
