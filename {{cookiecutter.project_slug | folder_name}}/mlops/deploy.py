"""``mlops deploy``: the blue/green rollout of ``mlops.rollout`` on a managed online endpoint."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops import payloads, rollout, specs
from mlops.errors import AzureFailure, InvalidInput, describe
from mlops.invoke import Answer, score
from mlops.metadata import ModelMetadata, read_json, read_model_metadata
from mlops.naming import parse_model_reference, parse_registry_model, require_valid_name
from mlops.output import say, wait_for
from mlops.rollout import (
    CreateDeployment,
    CreateEndpoint,
    DeleteDeployment,
    EndpointState,
    Pause,
    RolloutPlan,
    SetTraffic,
    SmokeTest,
    Step,
)

STAGE_TAG = "stage"


class SmokeTestFailed(AzureFailure):
    """The new deployment did not answer the smoke request properly."""


@dataclass(frozen=True)
class Target:
    """The endpoint and deployment entities a rollout creates, with the model it deploys."""

    endpoint: Any
    deployment: Any
    model: ModelMetadata
    smoke_request: Path | None

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.name

    def deployment_named(self, name: str) -> Any:
        deployment = copy.copy(self.deployment)
        deployment.name = name
        return deployment


def model_to_deploy(
    model: str | None, model_metadata: Path | None, registry: str | None = None
) -> ModelMetadata:
    """The version --model or --model-metadata names; with ``registry`` (--registry), that
    registry's version of it. --model may also be the version's azureml://registries/ URI."""
    if bool(model) == bool(model_metadata):
        raise InvalidInput("give exactly one of --model NAME:VERSION and --model-metadata FILE")
    if model:
        in_registry = parse_registry_model("--model", model)
        if in_registry:
            held_by, name, version = in_registry
            chosen = ModelMetadata(name, version, registry=held_by)
        else:
            chosen = ModelMetadata(*parse_model_reference("--model", model))
    else:
        chosen = read_model_metadata(model_metadata)
    if registry is None:
        return chosen
    require_valid_name("--registry", registry, "registry")
    if chosen.registry not in (None, registry):
        raise InvalidInput(
            f"--registry {registry}: {chosen.reference} was promoted to registry {chosen.registry}"
        )
    return replace(chosen, registry=registry)


def load_target(
    endpoint_spec: Path,
    deployment_spec: Path,
    endpoint_name: str | None,
    model: ModelMetadata,
    smoke_request: Path | None,
) -> Target:
    if endpoint_name:
        require_valid_name("--endpoint-name", endpoint_name, "endpoint")
    _, endpoint = specs.load_spec(endpoint_spec, expected=["online_endpoint"])
    _, deployment = specs.load_spec(deployment_spec, expected=["online_deployment"])
    if endpoint_name:
        endpoint.name = endpoint_name
    # Traffic belongs to the rollout, not to the spec.
    endpoint.traffic = {}
    deployment.endpoint_name = endpoint.name
    require_model_of_spec(model, deployment.model, deployment_spec)
    deployment.model = model.asset_id
    if smoke_request is not None:
        read_json(smoke_request, "--smoke-request")
    return Target(endpoint, deployment, model, smoke_request)


def require_model_of_spec(model: ModelMetadata, spec_model: object, deployment_spec: Path) -> None:
    """The version to deploy is one of the model the deployment spec names (azureml:NAME@latest,
    which azure-ai-ml loads as NAME@latest): a version of another model never reaches this
    model's endpoint. A spec naming a registry model or a local path is not compared."""
    if not isinstance(spec_model, str) or "://" in spec_model:
        return
    reference = spec_model.removeprefix("azureml:")
    if "@" not in reference and ":" not in reference:
        return
    named = reference.partition("@")[0].partition(":")[0]
    if named != model.name:
        raise InvalidInput(
            f"--model: {model.reference} is not a version of {named}, the model of "
            f"{specs.display_path(deployment_spec)}"
        )


def check_smoke_answer(deployment: str, answer: Answer) -> None:
    """A smoke test passes when the deployment answers 200 with JSON that is not an error."""
    if not answer.ok:
        raise SmokeTestFailed(f"deployment {deployment} answered {answer.reason()}")
    if answer.document() is None:
        raise SmokeTestFailed(
            f"deployment {deployment} answered with non-JSON: {answer.text[:200]}"
        )
    error = answer.error()
    if error is not None:
        raise SmokeTestFailed(f"deployment {deployment} answered with an error: {error}")


def run_plan(plan: RolloutPlan, execute: Callable[[Step], None]) -> None:
    """Execute the plan; when a step fails, execute its recovery steps and raise AzureFailure."""
    for index, step in enumerate(plan.steps):
        say(f"[{index + 1}/{len(plan.steps)}] {step.describe()}")
        try:
            execute(step)
        except Exception as exc:
            raise AzureFailure(rollback(plan, index, describe(exc), execute)) from exc


def rollback(plan: RolloutPlan, failed_index: int, reason: str, execute: Callable) -> str:
    """Execute the recovery of a failed step; the message says where traffic is now."""
    failed = plan.steps[failed_index]
    message = f"{failed.describe()} failed: {reason}"
    recovery = rollout.recovery_steps(plan, failed_index)
    if not recovery:
        if isinstance(failed, DeleteDeployment) and failed.deployment == plan.live:
            return f"{message}; all traffic is on {plan.new}, delete {failed.deployment} by hand"
        return f"{message}; nothing to undo on {plan.endpoint}"
    if not any(isinstance(step, SetTraffic) for step in recovery):
        message += "; traffic left as it was"
    for step in recovery:
        say(f"recovering: {step.describe()}")
        try:
            execute(step)
        except Exception as exc:
            message += f"; could not {step.describe()}: {describe(exc)}"
        else:
            message += f"; recovered: {step.describe()}"
    return message


