"""``--dry-run`` of each Azure command: the REST bodies, field by field, against specs and flags."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from mlops.workspace import SETTING_VARIABLES
from tests.azure_flows import DEPLOYED_MODEL

# The workspace's resource id when no setting is configured: each unknown part named.
WORKSPACE = (
    "/subscriptions/<AZURE_SUBSCRIPTION_ID>/resourceGroups/<AZURE_RESOURCE_GROUP>"
    "/providers/Microsoft.MachineLearningServices/workspaces/<AZUREML_WORKSPACE_NAME>"
)
LATEST = "<latest version, resolved when sent>"


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def asset_name(reference: str) -> str:
    return reference.removeprefix("azureml:")


def asset_id(collection: str, reference: str) -> str:
    """The resource id the SDK sends for ``azureml:name@latest`` or ``azureml:name:version``."""
    name, at, label = asset_name(reference).partition("@")
    if not at:
        name, _, version = name.partition(":")
    return f"{WORKSPACE}/{collection}/{name}/versions/{LATEST if at else version}"


def by_resource(document: dict) -> dict[str, dict]:
    return {request["resource"]: request for request in document["requests"]}


# apply


def test_apply_puts_compute_environment_and_data_in_dependency_order(dry_run, project, paths):
    document = dry_run("apply", paths.data, paths.environment, paths.compute)

    compute, environment, data = load(paths.compute), load(paths.environment), load(paths.data)
    assert document["command"] == "apply"
    assert document["dry_run"] is True
    assert [request["resource"] for request in document["requests"]] == [
        f"computes/{compute['name']}",
        f"environments/{environment['name']}/versions/<next version>",
        f"data/{data['name']}/versions/<next version>",
    ]
    assert {request["method"] for request in document["requests"]} == {"PUT"}


def test_apply_compute_body(dry_run, project, paths):
    spec = load(paths.compute)
    (request,) = dry_run("apply", paths.compute)["requests"]

    properties = request["body"]["properties"]
    assert properties["computeType"] == "AmlCompute"
    assert properties["properties"]["vmSize"] == spec["size"]
    scale = properties["properties"]["scaleSettings"]
    assert scale["minNodeCount"] == spec["min_instances"]
    assert scale["maxNodeCount"] == spec["max_instances"]
    assert request["body"]["location"] == "<workspace location>"


def test_apply_environment_body(dry_run, project, paths):
    spec = load(paths.environment)
    (request,) = dry_run("apply", paths.environment)["requests"]

    properties = request["body"]["properties"]
    assert properties["image"] == spec["image"]
    conda_file = (paths.environment.parent / spec["conda_file"]).resolve()
    assert yaml.safe_load(properties["condaFile"]) == load(conda_file)
    assert properties["tags"]["mlops_fingerprint"]


def test_apply_data_body_uploads_the_local_folder(dry_run, project, paths):
    spec = load(paths.data)
    (request,) = dry_run("apply", paths.data)["requests"]

    local = (paths.data.parent / spec["path"]).resolve().relative_to(project).as_posix()
    assert request["body"]["properties"]["dataType"] == spec["type"]
    assert request["body"]["properties"]["dataUri"] == local
    assert request["uploads"] == [{"field": "properties.dataUri", "local_path": local}]


def test_apply_fingerprint_changes_only_with_content(dry_run, project, paths):
    def fingerprint() -> str:
        (request,) = dry_run("apply", paths.data)["requests"]
        return request["body"]["properties"]["tags"]["mlops_fingerprint"]

    first = fingerprint()
    assert fingerprint() == first
    data_folder = (paths.data.parent / load(paths.data)["path"]).resolve()
    (data_folder / "more.csv").write_text("tenure_months\n1\n")
    assert fingerprint() != first


@pytest.mark.parametrize(
    ("spec", "hint"),
    [("train", "mlops train"), ("deployment", "mlops deploy"), ("workspace", "az ml workspace")],
)
def test_apply_points_other_specs_to_their_command(mlops, project, paths, spec, hint):
    result = mlops("apply", getattr(paths, spec), "--dry-run")

    assert result.exit_code == 2
    assert hint in result.stderr
    assert result.stdout == ""


BATCH_ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: churn-batch-x1
description: Scores files of customers in bulk
auth_mode: aad_token
"""
# The project's model and cluster: validate resolves what a spec names.
BATCH_DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: nightly
endpoint_name: churn-batch-x1
type: model
model: azureml:{model}:3
code_configuration:
  code: ..
  scoring_script: score.py
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
  conda_file: ../aml_config/inference-conda.yml
