"""Conversations with the scripted Azure ML service that several tests share: the requests
azure-ai-ml makes for one step of a command, answered from tests/azure_responses."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.scripted_azure import RESPONSES, ScriptedAzure

# What the training job of tests/azure_responses/jobs is called once the service answered.
JOB = "test_334734506738"
LOG_BLOB = f"ExperimentRun/dcid.{JOB}/user_logs/std_log.txt"
TRAINING_LOG = "Loading sample-data ...\nroc_auc 0.86\nmodel written to ./outputs\n"
# The endpoint of the recordings, which tests rename.
RECORDED_ENDPOINT = "online-ept-19282f598c8c49a"
# What this project's score.py answers for the sample request.
SCORES = {"predictions": [1, 0, 0], "probabilities": [0.81, 0.07, 0.22]}


def spec(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def reference_name(reference: str) -> str:
    """``customer-churn-train-env`` of ``azureml:customer-churn-train-env@latest``."""
    return reference.removeprefix("azureml:").split("@")[0].split(":")[0]


# The registered model the first model's deployment spec deploys: `mlops deploy` takes versions of
# it only. Read from the spec, so the tests pass whatever the project was baked with.
DEPLOYED_MODEL = reference_name(
    spec(Path(__file__).resolve().parents[1] / "models/model1/deployment/deployment.yml")["model"]
)


def new_environment(azure: ScriptedAzure, name: str) -> None:
    """The first version of an environment: none yet, then the PUT of version 1."""
    azure.serve("environments/missing.json", environment_name=name)
    azure.serve("environments/create.json", environment_name=name)


def latest_environment(azure: ScriptedAzure, name: str, fingerprint: str | None = None) -> None:
    tags = {"mlops_fingerprint": fingerprint} if fingerprint else {}
    azure.serve("environments/latest.json", environment_name=name, tags=tags)


def new_data(azure: ScriptedAzure, name: str) -> None:
    """The first version of a folder data asset: none yet, the upload, the PUT of version 1."""
    azure.serve("data/missing.json", data_name=name)
    azure.serve("datastores/workspaceblobstore.json")
    azure.serve("storage/upload.json")
    azure.serve("data/missing.json", data_name=name)
    azure.serve("data/create.json", data_name=name, version="1", data_type="uri_folder")


def latest_data(azure: ScriptedAzure, name: str, fingerprint: str | None = None) -> None:
    tags = {"mlops_fingerprint": fingerprint} if fingerprint else {}
    azure.serve("data/latest.json", data_name=name, data_type="uri_folder", tags=tags)


def code_upload(azure: ScriptedAzure) -> None:
    """A job's or deployment's local code: a new code asset, its files uploaded."""
    azure.serve("code/start-upload.json")
    azure.serve("storage/upload.json")
    azure.serve("code/create.json")


def submit_job(azure: ScriptedAzure, job_spec: Path) -> None:
    """Everything `mlops train` sends for the project's AmlCompute job, until the service's 201."""
    document = spec(job_spec)
    code_upload(azure)
    latest_environment(azure, reference_name(document["environment"]))
    latest_data(azure, reference_name(document["inputs"]["training_data"]["path"]))
    azure.serve("jobs/create.json", experiment=document["experiment_name"])


def job_status(azure: ScriptedAzure, status: str, experiment: str = "customer-churn") -> None:
    azure.serve("jobs/get.json", status=status, experiment=experiment)


def stream_job(
    azure: ScriptedAzure,
    final_status: str,
    error: dict[str, Any] | None = None,
    experiment: str = "customer-churn",
) -> None:
    """``jobs.stream``: the job, the run history service's address, its log files, its status
    Running then ``final_status``; the log shown once. ``error``: the run's error, if it failed."""
    job_status(azure, "Running", experiment)
    azure.serve("workspace/get.json")
    azure.serve("workspace/discovery.json")
    azure.serve("datastores/workspaceartifactstore.json")
    azure.serve("jobs/run-details.json", status="Running")
    azure.serve("jobs/run-details.json", status=final_status, error=error)
    azure.serve("storage/list-blobs.json", blob=LOG_BLOB)
    azure.serve("storage/list-no-blobs.json")
    azure.serve("storage/get-blob.json", blob=LOG_BLOB, content=TRAINING_LOG)


def recorded_body(file: str, entry: int = 0) -> dict[str, Any]:
    """The answer of an entry of a response file, as recorded."""
    document = json.loads((RESPONSES / file).read_text(encoding="utf-8"))
    return copy.deepcopy(document["Entries"][entry]["ResponseBody"])


def model_version(name: str, version: str, tags: dict[str, str], properties: dict[str, str]):
    """A model version as the service lists it: the recorded one of models/create.json, renamed."""
    body = recorded_body("models/create.json")
    body["id"] = body["id"].replace("test_848675322716/versions/3", f"{name}/versions/{version}")
    body["name"] = version
    body["properties"].update(tags=tags, properties=properties, modelType="custom_model")
    return body


