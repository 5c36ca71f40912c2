"""Dry runs: the REST requests a command would send, built from the same azure-ai-ml entities.

Each body comes from the entity's own REST conversion in azure-ai-ml, with the references resolved
as the SDK resolves them before sending: a compute, environment, data asset or model named in a
spec becomes its resource id in the workspace (``/subscriptions/<id>/resourceGroups/<group>/
providers/Microsoft.MachineLearningServices/workspaces/<name>/computes/<compute>``; a setting not
configured here is shown as ``<ITS_VARIABLE>``). What only the workspace can tell is said plainly:
the version an ``@latest`` reference resolves to when sent, local files (code, data, build
contexts) shown as the local path that would be uploaded, and the workspace location. Resources
of requests are given relative to the workspace, scoring URIs in full.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.kinds import Kind
from mlops.monitors import target_parts
from mlops.specs import display_path, is_local_path
from mlops.workspace import SETTING_VARIABLES, resolve_settings

LOCATION_PLACEHOLDER = "<workspace location>"
NEXT_VERSION = "<next version>"
# A job run on this machine names no compute resource.
LOCAL_COMPUTE = "local"
RESOLVED_WHEN_SENT = "<{label} version, resolved when sent>"
ANONYMOUS_COMPONENT = "components/azureml_anonymous/versions/<a hash of the component, when sent>"
ASSET_PREFIX = "azureml:"
DEPLOYMENT_HEADER = "azureml-model-deployment"
SCORING_URI = "https://{endpoint}.<workspace location>.inference.ml.azure.com/score"
BATCH_JOBS_URI = "https://{endpoint}.<workspace location>.inference.ml.azure.com/jobs"
ENDPOINT_CREDENTIALS = {
    "key": ("POST", "listKeys", "read the endpoint key"),
    "aml_token": ("POST", "token", "get an endpoint token"),
}


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
    settings = resolve_settings()
    chosen = {"environment": settings.environment.name} if settings.environment else {}
    return {
        "command": command,
        "dry_run": True,
        **chosen,
        "workspace": settings.scope(),
        **extra,
        "requests": [request.to_dict() for request in requests],
    }


def workspace_id() -> str:
    """The workspace's resource id, with ``<VARIABLE>`` for each setting not configured here."""
    settings = resolve_settings()
    subscription, group, name = (
        getattr(settings, key) or f"<{variable}>" for key, variable in SETTING_VARIABLES.items()
    )
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    )


def is_reference(value: Any) -> bool:
    """A spec's ``name``, ``name:version`` or ``name@label`` (its ``azureml:`` prefix dropped by
    the REST conversion), as opposed to a URI, a resource id or a local path."""
    return isinstance(value, str) and bool(value) and "://" not in value and value[0] != "/"


def asset_id(collection: str, reference: str) -> str:
    """The resource id azure-ai-ml sends for an asset reference, ``name:version`` or
    ``name@label``."""
    name, at, label = reference.removeprefix(ASSET_PREFIX).partition("@")
    if at:
        version = RESOLVED_WHEN_SENT.format(label=label)
    else:
        name, _, version = name.partition(":")
    return f"{workspace_id()}/{collection}/{name}/versions/{version}"


def compute_id(name: str) -> str:
    return f"{workspace_id()}/computes/{name.removeprefix(ASSET_PREFIX)}"


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


def inline_environment(
    owner: Any, body: dict[str, Any], at: tuple[str, ...] = ("properties",)
) -> list[Request]:
    """An inline environment becomes an anonymous environment version the owner refers to, by
    its id in the body's part ``at``."""
    from azure.ai.ml.entities import Environment

    environment = owner.environment
    if not isinstance(environment, Environment):
        return []
    request = environment_request(
        environment, f"register the inline environment as {environment_resource(environment)}"
    )
    holder = body
    for key in at:
        holder = holder.setdefault(key, {})
    holder["environmentId"] = f"{workspace_id()}/{request.resource}"
    return [request]


def registry_requests(registry: Any) -> list[Request]:
    """A registry is a resource of the resource group, beside the workspace."""
    group = workspace_id().partition("/providers/")[0]
    return [
        Request(
            method="PUT",
            resource=f"{group}/providers/Microsoft.MachineLearningServices/registries/{registry.name}",
            description=f"create or update registry {registry.name} in {registry.location}",
            body=rest_body(registry._to_rest_object()),
        )
    ]


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