compute: azureml:{compute}
resources:
  instance_count: 2
settings:
  mini_batch_size: 10
  max_concurrency_per_instance: 2
  output_action: append_row
  output_file_name: predictions.csv
"""


def test_apply_batch_endpoint_and_deploy_batch_for_its_deployment(mlops, dry_run, project, paths):
    folder = paths.deployment.parent
    endpoint_spec, deployment_spec = folder / "batch-endpoint.yml", folder / "batch-deployment.yml"
    endpoint_spec.write_text(BATCH_ENDPOINT, encoding="utf-8")
    compute = load(paths.compute)["name"]
    batch_deployment = BATCH_DEPLOYMENT.format(model=DEPLOYED_MODEL, compute=compute)
    deployment_spec.write_text(batch_deployment, encoding="utf-8")
    assert mlops("validate").exit_code == 0

    (endpoint,) = dry_run("apply", endpoint_spec)["requests"]
    refused = mlops("apply", deployment_spec, "--dry-run")
    document = dry_run(
        "deploy-batch",
        "--endpoint",
        endpoint_spec,
        "--deployment",
        deployment_spec,
        "--model",
        f"{DEPLOYED_MODEL}:3",
        "--smoke-input",
        "sample-data",
        "--current-default",
        "blue",
    )

    assert (endpoint["method"], endpoint["resource"]) == ("PUT", "batchEndpoints/churn-batch-x1")
    assert endpoint["body"]["location"] == "<workspace location>"
    assert endpoint["body"]["properties"]["authMode"] == "aadToken"
    assert endpoint["body"]["properties"]["description"] == "Scores files of customers in bulk"
    assert refused.exit_code == 2 and "use `mlops deploy-batch`" in refused.stderr
    environment, deployment = document["requests"][:2]
    assert environment["resource"].startswith("environments/CliV2AnonymousEnvironment/versions/")
    assert deployment["resource"] == "batchEndpoints/churn-batch-x1/deployments/green"
    properties = deployment["body"]["properties"]
    assert properties["environmentId"] == f"{WORKSPACE}/{environment['resource']}"
    assert properties["model"] == {
        "assetId": f"{WORKSPACE}/models/{DEPLOYED_MODEL}/versions/3",
        "referenceType": "Id",
    }
    assert properties["compute"] == f"{WORKSPACE}/computes/{compute}"
    assert properties["resources"]["instanceCount"] == 2
    assert (properties["miniBatchSize"], properties["maxConcurrencyPerInstance"]) == (10, 2)
    assert (properties["outputAction"], properties["outputFileName"]) == (
        "AppendRow",
        "predictions.csv",
    )
    code = folder.parent.as_posix()
    assert properties["codeConfiguration"] == {"codeId": code, "scoringScript": "score.py"}
    assert deployment["uploads"] == [
        {"field": "properties.codeConfiguration.codeId", "local_path": code}
    ]


# train


def test_train_body_follows_the_spec(dry_run, project, paths):
    spec = load(paths.train)
    document = dry_run("train", paths.train)

    (request,) = document["requests"]
    job = request["body"]["properties"]
    job_name = request["resource"].removeprefix("jobs/")
    assert re.fullmatch(r"[a-z0-9_]+", job_name)
    assert job_name in request["description"]
    assert job["jobType"] == "Command"
    assert job["computeId"] == f"{WORKSPACE}/computes/{asset_name(spec['compute'])}"
    assert job["environmentId"] == asset_id("environments", spec["environment"])
    assert job["experimentName"] == spec["experiment_name"]
    assert job["command"] == spec["command"]
    data_input = spec["inputs"]["training_data"]
    assert job["inputs"]["training_data"] == {
        "uri": asset_id("data", data_input["path"]),
        "jobInputType": data_input["type"],
    }
    for name, value in spec["inputs"].items():
        if not isinstance(value, dict):
            assert job["inputs"][name] == {"value": str(value), "jobInputType": "literal"}
    assert set(job["outputs"]) == set(spec["outputs"])
    code = (paths.train.parent / spec["code"]).resolve().relative_to(project).as_posix()
    assert job["codeId"] == code
    assert request["uploads"] == [{"field": "properties.codeId", "local_path": code}]


def test_train_flags_override_the_spec(dry_run, project, paths):
    document = dry_run(
        "train",
        paths.train,
        "--set",
        "inputs.n_estimators=300",
        "--set",
        "compute=azureml:gpu-cluster",
        "--experiment",
        "nightly-retrain",
    )

    job = document["requests"][0]["body"]["properties"]
    assert job["inputs"]["n_estimators"] == {"value": "300", "jobInputType": "literal"}
    assert job["computeId"] == f"{WORKSPACE}/computes/gpu-cluster"
    assert job["experimentName"] == "nightly-retrain"


def test_train_pipeline_registers_each_steps_component_with_its_code_then_the_pipeline(
    dry_run, project, paths
):
    spec = load(paths.pipeline)
    *components, request = dry_run("train", paths.pipeline)["requests"]

    steps = list(spec["jobs"])
    assert len(components) == len(steps)
    job = request["body"]["properties"]
    assert job["jobType"] == "Pipeline"
    assert job["experimentName"] == spec["experiment_name"]
    default_compute = asset_name(spec["settings"]["default_compute"])
    assert job["settings"]["default_compute"] == f"{WORKSPACE}/computes/{default_compute}"
    raw_data = spec["inputs"]["raw_data"]
    assert job["inputs"]["raw_data"] == {
        "uri": asset_id("data", raw_data["path"]),
        "jobInputType": raw_data["type"],
    }
    assert set(job["outputs"]) == set(spec["outputs"])
    for step, component in zip(steps, components, strict=True):
        component_file = (paths.pipeline.parent / spec["jobs"][step]["component"]).resolve()
        component_spec = load(component_file)
        shown = component_file.relative_to(project).as_posix()
        assert component["description"] == (
            f"register the component of step {step} ({shown}) as an anonymous version"
        )
        body = component["body"]["properties"]["componentSpec"]
        environment = asset_id("environments", component_spec["environment"])
        assert body["environment"] == f"azureml:{environment}"
        assert body["command"] == component_spec["command"]
        code = (component_file.parent / component_spec["code"]).resolve()
        local = code.relative_to(project).as_posix()
        assert component["uploads"] == [
            {"field": "properties.componentSpec.code", "local_path": local}
        ]
        assert job["jobs"][step]["componentId"] == f"{WORKSPACE}/{component['resource']}"


def test_train_sweep_body_follows_the_spec(dry_run, project, paths):
    spec = load(paths.sweep)
    (request,) = dry_run("train", paths.sweep)["requests"]

    job = request["body"]["properties"]
    assert job["jobType"] == "Sweep"
    assert job["computeId"] == f"{WORKSPACE}/computes/{asset_name(spec['compute'])}"
    assert job["experimentName"] == spec["experiment_name"]
    assert job["trial"]["environmentId"] == asset_id("environments", spec["trial"]["environment"])
    assert job["trial"]["command"] == spec["trial"]["command"]
    code = (paths.sweep.parent / spec["trial"]["code"]).resolve().relative_to(project).as_posix()
    assert job["trial"]["codeId"] == code
    assert request["uploads"] == [{"field": "properties.trial.codeId", "local_path": code}]
    objective = spec["objective"]
    assert job["objective"] == {
        "goal": objective["goal"],
        "primaryMetric": objective["primary_metric"],
    }
    assert job["limits"]["maxTotalTrials"] == spec["limits"]["max_total_trials"]
    assert set(job["searchSpace"]) == set(spec["search_space"])
    assert job["inputs"]["training_data"]["uri"] == asset_id(
        "data", spec["inputs"]["training_data"]["path"]
    )


def test_local_job_registers_its_inline_environment_and_uploads_its_data(dry_run, project, paths):
    spec = load(paths.train_local)
    environment_request, job_request = dry_run("train", paths.train_local)["requests"]

    assert environment_request["resource"].startswith(
        "environments/CliV2AnonymousEnvironment/versions/"
    )
    assert environment_request["body"]["properties"]["image"] == spec["environment"]["image"]
    job = job_request["body"]["properties"]
    assert job["environmentId"] == f"{WORKSPACE}/{environment_request['resource']}"
    data = (paths.train_local.parent / spec["inputs"]["training_data"]["path"]).resolve()
    assert job["inputs"]["training_data"]["uri"] == data.relative_to(project).as_posix()
    assert {"field": "properties.inputs.training_data.uri", "local_path": "sample-data"} in (
        job_request["uploads"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "n_estimators"], "--set: expected KEY=VALUE"),
        (["--set", "epochs=3"], "epochs: Unknown field."),
    ],
)
def test_train_rejects_bad_overrides(mlops, project, paths, args, message):
    result = mlops("train", paths.train, *args, "--dry-run")

    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("mlops: ")


def test_train_rejects_a_spec_that_is_not_a_job(mlops, project, paths):
    result = mlops("train", paths.endpoint, "--dry-run")

    assert result.exit_code == 2
    assert "is a online endpoint spec, expected a job" in result.stderr


# register


def write_run_metadata(project):
    path = project / "outputs" / "run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "job_name": "quiet_lamp_1234",
                "status": "Completed",
                "studio_url": "https://ml.azure.com/runs/quiet_lamp_1234",
                "experiment": "customer-churn",
                "outputs": {
                    "model_output": "azureml://jobs/quiet_lamp_1234/outputs/model_output/paths/"
                },
            }
        )
    )
    return path


@pytest.fixture
def run_metadata(project):
    return write_run_metadata(project)


@pytest.fixture
def metrics_file(project):
    path = project / "outputs" / "metrics.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"accuracy": 0.82, "roc_auc": 0.86, "f1": 0.61}))
    return path


def test_register_body(dry_run, run_metadata, metrics_file):
    document = dry_run(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        "customer-churn-model",
        "--path",
        "model_output",
        "--tag",
        "team=retention",
        "--property",
        "data_version=3",
        "--min-metric",
        "roc_auc=0.75",
        "--metrics-file",
        metrics_file,
    )

    (request,) = document["requests"]
    assert request["resource"] == "models/customer-churn-model/versions/<next version>"
    model = request["body"]["properties"]
    assert model["modelType"] == "custom_model"
    assert model["modelUri"] == "azureml://jobs/quiet_lamp_1234/outputs/model_output/paths/"
    assert model["tags"] == {"team": "retention"}
    assert model["properties"] == {
        "job_name": "quiet_lamp_1234",
        "metric.accuracy": "0.82",
        "metric.roc_auc": "0.86",
        "metric.f1": "0.61",
        "data_version": "3",
    }
    (check,) = document["gate"]["checks"]
    assert (check["metric"], check["candidate"], check["reference"], check["passed"]) == (
        "roc_auc",
        0.86,
        0.75,
        True,
    )


def test_register_sub_path_of_an_output(dry_run, run_metadata):
    document = dry_run(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        "m",
        "--path",
        "model_output/model.pkl",
    )

    uri = document["requests"][0]["body"]["properties"]["modelUri"]
    assert uri == "azureml://jobs/quiet_lamp_1234/outputs/model_output/paths/model.pkl"


@pytest.mark.parametrize("uri", ["runs:/quiet_lamp_1234/model", "azureml://datastores/d/paths/m/"])
def test_register_a_model_uri_as_given_without_upload(dry_run, run_metadata, uri):
    document = dry_run("register", "--run-metadata", run_metadata, "--name", "m", "--path", uri)

    (request,) = document["requests"]
    assert request["body"]["properties"]["modelUri"] == uri
    assert "uploads" not in request


def test_register_without_recorded_outputs_builds_the_job_output_uri(dry_run, project):
    path = project / "run.json"
    path.write_text(json.dumps({"job_name": "job-7", "status": "Completed"}))

    document = dry_run("register", "--run-metadata", path, "--name", "m", "--path", "model_output")

    uri = document["requests"][0]["body"]["properties"]["modelUri"]
    assert uri == "azureml://jobs/job-7/outputs/model_output/paths/"


def test_register_after_a_pipeline_reads_its_register_steps_registration_instead(dry_run, project):
    path = project / "run.json"
    outputs = {
        name: f"azureml://jobs/pipe-1/outputs/{name}/paths/"
        for name in ("model_output", "evaluation", "registration")
    }
    path.write_text(json.dumps({"job_name": "pipe-1", "job_type": "pipeline", "outputs": outputs}))

    document = dry_run(
        "register",
        "--run-metadata",
        path,
        "--name",
        "m",
        "--path",
        "model_output",
        "--min-metric",
        "roc_auc=0.75",
    )

    assert document["requests"] == []
    assert document["adopts"]["registration_file"] == (
        "azureml://jobs/pipe-1/outputs/registration/paths/registration.json"
    )
    assert document["gate"]["not_evaluated"] == [
        "minimum metrics: on the metrics in registration.json, at run time"
    ]


def test_register_gate_refuses_a_weak_model(mlops, run_metadata, metrics_file):
    result = mlops(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        "m",
        "--min-metric",
        "roc_auc=0.9",
        "--metrics-file",
        metrics_file,
        "--dry-run",
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "mlops: gate refused the model: roc_auc 0.86 is below the minimum 0.9" in result.stderr


def test_register_gate_refuses_a_missing_metric(mlops, run_metadata, metrics_file):
    result = mlops(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        "m",
        "--min-metric",
        "precision=0.5",
        "--metrics-file",
        metrics_file,
        "--dry-run",
    )

    assert result.exit_code == 1
    assert "precision was not reported" in result.stderr


def test_register_gate_without_metrics_is_left_for_the_real_run(dry_run, run_metadata):
    document = dry_run(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        "m",
        "--min-metric",
        "roc_auc=0.75",
        "--compare-production",
        "roc_auc",
    )

    assert document["gate"]["checks"] == []
    assert len(document["gate"]["not_evaluated"]) == 2


def test_register_refuses_a_failed_job(mlops, project):
    path = project / "run.json"
    path.write_text(json.dumps({"job_name": "job-7", "status": "Failed", "outputs": {"o": "x"}}))

    result = mlops("register", "--run-metadata", path, "--name", "m", "--dry-run")

    assert result.exit_code == 1
    assert "job job-7 ended Failed" in result.stderr


@pytest.mark.parametrize(
    ("metadata", "args", "message"),
    [
        ({"status": "Completed"}, [], "job_name: missing"),
        ({"job_name": "j", "outputs": {"a": "x", "b": "y"}}, [], "--path: name the job output"),
        ({"job_name": "j"}, ["--path", "o", "--min-metric", "auc"], "--min-metric: expected"),
        ({"job_name": "j"}, ["--path", "o", "--tag", "team"], "--tag: expected KEY=VALUE"),
    ],
)
def test_register_bad_input(mlops, project, metadata, args, message):
    path = project / "run.json"
    path.write_text(json.dumps(metadata))

    result = mlops("register", "--run-metadata", path, "--name", "m", *args, "--dry-run")

    assert result.exit_code == 2
    assert message in result.stderr


# deploy


def deploy_args(paths, *extra):
    return (
        "deploy",
        "--endpoint",
        paths.endpoint,
        "--deployment",
        paths.deployment,
        "--smoke-request",
        paths.sample_request,
        *extra,
    )


def test_first_deploy_creates_the_endpoint_and_a_blue_deployment(dry_run, project, paths):
    endpoint_spec, deployment_spec = load(paths.endpoint), load(paths.deployment)
    name = endpoint_spec["name"]

    document = dry_run(*deploy_args(paths, "--model", f"{DEPLOYED_MODEL}:4"))

    assert document["model"] == f"{DEPLOYED_MODEL}:4"
    assert document["plan"]["live"] is None
    assert document["plan"]["new"] == "blue"
    requests = document["requests"]
    collected = [
        f"data/{name}-blue-{collection}" for collection in ("model_inputs", "model_outputs")
    ]
    assert [(r["method"], r["resource"].split("/versions/")[0]) for r in requests] == [
        ("PUT", f"onlineEndpoints/{name}"),
        *[("PUT", data) for data in collected],
        ("PUT", "environments/CliV2AnonymousEnvironment"),
        ("PUT", f"onlineEndpoints/{name}/deployments/blue"),
        ("GET", f"onlineEndpoints/{name}"),
        ("GET", f"onlineEndpoints/{name}/deployments"),
        ("GET", f"onlineEndpoints/{name}"),
        ("POST", f"onlineEndpoints/{name}/listKeys"),
        ("POST", f"https://{name}.<workspace location>.inference.ml.azure.com/score"),
        ("PUT", f"onlineEndpoints/{name}"),
    ]
    endpoint = requests[0]["body"]["properties"]
    assert endpoint["authMode"].lower() == endpoint_spec["auth_mode"]
    assert endpoint["traffic"] == {}

    environment, deployment = requests[3]["body"]["properties"], requests[4]["body"]
    assert environment["image"] == deployment_spec["environment"]["image"]
    assert deployment["properties"]["environmentId"] == f"{WORKSPACE}/{requests[3]['resource']}"
    assert deployment["properties"]["model"] == f"{WORKSPACE}/models/{DEPLOYED_MODEL}/versions/4"
    assert deployment["properties"]["instanceType"] == deployment_spec["instance_type"]
    assert deployment["sku"]["capacity"] == deployment_spec["instance_count"]
    scoring = deployment["properties"]["codeConfiguration"]
    assert scoring["scoringScript"] == deployment_spec["code_configuration"]["scoring_script"]
    assert requests[4]["uploads"][0]["field"] == "properties.codeConfiguration.codeId"
    # What model monitoring (monitoring/monitor.yml) reads: the inputs and outputs that score.py
    # collects; and the deployment's requests and log in Application Insights.
    assert deployment["properties"]["appInsightsEnabled"] is True
    collections = deployment["properties"]["dataCollector"]["collections"]
    assert {name: c["dataCollectionMode"] for name, c in collections.items()} == {
        "model_inputs": "enabled",
        "model_outputs": "enabled",
    }
    # Each collection is a data asset, registered first, where the collector agent writes it.
    for index, collection in enumerate(("model_inputs", "model_outputs"), start=1):
        registered = requests[index]["body"]
        assert collections[collection]["dataId"] == f"{WORKSPACE}/{requests[index]['resource']}"
        assert registered["properties"]["dataType"] == "uri_folder"
        assert registered["properties"]["dataUri"].endswith(
            f"/modelDataCollector/{name}/blue/{collection}"
        )

    smoke = requests[9]
    assert smoke["headers"] == {
        "Content-Type": "application/json",
        "Authorization": "Bearer <endpoint credential>",
        "azureml-model-deployment": "blue",
    }
    assert smoke["body"] == json.loads(paths.sample_request.read_text())
    assert requests[10]["body"]["properties"]["traffic"] == {"blue": 100}


def test_stepped_rollout_from_blue_to_green(dry_run, project, paths):
    document = dry_run(
        *deploy_args(paths, "--model", f"{DEPLOYED_MODEL}:2", "--current-traffic", "blue=100"),
        "--traffic-steps",
        "10,50,100",
    )

    name = load(paths.endpoint)["name"]
    traffic = [
        r["body"]["properties"]["traffic"]
        for r in document["requests"]
        if (r["method"], r["resource"]) == ("PUT", f"onlineEndpoints/{name}")
    ]
    assert traffic == [{"green": 10, "blue": 90}, {"green": 50, "blue": 50}, {"green": 100}]
    smoke_tests = [r for r in document["requests"] if r["resource"].endswith("/score")]
    assert len(smoke_tests) == 3
    assert {r["headers"]["azureml-model-deployment"] for r in smoke_tests} == {"green"}
    last = document["requests"][-1]
    assert (last["method"], last["resource"]) == (
        "DELETE",
        f"onlineEndpoints/{name}/deployments/blue",
    )
    traffic_requests = [
        r
        for r in document["requests"]
        if (r["method"], r["resource"]) == ("PUT", f"onlineEndpoints/{name}")
    ]
    assert all("set traffic blue=100" in r["on_failure"] for r in traffic_requests)


def test_rollout_from_green_goes_to_blue_on_the_named_endpoint(dry_run, project, paths):
    document = dry_run(
        *deploy_args(paths, "--model", f"{DEPLOYED_MODEL}:2", "--current-traffic", "green=100"),
        "--endpoint-name",
        "churn-staging-x1",
    )

    resources = [r["resource"] for r in document["requests"]]
    assert "onlineEndpoints/churn-staging-x1/deployments/blue" in resources
    assert resources[-1] == "onlineEndpoints/churn-staging-x1/deployments/green"
    assert document["plan"]["endpoint"] == "churn-staging-x1"


def test_deploy_reads_the_model_from_model_metadata(dry_run, project, paths):
    metadata = project / "model.json"
    metadata.write_text(json.dumps({"name": DEPLOYED_MODEL, "version": "7"}))

    document = dry_run(*deploy_args(paths, "--model-metadata", metadata))

    deployment = next(r for r in document["requests"] if "/deployments/" in r["resource"])
    assert deployment["body"]["properties"]["model"] == (
        f"{WORKSPACE}/models/{DEPLOYED_MODEL}/versions/7"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "exactly one of --model"),
        (["--model", "m"], 2, '--model: "m" must be NAME:VERSION'),
        (["--model", f"{DEPLOYED_MODEL}:1", "--traffic-steps", "50,20,100"], 2, "steps must rise"),
        (["--model", f"{DEPLOYED_MODEL}:1", "--traffic-steps", "10,50"], 2, "end at 100"),
        (
            ["--model", f"{DEPLOYED_MODEL}:1", "--current-traffic", "blue"],
            2,
            "--current-traffic: expected",
        ),
        (
            ["--model", f"{DEPLOYED_MODEL}:1", "--current-traffic", "blue=50,green=50"],
            1,
            "splits traffic",
        ),
    ],
)
def test_deploy_bad_input(mlops, project, paths, args, code, message):
    result = mlops(*deploy_args(paths, *args), "--dry-run")

    assert result.exit_code == code, result.output
    assert message in result.stderr


def test_deploy_refuses_a_version_of_another_model(mlops, project, paths):
    """The version deployed is one of the model the deployment spec names: a pipeline given the
    version of another model never puts it on this model's endpoint."""
    result = mlops(*deploy_args(paths, "--model", "another-model:3"), "--dry-run")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"mlops: --model: another-model:3 is not a version of {DEPLOYED_MODEL}, the model of "
        f"{paths.deployment.as_posix()}"
    )