class AzureRollout:
    """Executes rollout steps against Azure through an MLClient."""

    def __init__(self, client: Any, target: Target) -> None:
        self.client = client
        self.target = target

    def current_state(self) -> EndpointState:
        from azure.core.exceptions import ResourceNotFoundError

        name = self.target.endpoint_name
        try:
            endpoint = self.client.online_endpoints.get(name=name)
        except ResourceNotFoundError:
            return EndpointState.missing()
        # azure-ai-ml lists every deployment in the traffic it returns, at 0 when it has none.
        traffic = dict(endpoint.traffic or {})
        return EndpointState(True, traffic, tuple(traffic))

    def execute(self, step: Step) -> None:
        endpoints = self.client.online_endpoints
        deployments = self.client.online_deployments
        name = self.target.endpoint_name
        if isinstance(step, CreateEndpoint):
            wait_for(endpoints.begin_create_or_update(self.target.endpoint), step.describe())
        elif isinstance(step, CreateDeployment):
            deployment = self.target.deployment_named(step.deployment)
            wait_for(deployments.begin_create_or_update(deployment), step.describe())
        elif isinstance(step, SmokeTest):
            body = read_json(self.target.smoke_request, "--smoke-request")
            check_smoke_answer(step.deployment, score(self.client, name, body, step.deployment))
        elif isinstance(step, SetTraffic):
            endpoint = endpoints.get(name=name)
            endpoint.traffic = step.as_dict()
            wait_for(endpoints.begin_create_or_update(endpoint), step.describe())
        elif isinstance(step, Pause):
            time.sleep(step.seconds)
        elif isinstance(step, DeleteDeployment):
            wait_for(
                deployments.begin_delete(name=step.deployment, endpoint_name=name), step.describe()
            )

    def tag_stage(self, stage: str) -> None:
        tag_model_stage(self.client, self.target.model, stage)


def tag_model_stage(client: Any, model: ModelMetadata, stage: str) -> None:
    """Tag the deployed model version stage=<stage>, and take the tag off the version before.

    A registry's version is not tagged: the stages of a version are kept by the workspace that
    registered it, and a registry's versions are shared with every workspace that deploys them."""
    if model.registry:
        say(f"model {model.asset_id}: a registry's version, not tagged {STAGE_TAG}={stage}")
        return
    models = client.models
    for version in models.list(name=model.name):
        tags = version.tags or {}
        if tags.get(STAGE_TAG) == stage and str(version.version) != model.version:
            version.tags = {k: v for k, v in tags.items() if k != STAGE_TAG}
            models.create_or_update(version)
    current = models.get(name=model.name, version=model.version)
    current.tags = {**(current.tags or {}), STAGE_TAG: stage}
    models.create_or_update(current)
    say(f"model {model.reference} tagged {STAGE_TAG}={stage}")


def deploy(
    client: Any,
    target: Target,
    traffic_steps: tuple[int, ...],
    pause_seconds: int,
    stage: str | None,
) -> dict[str, Any]:
    runner = AzureRollout(client, target)
    plan = rollout.plan_rollout(
        target.endpoint_name,
        runner.current_state(),
        traffic_steps,
        pause_seconds,
        smoke_test=target.smoke_request is not None,
    )
    if target.smoke_request is None:
        say("no --smoke-request: traffic moves without a smoke test")
    run_plan(plan, runner.execute)
    if stage:
        runner.tag_stage(stage)
    return {
        "command": "deploy",
        "endpoint": target.endpoint_name,
        "deployment": plan.new,
        "model": target.model.reference,
        "plan": plan.summary(),
    }


def step_requests(plan: RolloutPlan, step: Step, target: Target) -> list[payloads.Request]:
    if isinstance(step, CreateEndpoint):
        return payloads.online_endpoint_requests(target.endpoint)
    if isinstance(step, CreateDeployment):
        return payloads.online_deployment_requests(target.deployment_named(step.deployment))
    if isinstance(step, SmokeTest):
        body = read_json(target.smoke_request, "--smoke-request")
        auth_mode = target.endpoint.auth_mode
        return payloads.score_requests(
            plan.endpoint, step.deployment, body, step.describe(), auth_mode
        )
    if isinstance(step, SetTraffic):
        return payloads.online_endpoint_requests(target.endpoint, traffic=step.as_dict())
    if isinstance(step, DeleteDeployment):
        return [
            payloads.Request(
                method="DELETE",
                resource=f"onlineEndpoints/{plan.endpoint}/deployments/{step.deployment}",
                description=step.describe(),
            )
        ]
    return [payloads.Request(method="WAIT", resource="", description=step.describe())]


def dry_run(
    target: Target,
    current_traffic: str | None,
    traffic_steps: tuple[int, ...],
    pause_seconds: int,
) -> dict[str, Any]:
    """The rollout from the state ``--current-traffic`` describes (default: no endpoint yet)."""
    if current_traffic is None:
        state = EndpointState.missing()
    else:
        traffic = rollout.parse_traffic(current_traffic)
        state = EndpointState(True, traffic, tuple(traffic))
    plan = rollout.plan_rollout(
        target.endpoint_name,
        state,
        traffic_steps,
        pause_seconds,
        smoke_test=target.smoke_request is not None,
    )
    requests = []
    for index, step in enumerate(plan.steps):
        recovery = [s.describe() for s in rollout.recovery_steps(plan, index)]
        for request in step_requests(plan, step, target):
            request.on_failure = recovery
            requests.append(request)
    return payloads.dry_run_document(
        "deploy", requests, model=target.model.reference, plan=plan.summary()
    )
