"""Dry runs: the REST requests a command would send, built from the same azure-ai-ml entities.

Each body comes from the entity's own REST conversion in azure-ai-ml, so it is what the SDK sends,
with two differences a real run resolves against the workspace: local files (code, data, build
contexts) are shown as the local path that would be uploaded, and the workspace location, which
needs a call to Azure, is shown as a placeholder. Resources are given relative to the workspace
(``/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MachineLearningServices/
workspaces/<name>/``).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.specs import display_path, is_local_path
from mlops.workspace import resolve_settings

LOCATION_PLACEHOLDER = "<workspace location>"
NEXT_VERSION = "<next version>"


@dataclass
class Request:
    method: str
    resource: str
    description: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    uploads: list[dict[str, str]] = field(default_factory=list)
    on_failure: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "method": self.method,
            "resource": self.resource,
            "description": self.description,
        }
        if self.headers:
            document["headers"] = self.headers
        if self.uploads:
            document["uploads"] = self.uploads
        if self.on_failure:
            document["on_failure"] = self.on_failure
        document["body"] = self.body
        return document


def dry_run_document(command: str, requests: list[Request], **extra: Any) -> dict[str, Any]:
    """The one JSON document every ``--dry-run`` prints."""
    return {
        "command": command,
        "dry_run": True,
        "workspace": resolve_settings().scope(),
        **extra,
        "requests": [request.to_dict() for request in requests],
    }


def rest_body(rest_object: Any) -> Any:
    """The JSON body of an azure-ai-ml REST model, as the SDK serialises it."""
    if hasattr(rest_object, "as_dict"):
        body = rest_object.as_dict(exclude_readonly=True)
    elif hasattr(rest_object, "serialize"):
        body = rest_object.serialize()
    else:
        body = rest_object
    return json.loads(json.dumps(body, default=str))


def is_local_job_input(uri: Any) -> bool:
    """The job service's reading: an absolute path, or a relative one without ':' or '@' (those
    name data assets, as ``name@latest`` or ``name:1``), is a local file to upload."""
    if not is_local_path(uri):
        return False
    return os.path.isabs(uri) or not any(mark in uri for mark in ":@")


def mark_upload(request: Request, body_field: list[str], local: Path) -> None:
    """Show ``local`` in place of the uploaded asset's id at ``body_field`` of the body."""
    shown = display_path(local)
    target = request.body
    for key in body_field[:-1]:
        target = target.setdefault(key, {})
    target[body_field[-1]] = shown
    request.uploads.append({"field": ".".join(body_field), "local_path": shown})


def environment_resource(environment: Any) -> str:
    return f"environments/{environment.name}/versions/{environment.version or NEXT_VERSION}"


def environment_request(environment: Any, description: str | None = None) -> Request:
    request = Request(
        method="PUT",
        resource=environment_resource(environment),
        description=description or f"create or update environment {environment.name}",
        body=rest_body(environment._to_rest_object()),
    )
    build = getattr(environment, "build", None)
    if build is not None and is_local_path(getattr(build, "path", None)):
        local = Path(environment.base_path) / build.path
        mark_upload(request, ["properties", "build", "contextUri"], local)
    return request


def inline_environment(owner: Any, body: dict[str, Any]) -> list[Request]:
    """An inline environment becomes an anonymous environment version the owner refers to."""
    from azure.ai.ml.entities import Environment

    environment = owner.environment
    if not isinstance(environment, Environment):
        return []
    request = environment_request(
        environment, f"register the inline environment as {environment_resource(environment)}"
    )
    body.setdefault("properties", {})["environmentId"] = request.resource
    return [request]


def compute_requests(compute: Any) -> list[Request]:
    compute = copy.copy(compute)
    compute.location = compute.location or LOCATION_PLACEHOLDER
    return [
        Request(
            method="PUT",
            resource=f"computes/{compute.name}",
            description=f"create or update compute {compute.name}",
            body=rest_body(compute._to_rest_object()),
        )
    ]


def versioned_asset_requests(
    asset: Any, collection: str, uri_field: str, description: str
) -> list[Request]:
    """A data asset or model version: PUT its body, uploading the local path it names first."""
    request = Request(
        method="PUT",
        resource=f"{collection}/{asset.name}/versions/{asset.version or NEXT_VERSION}",
        description=f"{description} {asset.name}",
        body=rest_body(asset._to_rest_object()),
    )
    if is_local_path(asset.path):
        mark_upload(request, ["properties", uri_field], Path(asset.base_path) / asset.path)
    return [request]