def test_deploy_rejects_an_unreadable_smoke_request(mlops, project, paths):
    paths.sample_request.write_text("{not json")

    result = mlops(*deploy_args(paths, "--model", f"{DEPLOYED_MODEL}:1"), "--dry-run")

    assert result.exit_code == 2
    assert "--smoke-request" in result.stderr


# names given as flags


ENDPOINT_RULE = "must be 3 to 32 letters, digits or single '-', starting with a letter"
ASSET_RULE = "must be 1 to 255 letters, digits, '_' or '-', starting with a letter or digit"


BAD_NAMES = [
    (
        ["deploy", "--model", f"{DEPLOYED_MODEL}:1", "--endpoint-name", "x--y"],
        f'--endpoint-name: "x--y" {ENDPOINT_RULE}',
    ),
    (
        ["deploy", "--model", f"{DEPLOYED_MODEL}:1", "--endpoint-name", "9lives"],
        f'--endpoint-name: "9lives" {ENDPOINT_RULE}',
    ),
    (["deploy", "--model", "bad name:3"], '--model: "bad name:3" must be NAME:VERSION, the name'),
    (["register", "--name", "bad name"], f'--name: "bad name" {ASSET_RULE}'),
    (["register", "--name", "-model"], f'--name: "-model" {ASSET_RULE}'),
    (["train", "--experiment", "nightly retrain"], '--experiment: "nightly retrain" must be'),
    (["invoke", "--endpoint", "churn_x"], f'--endpoint: "churn_x" {ENDPOINT_RULE}'),
    (
        ["invoke", "--endpoint", "churn-x", "--deployment", "b"],
        f'--deployment: "b" {ENDPOINT_RULE}',
    ),
]