def score_requests(
    endpoint: str,
    deployment: str | None,
    body: Any,
    description: str,
    auth_mode: str | None = None,
) -> list[Request]:
    """A scoring call as mlops makes it: the endpoint (for its scoring URI and deployments), its
    credentials by its auth mode (``auth_mode`` None: not known offline), then the POST, which
    with a deployment name reaches that deployment whatever the traffic."""
    resource = f"onlineEndpoints/{endpoint}"
    requests = [
        Request("GET", resource, f"read the scoring URI of {endpoint}"),
        Request("GET", f"{resource}/deployments", f"list the deployments of {endpoint}"),
        Request("GET", resource, f"read the auth mode of {endpoint}"),
    ]
    mode = (auth_mode or "").lower()
    if mode in ENDPOINT_CREDENTIALS:
        method, action, what = ENDPOINT_CREDENTIALS[mode]
        requests.append(Request(method, f"{resource}/{action}", f"{what} of {endpoint}"))
    elif not mode:
        requests.append(
            Request(
                "POST",
                f"{resource}/listKeys",
                f"read the endpoint key of {endpoint} (auth_mode key; aml_token asks {resource}"
                "/token; aad_token uses your own Microsoft Entra token: no request)",
            )
        )
    headers = {"Content-Type": "application/json", "Authorization": "Bearer <endpoint credential>"}
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    scoring = Request("POST", SCORING_URI.format(endpoint=endpoint), description, body, headers)
    return [*requests, scoring]


def batch_endpoint_requests(endpoint: Any) -> list[Request]:
    return [
        Request(
            method="PUT",
            resource=f"batchEndpoints/{endpoint.name}",
            description=f"create or update batch endpoint {endpoint.name}",
            body=rest_body(endpoint._to_rest_batch_endpoint(location=LOCATION_PLACEHOLDER)),
        )
    ]


def batch_job_body(job_input: Any) -> dict[str, Any]:
    """The body azure-ai-ml posts to a batch endpoint to start a job on ``job_input``."""
    from azure.ai.ml._schema._deployment.batch.batch_job import BatchJobSchema
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY, PARAMS_OVERRIDE_KEY
    from azure.ai.ml.constants._endpoint import EndpointYamlFields

    kind = "UriFolder" if job_input.type == "uri_folder" else "UriFile"
    context = {
        BASE_PATH_CONTEXT_KEY: Path("."),
        PARAMS_OVERRIDE_KEY: [{EndpointYamlFields.BATCH_JOB_INPUT_DATA: {kind: job_input}}],
    }
    return {"properties": BatchJobSchema(context=context).load(data={})}


def batch_job_requests(
    endpoint: str, deployment: str | None, input_text: str, description: str
) -> list[Request]:
    """A batch scoring job as azure-ai-ml starts it: the deployment checked, the input resolved
    (a data asset's version, a local folder uploaded), the endpoint's URI, then the POST."""
    from mlops.batch import batch_input, is_data_asset

    resource = f"batchEndpoints/{endpoint}"
    requests = []
    if deployment:
        requests.append(
            Request("GET", f"{resource}/deployments", f"check that {endpoint} has {deployment}")
        )
    job_input = batch_input(input_text)
    local = None if is_data_asset(input_text) else Path(job_input.path)
    if local is None:
        reference = input_text.removeprefix(ASSET_PREFIX)
        job_input.path = asset_id("data", reference)
        name = reference.partition("@")[0].partition(":")[0]
        requests.append(Request("GET", f"data/{name}", f"resolve the data asset {reference}"))
    requests.append(Request("GET", resource, f"read the scoring URI of {endpoint}"))
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer <Microsoft Entra token>",
    }
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    body = batch_job_body(job_input)
    job = Request("POST", BATCH_JOBS_URI.format(endpoint=endpoint), description, body, headers)
    if local is not None:
        kind = next(iter(body["properties"]["inputData"]))
        mark_upload(job, ["properties", "inputData", kind, "uri"], local)
    return [*requests, job]


def deployment_requests(deployment: Any, collection: str) -> list[Request]:
    request = Request(
        method="PUT",
        resource=f"{collection}/{deployment.endpoint_name}/deployments/{deployment.name}",
        description=f"create or update deployment {deployment.name} of {deployment.endpoint_name}",
        body=rest_body(deployment._to_rest_object(location=LOCATION_PLACEHOLDER)),
    )
    resolve_deployment_references(request.body["properties"])
    before = inline_environment(deployment, request.body)
    code = deployment.code_configuration.code if deployment.code_configuration else None
    if is_local_path(code):
        local = Path(deployment.base_path) / code
        mark_upload(request, ["properties", "codeConfiguration", "codeId"], local)
    return [*before, request]