def data_requests(data: Any) -> list[Request]:
    return versioned_asset_requests(data, "data", "dataUri", "create data asset")


def model_requests(model: Any) -> list[Request]:
    return versioned_asset_requests(model, "models", "modelUri", "register model")


def environment_requests(environment: Any) -> list[Request]:
    return [environment_request(environment)]


def online_endpoint_requests(endpoint: Any, traffic: dict[str, int] | None = None) -> list[Request]:
    description = f"create or update online endpoint {endpoint.name}"
    if traffic is not None:
        endpoint = copy.copy(endpoint)
        # As azure-ai-ml does before sending: a deployment left out of the traffic gets none.
        endpoint.traffic = {name: share for name, share in traffic.items() if share > 0}
        shares = ", ".join(f"{name}={share}" for name, share in traffic.items()) or "none"
        description = f"set traffic of {endpoint.name}: {shares}"
    return [
        Request(
            method="PUT",
            resource=f"onlineEndpoints/{endpoint.name}",
            description=description,
            body=rest_body(endpoint._to_rest_online_endpoint(location=LOCATION_PLACEHOLDER)),
        )
    ]


def score_request(endpoint: str, deployment: str | None, body: Any, description: str) -> Request:
    """A scoring call; with a deployment name it reaches that deployment whatever the traffic."""
    return Request(
        method="POST",
        resource=f"onlineEndpoints/{endpoint}/score",
        description=description,
        headers={"azureml-model-deployment": deployment} if deployment else {},
        body=body,
    )


def batch_endpoint_requests(endpoint: Any) -> list[Request]:
    return [
        Request(
            method="PUT",
            resource=f"batchEndpoints/{endpoint.name}",
            description=f"create or update batch endpoint {endpoint.name}",
            body=rest_body(endpoint._to_rest_batch_endpoint(location=LOCATION_PLACEHOLDER)),
        )
    ]


def deployment_requests(deployment: Any, collection: str) -> list[Request]:
    request = Request(
        method="PUT",
        resource=f"{collection}/{deployment.endpoint_name}/deployments/{deployment.name}",
        description=f"create or update deployment {deployment.name} of {deployment.endpoint_name}",
        body=rest_body(deployment._to_rest_object(location=LOCATION_PLACEHOLDER)),
    )
    before = inline_environment(deployment, request.body)
    code = deployment.code_configuration.code if deployment.code_configuration else None
    if is_local_path(code):
        local = Path(deployment.base_path) / code
        mark_upload(request, ["properties", "codeConfiguration", "codeId"], local)
    return [*before, request]


def online_deployment_requests(deployment: Any) -> list[Request]:
    return deployment_requests(deployment, "onlineEndpoints")


def batch_deployment_requests(deployment: Any) -> list[Request]:
    return deployment_requests(deployment, "batchEndpoints")


def job_requests(job: Any) -> list[Request]:
    from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object

    rest_job = to_rest_job_object(job)
    request = Request(
        method="PUT",
        resource=f"jobs/{rest_job.name}",
        description=f"submit job {rest_job.name} to experiment "
        f"{rest_job.properties.experiment_name}",
        body=rest_body(rest_job),
    )
    before = inline_environment(job, request.body)
    base = Path(job.base_path)
    if is_local_path(getattr(job, "code", None)):
        mark_upload(request, ["properties", "codeId"], base / job.code)
    for name, job_input in (request.body["properties"].get("inputs") or {}).items():
        if job_input.get("jobInputType") != "literal" and is_local_job_input(job_input.get("uri")):
            mark_upload(request, ["properties", "inputs", name, "uri"], base / job_input["uri"])
    return [*before, request]


REQUEST_BUILDERS = {
    "compute": compute_requests,
    "environment": environment_requests,
    "data": data_requests,
    "model": model_requests,
    "online_endpoint": online_endpoint_requests,
    "batch_endpoint": batch_endpoint_requests,
    "online_deployment": online_deployment_requests,
    "batch_deployment": batch_deployment_requests,
    "job": job_requests,
}


def requests_for(kind: str, entity: Any) -> list[Request]:
    return REQUEST_BUILDERS[kind](entity)