@pytest.mark.parametrize(
    ("command", "message"), [pytest.param(*case, id=" ".join(case[0])) for case in BAD_NAMES]
)
def test_a_bad_name_given_as_a_flag_is_a_usage_error(mlops, project, paths, command, message):
    name, *flags = command
    required = {
        "deploy": ["--endpoint", paths.endpoint, "--deployment", paths.deployment],
        "register": ["--run-metadata", write_run_metadata(project), "--path", "model_output"],
        "train": [paths.train],
        "invoke": ["--request", paths.sample_request],
    }[name]

    result = mlops(name, *required, *flags, "--dry-run")

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"mlops: {message}"), result.stderr


def test_a_bad_model_name_in_model_metadata_is_bad_input(mlops, project, paths):
    metadata = project / "model.json"
    metadata.write_text(json.dumps({"name": "churn model", "version": "7"}))

    result = mlops(*deploy_args(paths, "--model-metadata", metadata), "--dry-run")

    assert result.exit_code == 2
    assert f'model.json: name: "churn model" {ASSET_RULE}' in result.stderr


# invoke and the workspace block


def test_invoke_calls_the_named_deployment(dry_run, project, paths):
    document = dry_run(
        "invoke",
        "--endpoint",
        "churn-x",
        "--request",
        paths.sample_request,
        "--deployment",
        "green",
    )

    calls = [(r["method"], r["resource"]) for r in document["requests"]]
    assert calls == [
        ("GET", "onlineEndpoints/churn-x"),
        ("GET", "onlineEndpoints/churn-x/deployments"),
        ("GET", "onlineEndpoints/churn-x"),
        ("POST", "onlineEndpoints/churn-x/listKeys"),
        ("POST", "https://churn-x.<workspace location>.inference.ml.azure.com/score"),
    ]
    keys, score = document["requests"][3:]
    assert "aml_token asks onlineEndpoints/churn-x/token" in keys["description"]
    assert score["headers"]["azureml-model-deployment"] == "green"
    assert score["body"] == json.loads(paths.sample_request.read_text())