def resolve_deployment_references(properties: dict[str, Any]) -> None:
    """The model and compute of a deployment body as the resource ids the SDK sends."""
    model = properties.get("model")
    if isinstance(model, dict):
        # A batch deployment refers to its model as an asset reference.
        if is_reference(model.get("assetId")):
            model["assetId"] = asset_id("models", model["assetId"])
    elif is_reference(model):
        properties["model"] = asset_id("models", model)
    if is_reference(properties.get("compute")):
        properties["compute"] = compute_id(properties["compute"])


# Where the collector agent of an online deployment writes its collections, as azure-ai-ml names it.
COLLECTED_DATA_PATH = "azureml://datastores/workspaceblobstore/paths/modelDataCollector"


def collection_requests(deployment: Any, body: dict[str, Any]) -> list[Request]:
    """The data asset azure-ai-ml registers for each collection of an online deployment's data
    collector (``<endpoint>-<deployment>-<collection>``, version 1, unless the spec names one)
    before the deployment, which then refers to it."""
    from azure.ai.ml.entities import Data

    collector = getattr(deployment, "data_collector", None)
    sent = (body["properties"].get("dataCollector") or {}).get("collections") or {}
    requests = []
    for name, collection in (collector.collections if collector else {}).items():
        given = collection.data if not isinstance(collection.data, str) else None
        endpoint, deployed = deployment.endpoint_name, deployment.name
        data = Data(
            name=getattr(given, "name", None) or f"{endpoint}-{deployed}-{name}",
            version=getattr(given, "version", None) or "1",
            path=getattr(given, "path", None)
            or f"{COLLECTED_DATA_PATH}/{endpoint}/{deployed}/{name}",
        )
        requests.append(
            Request(
                method="PUT",
                resource=f"data/{data.name}/versions/{data.version}",
                description=f"register the data asset of collection {name} of {deployed}",
                body=rest_body(data._to_rest_object()),
            )
        )
        if name in sent:
            sent[name]["dataId"] = f"{workspace_id()}/{requests[-1].resource}"
    return requests


def online_deployment_requests(deployment: Any) -> list[Request]:
    *before, request = deployment_requests(deployment, "onlineEndpoints")
    return [*collection_requests(deployment, request.body), *before, request]


def batch_deployment_requests(deployment: Any) -> list[Request]:
    return deployment_requests(deployment, "batchEndpoints")


def job_requests(job: Any) -> list[Request]:
    """A job's PUT, after what the SDK sends first: the inline environment of a command job or a
    sweep's trial, the anonymous component of each pipeline step (code and local inputs are
    uploaded)."""
    from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object

    rest_job = to_rest_job_object(job)
    request = Request(
        method="PUT",
        resource=f"jobs/{rest_job.name}",
        description=f"submit {job.type} job {rest_job.name} to experiment "
        f"{rest_job.properties.experiment_name}",
        body=rest_body(rest_job),
    )
    base = Path(job.base_path)
    resolve_job_inputs(request, base)
    resolve_compute(request.body["properties"], "computeId")
    dependencies = JOB_DEPENDENCIES.get(job.type, command_job_dependencies)
    return [*dependencies(job, request, base), request]


def resolve_compute(holder: dict[str, Any], key: str) -> None:
    """The compute named at ``holder[key]`` as the resource id the SDK sends."""
    compute = holder.get(key)
    if is_reference(compute) and compute != LOCAL_COMPUTE:
        holder[key] = compute_id(compute)


def job_environment(owner: Any, body: dict[str, Any], at: tuple[str, ...]) -> list[Request]:
    """The environment of a command job or a sweep's trial: inline, or a reference resolved."""
    before = inline_environment(owner, body, at)
    holder = body
    for key in at:
        holder = holder[key]
    if not before and is_reference(holder.get("environmentId")):
        holder["environmentId"] = asset_id("environments", holder["environmentId"])
    return before


def command_job_dependencies(job: Any, request: Request, base: Path) -> list[Request]:
    if is_local_path(getattr(job, "code", None)):
        mark_upload(request, ["properties", "codeId"], base / job.code)
    return job_environment(job, request.body, ("properties",))


def sweep_job_dependencies(job: Any, request: Request, base: Path) -> list[Request]:
    """Every trial runs the command of ``trial``, with its code and environment."""
    if is_local_path(getattr(job.trial, "code", None)):
        mark_upload(request, ["properties", "trial", "codeId"], base / job.trial.code)
    return job_environment(job.trial, request.body, ("properties", "trial"))


