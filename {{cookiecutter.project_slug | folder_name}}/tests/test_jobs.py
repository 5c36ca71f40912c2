"""``mlops train``, ``wait`` and ``cancel`` through the real azure-ai-ml client, against the
scripted Azure ML service: submission, the log stream, each way a job ends, each interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.output import PROGRESS_INTERVAL_SECONDS
from mlops.train import STATUS_TRIES
from mlops.workspace import SETTING_VARIABLES
from tests import azure_flows as flows
from tests.azure_flows import JOB, TRAINING_LOG
from tests.scripted_azure import RESOURCE_GROUP, SUBSCRIPTION_ID, WORKSPACE, WORKSPACE_ID

STUDIO = f"https://ml.azure.com/runs/{JOB}?wsid="
RUN_METADATA = Path("outputs/run.json")
SCRIPTED_WORKSPACE = (SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE)
LATEST = "<latest version, resolved when sent>"
JOB_ERROR = {
    "error": {
        "code": "UserError",
        "message": "Execution failed. User process 'python' exited with status code 1.",
    }
}


def experiment(paths) -> str:
    return flows.spec(paths.train)["experiment_name"]


def train(mlops, paths, *args):
    """``mlops train`` of the project's job, named as the job of the recordings."""
    return mlops(
        "train", paths.train, "--set", f"name={JOB}", *args, "--metadata-out", RUN_METADATA
    )


def written_metadata() -> dict:
    return json.loads(RUN_METADATA.read_text())


def test_submitting_writes_run_metadata_with_the_status_as_the_service_words_it(
    azure, mlops, project, paths
):
    flows.submit_job(azure, paths.train)

    result = train(mlops, paths)

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["status"] == "Starting"
    assert printed == written_metadata()
    assert printed["job_name"] == JOB
    assert printed["experiment"] == experiment(paths)
    assert printed["studio_url"].startswith(STUDIO)
    assert printed["outputs"] == {
        "model_output": f"azureml://jobs/{JOB}/outputs/model_output/paths/"
    }


def test_the_job_is_sent_as_the_dry_run_shows_it(azure, mlops, project, paths, monkeypatch):
    for variable, value in zip(SETTING_VARIABLES.values(), SCRIPTED_WORKSPACE, strict=True):
        monkeypatch.setenv(variable, value)
    compute = flows.reference_name(flows.spec(paths.train)["compute"])
    flows.submit_job(azure, paths.train)
    dry_run = mlops("train", paths.train, "--set", f"name={JOB}", "--dry-run")
    shown = json.loads(dry_run.stdout)["requests"][0]["body"]

    assert train(mlops, paths).exit_code == 0
    (sent,) = azure.requests("PUT", "/jobs/")

    sent_job, shown_job = sent.json()["properties"], shown["properties"]
    assert sent_job["computeId"] == shown_job["computeId"] == f"{WORKSPACE_ID}/computes/{compute}"
    # The versions @latest named when sent: those of environments/latest.json, data/latest.json.
    shown_job["environmentId"] = shown_job["environmentId"].replace(LATEST, "1")
    data = shown_job["inputs"]["training_data"]
    data["uri"] = data["uri"].replace(LATEST, "2")
    # The code is uploaded when sent; the dry run names the folder.
    assert sent_job["codeId"].startswith(f"{WORKSPACE_ID}/codes/")
    assert {**shown_job, "codeId": sent_job["codeId"]} == sent_job


def test_waiting_streams_the_log_to_stderr_and_ends_with_the_completed_job(
    azure, mlops, project, paths
):
    flows.submit_job(azure, paths.train)
    flows.stream_job(azure, "Completed", experiment=experiment(paths))
    flows.job_status(azure, "Completed", experiment(paths))

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "Completed"
    assert written_metadata()["status"] == "Completed"
    assert TRAINING_LOG in result.stderr
    assert "Execution Summary" in result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_a_failed_job_ends_with_its_own_error_and_exit_1(azure, mlops, project, paths):
    flows.submit_job(azure, paths.train)
    flows.stream_job(azure, "Failed", error=JOB_ERROR, experiment=experiment(paths))
    flows.job_status(azure, "Failed", experiment(paths))

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 1
    assert result.stdout == ""
    reason = "Execution failed. User process 'python' exited with status code 1. (UserError)"
    assert result.stderr.splitlines()[-1].startswith(f"mlops: job {JOB} ended Failed: {reason}")
    assert written_metadata()["error"] == reason
    assert written_metadata()["status"] == "Failed"


def test_a_canceled_job_fails_the_wait(azure, mlops, project, paths):
    flows.submit_job(azure, paths.train)
    flows.stream_job(azure, "Canceled", experiment=experiment(paths))
    flows.job_status(azure, "Canceled", experiment(paths))

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 1
    assert f"mlops: job {JOB} ended Canceled (log: {STUDIO}" in result.stderr


def test_a_dropped_log_stream_is_followed_by_polling_until_the_job_ends(
    azure, mlops, project, paths
):
    flows.submit_job(azure, paths.train)
    flows.job_status(azure, "Running", experiment(paths))
    azure.serve("workspace/get.json")
    azure.serve("workspace/discovery.json")
    azure.serve("datastores/workspaceartifactstore.json")
    azure.serve("jobs/run-details-dropped.json")
    for status in ("Running", "Finalizing", "Completed"):
        flows.job_status(azure, status, experiment(paths))

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 0, result.output
    assert f"the log stream of job {JOB} stopped: " in result.stderr
    assert "Connection aborted" in result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith(f"job {JOB}: ")]
    assert [line.split()[2] for line in progress] == ["Finalizing", "Completed"]
    assert azure.sleeps.count(15) == 2