def test_invoke_without_deployment_follows_the_traffic(dry_run, project, paths):
    document = dry_run("invoke", "--endpoint", "churn-x", "--request", paths.sample_request)

    assert "azureml-model-deployment" not in document["requests"][-1]["headers"]


def test_dry_run_ids_name_the_configured_workspace(dry_run, project, paths, monkeypatch):
    values = {"subscription_id": "0000-sub", "resource_group": "rg-x", "workspace_name": "mlw-x"}
    for key, variable in SETTING_VARIABLES.items():
        monkeypatch.setenv(variable, values[key])

    job = dry_run("train", paths.train)["requests"][0]["body"]["properties"]

    compute = asset_name(load(paths.train)["compute"])
    assert job["computeId"] == (
        "/subscriptions/0000-sub/resourceGroups/rg-x/providers/"
        f"Microsoft.MachineLearningServices/workspaces/mlw-x/computes/{compute}"
    )


def test_dry_run_names_the_configured_workspace(dry_run, project, paths, monkeypatch):
    values = {"subscription_id": "0000-sub", "resource_group": "rg-x", "workspace_name": "mlw-x"}
    for key, variable in SETTING_VARIABLES.items():
        monkeypatch.setenv(variable, values[key])

    assert dry_run("apply", paths.compute)["workspace"] == values


def test_dry_run_needs_no_workspace(dry_run, project, paths):
    document = dry_run("apply", paths.compute)

    assert document["workspace"] == dict.fromkeys(SETTING_VARIABLES)