def pipeline_job_dependencies(job: Any, request: Request, base: Path) -> list[Request]:
    """The default compute and each step's compute as resource ids, and each step's component
    (from a local file) registered first as an anonymous version that the step refers to."""
    properties = request.body["properties"]
    resolve_compute(properties.get("settings") or {}, "default_compute")
    before = []
    for step, node in job.jobs.items():
        step_body = properties["jobs"][step]
        resolve_compute(step_body, "computeId")
        component = getattr(node, "component", None)
        if isinstance(component, str):
            if is_reference(step_body.get("componentId")):
                step_body["componentId"] = asset_id("components", step_body["componentId"])
            continue
        component_request = anonymous_component_request(step, component)
        step_body["componentId"] = f"{workspace_id()}/{component_request.resource}"
        before.append(component_request)
    return before


def anonymous_component_request(step: str, component: Any) -> Request:
    """A pipeline step's component from a local file, as azure-ai-ml registers it before the
    pipeline: an anonymous version (named by a hash of its content) with its code uploaded."""
    source = getattr(component, "_source_path", None)
    shown = f" ({display_path(Path(source))})" if source else ""
    request = Request(
        method="PUT",
        resource=ANONYMOUS_COMPONENT,
        description=f"register the component of step {step}{shown} as an anonymous version",
        body=rest_body(component._to_rest_object()),
    )
    spec = request.body["properties"]["componentSpec"]
    if is_local_path(getattr(component, "code", None)):
        code = Path(component.base_path) / component.code
        mark_upload(request, ["properties", "componentSpec", "code"], code)
    if is_reference(spec.get("environment")):
        # A component spec refers to assets as azureml:<resource id>.
        spec["environment"] = ASSET_PREFIX + asset_id("environments", spec["environment"])
    return request


JOB_DEPENDENCIES = {"sweep": sweep_job_dependencies, "pipeline": pipeline_job_dependencies}


def resolve_job_inputs(request: Request, base: Path) -> None:
    """The inputs of a job body: a local path is uploaded, a data asset sent as its resource id."""
    for name, job_input in (request.body["properties"].get("inputs") or {}).items():
        uri = job_input.get("uri")
        if job_input.get("jobInputType") == "literal":
            continue
        if is_local_job_input(uri):
            mark_upload(request, ["properties", "inputs", name, "uri"], base / uri)
        elif is_reference(uri):
            job_input["uri"] = asset_id("data", uri)


def monitor_schedule_request(schedule: Any) -> Request:
    """A model monitor schedule, with the references azure-ai-ml resolves when it sends it: the
    online deployment it watches and the data assets of its signals. (The service also adds each
    signal's production data: what the deployment's data collector writes.)"""
    request = Request(
        method="PUT",
        resource=f"schedules/{schedule.name}",
        description=(
            f"create or update monitor schedule {schedule.name} (when applied, of the deployment "
            "that then takes the endpoint's traffic)"
        ),
        body=rest_body(schedule._to_rest_object()),
    )
    definition = request.body["properties"]["action"]["monitorDefinition"]
    target = definition.get("monitoringTarget") or {}
    parts = target_parts(target.get("deploymentId"))
    if parts is not None:
        endpoint, deployment = parts
        target["deploymentId"] = (
            f"{workspace_id()}/onlineEndpoints/{endpoint}/deployments/{deployment}"
        )
    for signal in (definition.get("signals") or {}).values():
        for data in (signal.get("referenceData"), signal.get("productionData")):
            uri = data.get("uri") if isinstance(data, dict) else None
            if isinstance(uri, str) and "://" not in uri and not is_local_job_input(uri):
                data["uri"] = asset_id("data", uri)
    return request


def schedule_requests(schedule: Any) -> list[Request]:
    """A job schedule: what its pipeline job's steps need first (each inline step's environment and
    code, registered as an anonymous component), then the PUT of the schedule. A monitor
    schedule: its PUT."""
    if getattr(schedule, "create_monitor", None) is not None:
        return [monitor_schedule_request(schedule)]
    requests: list[Request] = []
    request = Request(
        method="PUT",
        resource=f"schedules/{schedule.name}",
        description=f"create or update schedule {schedule.name}",
        body=rest_body(schedule._to_rest_object()),
    )
    definition = request.body["properties"]["action"]["jobDefinition"]
    for name, step in (getattr(schedule.create_job, "jobs", None) or {}).items():
        component = getattr(step, "component", None)
        if component is None or isinstance(component, str):
            continue
        step_body = definition["jobs"][name]
        requests.extend(inline_environment(component, {}))
        registration = anonymous_component_request(name, component)
        requests.append(registration)
        step_body["componentId"] = f"{workspace_id()}/{registration.resource}"
    settings = definition.get("settings") or {}
    if is_reference(settings.get("default_compute")):
        settings["default_compute"] = compute_id(settings["default_compute"])
    return [*requests, request]


def requests_for(kind: Kind, entity: Any) -> list[Request]:
    """The requests of ``entity`` in a dry run, by its kind's request builder."""
    return globals()[kind.request_builder](entity)