def job_metrics(azure: ScriptedAzure, metrics: dict[str, float] | None, job: str = JOB) -> None:
    """The metrics.json at the top of the job's output model_output (``None``: there is none)."""
    output_file(azure, job, "model_output", "metrics.json", metrics)


def register_model(azure: ScriptedAzure, name: str) -> None:
    """The first version of a model: none yet, then the PUT of version 1."""
    azure.serve("models/missing.json", model_name=name)
    azure.serve("models/container-missing.json", model_name=name)
    azure.serve("models/create.json", model_name=name, version="1")


def deployment_listed(endpoint: str, name: str) -> dict[str, Any]:
    """A deployment as an endpoint lists it: the body of online-deployments/create.json, renamed."""
    body = recorded_body("online-deployments/create.json", 3)
    body["id"] = body["id"].replace(
        f"{RECORDED_ENDPOINT}/deployments/blue", f"{endpoint}/deployments/{name}"
    )
    body["name"] = name
    return body


def endpoint_state(
    azure: ScriptedAzure, endpoint: str, traffic: dict[str, int], auth_mode: str = "Key"
) -> None:
    """``online_endpoints.get``: the endpoint with ``traffic``, then its deployments (those with
    a share of the traffic, even none)."""
    azure.serve(
        "online-endpoints/get.json", endpoint_name=endpoint, auth_mode=auth_mode, traffic=traffic
    )
    listed = [deployment_listed(endpoint, name) for name in traffic]
    azure.serve("online-endpoints/deployments.json", endpoint_name=endpoint, deployments=listed)


# The collections of the online deployments' data_collector (models/*/deployment/deployment.yml).
COLLECTIONS = ("model_inputs", "model_outputs")


def create_endpoint(azure: ScriptedAzure, endpoint: str) -> None:
    azure.serve("workspace/get.json")
    azure.serve("online-endpoints/create.json", endpoint_name=endpoint, auth_mode="Key", traffic={})


def create_deployment(azure: ScriptedAzure, endpoint: str, name: str, fails: bool = False) -> None:
    """The deployment's code uploaded, its inline environment registered, then its creation."""
    azure.serve("online-endpoints/get.json", endpoint_name=endpoint, auth_mode="Key", traffic={})
    # The deployment collects model data (deployment.yml's data_collector): azure-ai-ml registers
    # the data asset of each collection, <endpoint>-<deployment>-<collection>, version 1, first.
    for collection in COLLECTIONS:
        azure.serve(
            "data/create.json",
            data_name=f"{endpoint}-{name}-{collection}",
            version="1",
            data_type="uri_folder",
        )
    code_upload(azure)
    azure.serve("environments/create.json", environment_name="CliV2AnonymousEnvironment")
    azure.serve("workspace/get.json")
    answers = "online-deployments/create-fails.json" if fails else "online-deployments/create.json"
    azure.serve(answers, endpoint_name=endpoint, deployment_name=name)


def smoke_test(
    azure: ScriptedAzure,
    endpoint: str,
    traffic: dict[str, int],
    status: int = 200,
    answer: Any = SCORES,
    auth_mode: str = "Key",
) -> None:
    """A scoring call: the endpoint (its scoring URI, its deployments), its key (or its token,
    for ``auth_mode`` AMLToken), the POST and the scoring script's answer."""
    endpoint_state(azure, endpoint, traffic, auth_mode)
    azure.serve(
        "online-endpoints/get.json", endpoint_name=endpoint, auth_mode=auth_mode, traffic=traffic
    )
    credentials = "token" if auth_mode == "AMLToken" else "keys"
    azure.serve(f"online-endpoints/{credentials}.json", endpoint_name=endpoint)
    content_type = "text/plain" if isinstance(answer, str) else "application/json"
    azure.serve(
        "scoring/answer.json",
        endpoint_name=endpoint,
        status=status,
        body=answer,
        content_type=content_type,
    )


def set_traffic(
    azure: ScriptedAzure, endpoint: str, before: dict[str, int], after: dict[str, int]
) -> None:
    endpoint_state(azure, endpoint, before)
    azure.serve("workspace/get.json")
    azure.serve(
        "online-endpoints/update.json", endpoint_name=endpoint, auth_mode="Key", traffic=after
    )


def delete_deployment(azure: ScriptedAzure, endpoint: str, name: str) -> None:
    azure.serve("online-deployments/delete.json", endpoint_name=endpoint, deployment_name=name)


# Pipelines and sweeps: the jobs of jobs/pipeline-get.json and jobs/sweep-*.json, and what waiting
# for them reads each time it looks (the job, then its child jobs: a pipeline's steps, a sweep's
# trials).
PIPELINE = "test_680454434153"
PIPELINE_STEPS = ("prep", "train", "evaluate", "register")
SWEEP = "test_910316408761"
BEST_TRIAL = f"{SWEEP}_3"


