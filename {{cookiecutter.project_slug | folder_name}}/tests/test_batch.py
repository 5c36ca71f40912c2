"""``mlops deploy-batch`` and ``mlops invoke-batch`` through the real azure-ai-ml client, against
the scripted Azure ML service: the first rollout creates the endpoint, a rollout on a live endpoint
makes the new colour the default only after its smoke job Completed, a failed smoke job leaves the
default as it was; batch jobs on a data asset and on a local folder, waited for, their predictions
downloaded; the service's errors; and the dry runs, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import azure_flows as flows

ENDPOINT = "churn-batch-stg-x1"
MODEL = "customer-churn-model:4"
BATCH_SPECS = Path("models/model1/deployment")
DATA_ASSET = flows.spec(Path(__file__).parents[1] / "aml/data.yml")["name"]
PREDICTIONS = "customers.csv,1,,1,0.81,\ncustomers.csv,2,,0,0.07,\n"


def deploy_batch(mlops, *args):
    return mlops(
        "deploy-batch",
        "--endpoint",
        BATCH_SPECS / "batch-endpoint.yml",
        "--deployment",
        BATCH_SPECS / "batch-deployment.yml",
        "--endpoint-name",
        ENDPOINT,
        "--model",
        MODEL,
        "--smoke-input",
        "sample-data",
        *args,
    )


def endpoint_with_default(azure, default: str | None) -> None:
    azure.serve("batch-endpoints/get.json", endpoint_name=ENDPOINT, default_deployment=default)


def create_deployment(azure, name: str, fails: bool = False) -> None:
    """The endpoint checked, the deployment's code uploaded and its inline environment registered,
    then its creation."""
    endpoint_with_default(azure, None)
    flows.code_upload(azure)
    azure.serve("environments/create.json", environment_name="CliV2AnonymousEnvironment")
    azure.serve("workspace/get.json")
    answers = "batch-deployments/create-fails.json" if fails else "batch-deployments/create.json"
    azure.serve(answers, endpoint_name=ENDPOINT, deployment_name=name)


def batch_job_status(azure, *statuses: str) -> None:
    for status in statuses:
        azure.serve("batch-jobs/get.json", status=status, experiment="customer-churn")


def local_folder_upload(azure) -> None:
    azure.serve("datastores/workspaceblobstore.json")
    azure.serve("storage/upload.json")


def smoke_job(azure, deployment: str, default: str | None, *statuses: str) -> None:
    listed = [flows.recorded_body("batch-deployments/create.json", 3) | {"name": deployment}]
    azure.serve("batch-deployments/list.json", endpoint_name=ENDPOINT, deployments=listed)
    local_folder_upload(azure)
    azure.serve("batch-endpoints/get.json", endpoint_name=ENDPOINT, default_deployment=default)
    azure.serve("batch-jobs/invoke.json", endpoint_name=ENDPOINT, job_name=flows.JOB)
    batch_job_status(azure, "NotStarted", *statuses)


def make_default(azure, before: str | None, after: str) -> None:
    endpoint_with_default(azure, before)
    azure.serve("workspace/get.json")
    azure.serve("batch-endpoints/update.json", endpoint_name=ENDPOINT, default_deployment=after)


def defaults_sent(azure) -> list:
    return [
        sent.json()["properties"].get("defaults")
        for sent in azure.requests("PUT")
        if sent.path.endswith(f"/batchEndpoints/{ENDPOINT}")
    ]


def test_the_first_rollout_creates_the_endpoint_and_makes_blue_the_default(azure, mlops, project):
    azure.serve("batch-endpoints/missing.json", endpoint_name=ENDPOINT)
    azure.serve("workspace/get.json")
    azure.serve("batch-endpoints/create.json", endpoint_name=ENDPOINT)
    create_deployment(azure, "blue")
    smoke_job(azure, "blue", None, "Running", "Completed")
    make_default(azure, None, "blue")

    result = deploy_batch(mlops)

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["deployment"], printed["model"], printed["smoke_job"]) == (
        "blue",
        MODEL,
        flows.JOB,
    )
    (created,) = azure.requests("PUT", f"/batchEndpoints/{ENDPOINT}/deployments/blue")
    properties = created.json()["properties"]
    assert properties["model"]["assetId"].endswith("/models/customer-churn-model/versions/4")
    assert (properties["outputAction"], properties["errorThreshold"]) == ("AppendRow", 0)
    (invoked,) = azure.requests("POST", "/jobs")
    assert invoked.headers["azureml-model-deployment"] == "blue"
    assert invoked.json()["properties"]["inputData"]["UriFolder"]["uri"].startswith(
        "azureml://datastores/workspaceblobstore/paths/"
    )
    assert defaults_sent(azure) == [None, {"deploymentName": "blue"}]


def test_a_live_endpoint_gets_green_as_its_default_after_a_good_smoke_job(azure, mlops, project):
    endpoint_with_default(azure, "blue")
    create_deployment(azure, "green")
    smoke_job(azure, "green", "blue", "Completed")
    make_default(azure, "blue", "green")

    result = deploy_batch(mlops)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"]["steps"] == [
        "create or update deployment green",
        "smoke job of deployment green",
        f"make green the default of {ENDPOINT}",
    ]
    assert defaults_sent(azure) == [{"deploymentName": "green"}]
    assert "stderr" not in result.stdout


@pytest.mark.parametrize("status", ["Failed", "Canceled"])
def test_a_smoke_job_that_does_not_complete_leaves_the_default_and_fails(
    azure, mlops, project, status
):
    endpoint_with_default(azure, "blue")
    create_deployment(azure, "green")
    smoke_job(azure, "green", "blue", "Running", status)

    result = deploy_batch(mlops)

    assert result.exit_code == 1
    assert result.stdout == ""
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"mlops: smoke job {flows.JOB} of deployment green ended {status}")
    assert line.endswith(f"the default of {ENDPOINT} stays blue")
    assert defaults_sent(azure) == []


def test_a_deployment_the_service_refuses_changes_no_default(azure, mlops, project):
    endpoint_with_default(azure, "green")
    create_deployment(azure, "blue", fails=True)

    result = deploy_batch(mlops)

    assert result.exit_code == 1
    line = result.stderr.splitlines()[-1]
    assert line.startswith("mlops: ") and "environment of the deployment failed to build" in line
    assert not azure.requests("POST", "/jobs")
    assert defaults_sent(azure) == []


def invoke_batch(mlops, *args):
    return mlops("invoke-batch", "--endpoint", ENDPOINT, *args)


def test_a_job_on_a_data_asset_is_submitted_and_not_waited_for(azure, mlops, project):
    flows.latest_data(azure, DATA_ASSET)
    azure.serve("batch-endpoints/get.json", endpoint_name=ENDPOINT, default_deployment="blue")
    azure.serve("batch-jobs/invoke.json", endpoint_name=ENDPOINT, job_name=flows.JOB)
    batch_job_status(azure, "NotStarted")

    result = invoke_batch(mlops, "--input", f"azureml:{DATA_ASSET}@latest")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["job_name"], printed["status"]) == (flows.JOB, "NotStarted")
    (invoked,) = azure.requests("POST", "/jobs")
    uri = invoked.json()["properties"]["inputData"]["UriFolder"]["uri"]
    assert uri.endswith(f"/data/{DATA_ASSET}/versions/1") or f"/data/{DATA_ASSET}/" in uri
    assert "azureml-model-deployment" not in invoked.headers


def test_a_job_on_a_local_folder_is_waited_for_and_its_predictions_downloaded(
    azure, mlops, project, tmp_path
):
    local_folder_upload(azure)
    azure.serve("batch-endpoints/get.json", endpoint_name=ENDPOINT, default_deployment="blue")
    azure.serve("batch-jobs/invoke.json", endpoint_name=ENDPOINT, job_name=flows.JOB)
    batch_job_status(azure, "NotStarted", "Running", "Completed", "Completed")
    flows.output_blob(azure, flows.JOB, "score", "predictions.csv", PREDICTIONS)
    folder = tmp_path / "predictions"

    result = invoke_batch(mlops, "--input", "sample-data", "--wait", "--download", folder)

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["status"] == "Completed"
    assert Path(printed["predictions"]) == folder / "predictions.csv"
    assert (folder / "predictions.csv").read_text(encoding="utf-8") == PREDICTIONS
    assert [sorted(p.name for p in folder.iterdir())] == [["predictions.csv"]]


def test_a_waited_for_job_that_fails_exits_1_naming_it(azure, mlops, project):
    local_folder_upload(azure)
    azure.serve("batch-endpoints/get.json", endpoint_name=ENDPOINT, default_deployment="blue")
    azure.serve("batch-jobs/invoke.json", endpoint_name=ENDPOINT, job_name=flows.JOB)
    batch_job_status(azure, "NotStarted", "Failed")

    result = invoke_batch(mlops, "--input", "sample-data", "--wait")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"mlops: batch job {flows.JOB} ended Failed")


def test_a_missing_endpoint_is_the_services_answer_in_one_line(azure, mlops, project):
    flows.latest_data(azure, DATA_ASSET)
    azure.serve("batch-endpoints/missing.json", endpoint_name=ENDPOINT)

    result = invoke_batch(mlops, "--input", f"azureml:{DATA_ASSET}@latest")

    assert result.exit_code == 1
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"mlops: An endpoint with the name '{ENDPOINT}' does not exist")
    assert "(UserError, HTTP 404)" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "no-such-folder"], "--input: no-such-folder is neither"),
        (["--input", "azureml:bad name@latest"], '--input: "bad name" must be'),
        (["--input", "sample-data", "--download", "out"], "--download needs --wait"),
        (["--input", "sample-data", "--deployment", "x"], '--deployment: "x" must be'),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(mlops, project, args, message):
    result = invoke_batch(mlops, *args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_the_dry_run_of_a_first_rollout_creates_the_endpoint_and_smoke_tests_blue(dry_run, project):
    document = dry_run(
        "deploy-batch",
        "--endpoint",
        BATCH_SPECS / "batch-endpoint.yml",
        "--deployment",
        BATCH_SPECS / "batch-deployment.yml",
        "--model",
        MODEL,
        "--smoke-input",
        "sample-data",
    )

    described = [(r["method"], r["description"]) for r in document["requests"]]
    endpoint = document["plan"]["endpoint"]
    assert described[0] == ("PUT", f"create batch endpoint {endpoint}")
    assert ("PUT", "create or update deployment blue") in described
    assert ("POST", "smoke job of deployment blue") in described
    assert described[-1] == ("PUT", f"make blue the default of {endpoint}")
    assert document["requests"][-1]["body"]["properties"]["defaults"] == {"deploymentName": "blue"}
    (smoke,) = [r for r in document["requests"] if r["method"] == "POST"]
    assert smoke["uploads"] == [
        {"field": "properties.inputData.UriFolder.uri", "local_path": "sample-data"}
    ]


def test_the_dry_run_on_a_live_endpoint_deploys_the_other_colour(dry_run, project):
    document = dry_run(
        "deploy-batch",
        "--endpoint",
        BATCH_SPECS / "batch-endpoint.yml",
        "--deployment",
        BATCH_SPECS / "batch-deployment.yml",
        "--model",
        MODEL,
        "--smoke-input",
        f"azureml:{DATA_ASSET}@latest",
        "--current-default",
        "green",
    )

    assert document["plan"]["new"] == "blue"
    assert not any("create batch endpoint" in r["description"] for r in document["requests"])


def test_apply_shows_the_nightly_schedule_and_what_its_job_needs(dry_run, project):
    document = dry_run("apply", BATCH_SPECS / "batch-schedule.yml")

    environment, component, schedule = document["requests"]
    assert environment["resource"].startswith("environments/CliV2AnonymousEnvironment/")
    assert component["uploads"] == [{"field": "properties.componentSpec.code", "local_path": "."}]
    assert "mlops invoke-batch" in component["body"]["properties"]["componentSpec"]["command"]
    assert schedule["resource"].startswith("schedules/")
    properties = schedule["body"]["properties"]
    assert properties["trigger"]["triggerType"] == "Cron"
    job = properties["action"]["jobDefinition"]
    assert job["jobType"] == "Pipeline"
    (step,) = job["jobs"].values()
    assert step["identity"] == {"identity_type": "Managed"}
    assert job["inputs"]["scoring_data"]["value"] == f"azureml:{DATA_ASSET}@latest"