def test_ctrl_c_while_waiting_says_how_to_follow_or_cancel_the_job(azure, mlops, project, paths):
    flows.submit_job(azure, paths.train)
    flows.job_status(azure, "Running", experiment(paths))
    azure.serve("workspace/get.json")
    azure.serve("workspace/discovery.json")
    azure.serve("datastores/workspaceartifactstore.json")
    azure.serve("jobs/run-details-ctrl-c.json")

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 130
    assert result.stdout == ""
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"mlops: stopped waiting for job {JOB}, which goes on in Azure: ")
    assert f"follow it again with `mlops wait {JOB}`" in line
    assert f"cancel it with `mlops cancel {JOB}`" in line
    assert written_metadata()["status"] == "Starting"


def test_ctrl_c_while_polling_stops_the_wait_too(azure, mlops, project, paths):
    azure.serve("jobs/get.json", status="Running", experiment="churn")
    azure.serve("jobs/get.json", status="Running", experiment="churn")
    azure.serve("workspace/get.json")
    azure.serve("workspace/discovery.json")
    azure.serve("datastores/workspaceartifactstore.json")
    azure.serve("jobs/run-details-dropped.json")
    azure.serve("jobs/get.json", status="Running", experiment="churn")
    azure.press_ctrl_c_in_a_sleep_of(PROGRESS_INTERVAL_SECONDS)

    result = mlops("wait", JOB)

    assert result.exit_code == 130
    assert f"`mlops wait {JOB}`" in result.stderr.splitlines()[-1]


def test_wait_follows_a_submitted_job_to_its_end(azure, mlops, project, paths):
    flows.job_status(azure, "Running", "churn")
    flows.stream_job(azure, "Completed", experiment="churn")
    flows.job_status(azure, "Completed", "churn")

    result = mlops("wait", JOB, "--metadata-out", RUN_METADATA)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "Completed"
    assert written_metadata()["status"] == "Completed"
    assert written_metadata()["outputs"] == {
        "model_output": f"azureml://jobs/{JOB}/outputs/model_output/paths/"
    }


@pytest.mark.parametrize("status", ["Completed", "Failed", "Canceled", "NotResponding", "Paused"])
def test_wait_on_a_job_that_has_ended_reports_it_at_once(azure, mlops, project, status):
    flows.job_status(azure, status, "churn")

    result = mlops("wait", JOB)

    if status == "Completed":
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["status"] == "Completed"
    else:
        assert result.exit_code == 1
        assert f"mlops: job {JOB} ended {status} (log: " in result.stderr


def test_wait_on_a_job_that_does_not_exist_says_so(azure, mlops, project):
    azure.serve("jobs/missing.json")

    result = mlops("wait", JOB)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "mlops: The specified resource was not found: Job test_334734506738 was not found in "
        "workspace 00000. (UserError, HTTP 404)"
    ]


def test_cancel_asks_azure_and_reports_the_status(azure, mlops, project):
    azure.serve("jobs/cancel.json")
    flows.job_status(azure, "Canceled", "churn")

    result = mlops("cancel", JOB)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"command": "cancel", "job_name": JOB, "status": "Canceled"}
    assert azure.requests("POST", f"/jobs/{JOB}/cancel")


def test_a_missing_data_asset_is_named_with_what_to_do(azure, mlops, project, paths):
    document = flows.spec(paths.train)
    data = flows.reference_name(document["inputs"]["training_data"]["path"])
    flows.code_upload(azure)
    flows.latest_environment(azure, flows.reference_name(document["environment"]))
    azure.serve("data/missing.json", data_name=data)

    result = train(mlops, paths)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"mlops: Asset {data} does not exist in workspace 00000."
    )


def test_an_unknown_compute_is_refused_by_the_service_in_one_line(azure, mlops, project, paths):
    document = flows.spec(paths.train)
    compute = flows.reference_name(document["compute"])
    flows.code_upload(azure)
    flows.latest_environment(azure, flows.reference_name(document["environment"]))
    flows.latest_data(azure, flows.reference_name(document["inputs"]["training_data"]["path"]))
    azure.serve("jobs/unknown-compute.json", compute_name=compute)

    result = train(mlops, paths)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"mlops: Unknown compute target '{compute}'. (UserError, HTTP 400)"
    )
    assert not RUN_METADATA.exists()


def test_reading_the_status_is_tried_again_after_the_network_dropped_it(azure, mlops, project):
    flows.job_status(azure, "Running", "churn")
    azure.serve("jobs/get-dropped.json")  # the log stream's
    azure.serve("jobs/get-dropped.json")  # the first status read's
    flows.job_status(azure, "Completed", "churn")

    result = mlops("wait", JOB)

    assert result.exit_code == 0, result.output
    assert result.stderr.count(f"could not read the status of job {JOB}") == 1


def test_waiting_gives_up_when_the_status_cannot_be_read(azure, mlops, project, paths):
    flows.submit_job(azure, paths.train)
    azure.serve("jobs/get-dropped.json")
    for _ in range(STATUS_TRIES):
        azure.serve("jobs/get-dropped.json")

    result = train(mlops, paths, "--wait")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"mlops: could not read the status of job {JOB} ({STATUS_TRIES} tries, it may still be "
        "running): "
    )
    assert written_metadata()["status"] == "Starting"