def pipeline_submission(azure: ScriptedAzure, pipeline_spec: Path) -> None:
    """Everything `mlops train` sends for the project's pipeline, until the service's 201: each
    step's component with its environment, the components' code (uploaded for the first, found by
    its hash for the others) and the component registered as an anonymous version, the data
    asset, the pipeline. azure-ai-ml reads the workspace once, to key its cache of components."""
    document = spec(pipeline_spec)
    components = [
        spec(pipeline_spec.parent / step["component"]) for step in document["jobs"].values()
    ]
    for component in components:
        latest_environment(azure, reference_name(component["environment"]))
    azure.serve("workspace/get.json")
    for index in range(len(components)):
        if index == 0:
            code_upload(azure)
        else:
            azure.serve("code/existing.json")
        azure.serve("components/create.json")
    latest_data(azure, reference_name(document["inputs"]["raw_data"]["path"]))
    azure.serve("jobs/pipeline-create.json", experiment=document["experiment_name"])


def child_run(parent: str, run_id: str, display_name: str, status: str) -> dict[str, Any]:
    """A child job as the run history lists it: the first recorded one of jobs/children.json."""
    body = recorded_body("jobs/children.json")["value"][0]
    body.update(
        runId=run_id,
        parentRunId=parent,
        rootRunId=parent,
        displayName=display_name,
        status=status,
        dataContainerId=f"dcid.{run_id}",
    )
    return body


def step_run_id(step: str) -> str:
    """A pipeline step's run id: a GUID, as the service names step runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PIPELINE}/{step}"))


def steps(statuses: dict[str, str]) -> list[dict[str, Any]]:
    return [
        child_run(PIPELINE, step_run_id(step), step, status) for step, status in statuses.items()
    ]


def trials(statuses: list[str]) -> list[dict[str, Any]]:
    return [
        child_run(SWEEP, f"{SWEEP}_{number}", f"{SWEEP}_{number}", status)
        for number, status in enumerate(statuses)
    ]


def sweep_properties(best: tuple[str, float] | None) -> dict[str, str]:
    """The sweep job's properties: as recorded, and HyperDrive's record of its best trial."""
    properties = recorded_body("jobs/sweep-get.json")["properties"]["properties"]
    if best is not None:
        trial, score = best
        properties.update(
            best_child_run_id=trial, score=repr(score), best_metric_status="Succeeded"
        )
    return properties


def pipeline_status(azure: ScriptedAzure, status: str, first: bool = False) -> None:
    """The pipeline job; azure-ai-ml reads the workspace after the first read of a pipeline (it
    keys its cache of the steps' components by the workspace)."""
    azure.serve("jobs/pipeline-get.json", status=status)
    if first:
        azure.serve("workspace/get.json")


def sweep_status(azure: ScriptedAzure, status: str, best: tuple[str, float] | None = None) -> None:
    azure.serve("jobs/sweep-get.json", status=status, properties=sweep_properties(best))


def look(
    azure: ScriptedAzure,
    job_status: Callable[[], None],
    parent: str,
    children: list[dict[str, Any]],
    first: bool = False,
) -> None:
    """One look of waiting: the job, then its child jobs (``jobs.list(parent_job_name=)`` reads
    the job again, and the first time the run history's address)."""
    job_status()
    job_status()
    if first:
        azure.serve("workspace/get.json")
        azure.serve("workspace/discovery.json")
    azure.serve("jobs/children.json", job_name=parent, children=children)


def watch_pipeline(azure: ScriptedAzure, looks: list[tuple[str, dict[str, str]]]) -> None:
    """Waiting for the pipeline: each look, the pipeline's status and its steps' statuses."""
    for index, (status, statuses) in enumerate(looks):
        look(
            azure, lambda s=status: pipeline_status(azure, s), PIPELINE, steps(statuses), index == 0
        )


def watch_sweep(
    azure: ScriptedAzure, looks: list[tuple[str, list[str], tuple[str, float] | None]]
) -> None:
    """Waiting for the sweep: each look, its status, its trials' statuses, its best trial so far."""
    for index, (status, statuses, best) in enumerate(looks):
        look(
            azure,
            lambda s=status, b=best: sweep_status(azure, s, b),
            SWEEP,
            trials(statuses),
            index == 0,
        )


def output_file(azure: ScriptedAzure, job: str, output: str, name: str, document: Any) -> None:
    """One JSON file at the top of a job's output, downloaded alone (``None``: there is none)."""
    if document is None:
        azure.serve("datastores/workspaceblobstore.json")
        azure.serve("storage/list-no-blobs.json")
        return
    output_blob(azure, job, output, name, json.dumps(document))


def output_blob(azure: ScriptedAzure, job: str, output: str, name: str, content: str) -> None:
    """The one file ``name`` of a job's output, listed in the workspace's blob store and
    downloaded with ``content``."""
    blob = f"azureml/{job}/{output}/{name}"
    azure.serve("datastores/workspaceblobstore.json")
    azure.serve("storage/list-blobs.json", blob=blob)
    azure.serve(
        "storage/download-blob.json",
        blob=blob,
        content=content,
        content_range=f"bytes 0-{len(content) - 1}/{len(content)}",
    )
