"""``mlops train --wait`` and ``mlops wait`` of a pipeline and of a sweep, through the real
azure-ai-ml client against the scripted Azure ML service: the progress lines (a pipeline's steps, a
sweep's trials and best metric), how each ends, and the run metadata that hands the model on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.output import PROGRESS_INTERVAL_SECONDS
from mlops.workspace import SETTING_VARIABLES
from tests import azure_flows as flows
from tests.azure_flows import BEST_TRIAL, PIPELINE, SWEEP
from tests.scripted_azure import RESOURCE_GROUP, SUBSCRIPTION_ID, WORKSPACE, WORKSPACE_ID

RUN_METADATA = Path("outputs/run.json")
SWEEP_SPEC = Path("models/model1/aml_config/sweep.yml")
STEP_ERROR = {
    "error": {
        "code": "UserError",
        "message": "Execution failed. User process 'python' exited with status code 1.",
    }
}
ALL_STEPS_COMPLETED = dict.fromkeys(flows.PIPELINE_STEPS, "Completed")
LATEST = "<latest version, resolved when sent>"
ANONYMOUS = "<a hash of the component, when sent>"


@pytest.fixture
def scripted_workspace(monkeypatch):
    """The workspace of the recordings configured, so dry runs name its resource ids."""
    for variable, value in zip(
        SETTING_VARIABLES.values(), (SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE), strict=True
    ):
        monkeypatch.setenv(variable, value)


def written_metadata() -> dict:
    return json.loads(RUN_METADATA.read_text())


def progress(stderr: str, kind: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{kind} ")]


def test_waiting_for_a_pipeline_shows_its_steps_each_time_they_change(azure, mlops, project):
    flows.pipeline_status(azure, "Running", first=True)
    flows.watch_pipeline(
        azure,
        [
            ("Running", {"prep": "Running"}),
            ("Running", {"prep": "Running"}),
            ("Running", {"prep": "Completed", "train": "Running"}),
            ("Completed", ALL_STEPS_COMPLETED),
        ],
    )

    result = mlops("wait", PIPELINE, "--metadata-out", RUN_METADATA)

    assert result.exit_code == 0, result.output
    assert progress(result.stderr, "pipeline") == [
        f"pipeline {PIPELINE} Running: prep Running (1 of 4 steps started)",
        f"pipeline {PIPELINE} Running: prep Completed, train Running (2 of 4 steps started)",
        f"pipeline {PIPELINE} Completed: prep Completed, train Completed, evaluate Completed, "
        "register Completed (4 of 4 steps started)",
    ]
    assert azure.sleeps.count(PROGRESS_INTERVAL_SECONDS) == 3
    metadata = written_metadata()
    assert json.loads(result.stdout) == metadata
    assert (metadata["job_type"], metadata["status"]) == ("pipeline", "Completed")
    # The pipeline's model_output is its train step's: register takes the model from it.
    assert metadata["outputs"] == {
        output: f"azureml://jobs/{PIPELINE}/outputs/{output}/paths/"
        for output in ("model_output", "evaluation", "registration")
    }
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_a_pipeline_is_sent_as_its_dry_run_shows_it(
    azure, mlops, project, paths, dry_run, scripted_workspace
):
    *shown_components, shown = dry_run("train", paths.pipeline, "--set", f"name={PIPELINE}")[
        "requests"
    ]
    flows.pipeline_submission(azure, paths.pipeline)

    result = mlops(
        "train", paths.pipeline, "--set", f"name={PIPELINE}", "--metadata-out", RUN_METADATA
    )

    assert result.exit_code == 0, result.output
    assert written_metadata()["job_type"] == "pipeline"
    sent_components = azure.requests("PUT", "/components/azureml_anonymous/versions/")
    assert len(sent_components) == len(shown_components) == len(flows.PIPELINE_STEPS)
    for sent, component in zip(sent_components, shown_components, strict=True):
        sent_spec = sent.json()["properties"]["componentSpec"]
        shown_spec = component["body"]["properties"]["componentSpec"]
        # What only the workspace knows: the environment's version, the code asset's id.
        assert sent_spec["environment"] == shown_spec["environment"].replace(LATEST, "1")
        assert sent_spec["code"].startswith(f"azureml:{WORKSPACE_ID}/codes/")
        assert {**shown_spec, "code": None, "environment": None} == {
            **sent_spec,
            "code": None,
            "environment": None,
        }
    (sent,) = azure.requests("PUT", "/jobs/")
    sent_job, shown_job = sent.json()["properties"], shown["body"]["properties"]
    for step, sent_component in zip(flows.PIPELINE_STEPS, sent_components, strict=True):
        version = sent_component.path.rsplit("/", 1)[-1]
        step_component = shown_job["jobs"][step]["componentId"]
        shown_job["jobs"][step]["componentId"] = step_component.replace(ANONYMOUS, version)
    shown_job["inputs"]["raw_data"]["uri"] = shown_job["inputs"]["raw_data"]["uri"].replace(
        LATEST, "2"
    )
    assert sent_job == shown_job


def test_a_failed_step_ends_the_wait_with_its_own_error_and_exit_1(azure, mlops, project):
    flows.pipeline_status(azure, "Running", first=True)
    flows.watch_pipeline(azure, [("Failed", {"prep": "Completed", "train": "Failed"})])
    azure.serve(
        "jobs/run-details.json",
        job_name=flows.step_run_id("train"),
        status="Failed",
        error=STEP_ERROR,
    )

    result = mlops("wait", PIPELINE, "--metadata-out", RUN_METADATA)

    assert result.exit_code == 1
    assert result.stdout == ""
    reason = (
        "step train failed: Execution failed. User process 'python' exited with status code 1. "
        "(UserError)"
    )
    assert result.stderr.splitlines()[-1].startswith(
        f"mlops: job {PIPELINE} ended Failed: {reason} (log: https://ml.azure.com/runs/{PIPELINE}"
    )
    assert written_metadata()["error"] == reason


def test_ctrl_c_while_following_a_pipeline_says_how_to_go_on(azure, mlops, project):
    flows.pipeline_status(azure, "Running", first=True)
    flows.watch_pipeline(azure, [("Running", {"prep": "Running"})])
    azure.press_ctrl_c_in_a_sleep_of(PROGRESS_INTERVAL_SECONDS)

    result = mlops("wait", PIPELINE)

    assert result.exit_code == 130
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"mlops: stopped waiting for job {PIPELINE}, which goes on in Azure")
    assert f"`mlops wait {PIPELINE}`" in line and f"`mlops cancel {PIPELINE}`" in line


def sweep_submission(azure) -> None:
    """Everything `mlops train` sends for the project's sweep, until the service's 201."""
    document = flows.spec(SWEEP_SPEC)
    flows.code_upload(azure)
    flows.latest_environment(azure, flows.reference_name(document["trial"]["environment"]))
    flows.latest_data(azure, flows.reference_name(document["inputs"]["training_data"]["path"]))
    azure.serve("jobs/sweep-create.json", experiment=document["experiment_name"])


def train_sweep(mlops, *args):
    return mlops(
        "train", SWEEP_SPEC, "--set", f"name={SWEEP}", *args, "--metadata-out", RUN_METADATA
    )


def test_a_sweep_is_sent_as_its_dry_run_shows_it(
    azure, mlops, project, dry_run, scripted_workspace
):
    (shown,) = dry_run("train", SWEEP_SPEC, "--set", f"name={SWEEP}")["requests"]
    sweep_submission(azure)

    assert train_sweep(mlops).exit_code == 0

    assert written_metadata()["job_type"] == "sweep"
    (sent,) = azure.requests("PUT", "/jobs/")
    sent_job, shown_job = sent.json()["properties"], shown["body"]["properties"]
    assert sent_job["jobType"] == "Sweep"
    # What only the workspace knows: the versions @latest named, the uploaded code's id.
    shown_job["trial"]["environmentId"] = shown_job["trial"]["environmentId"].replace(LATEST, "1")
    data = shown_job["inputs"]["training_data"]
    data["uri"] = data["uri"].replace(LATEST, "2")
    assert sent_job["trial"]["codeId"].startswith(f"{WORKSPACE_ID}/codes/")
    shown_job["trial"]["codeId"] = sent_job["trial"]["codeId"]
    assert sent_job == shown_job


def test_waiting_for_a_sweep_counts_its_trials_and_ends_with_its_best(azure, mlops, project):
    sweep_submission(azure)
    flows.watch_sweep(
        azure,
        [
            ("Running", ["Running", "Running"], None),
            ("Running", ["Completed", "Running", "Running"], (f"{SWEEP}_0", 0.84)),
            ("Completed", ["Completed", "Failed", "Canceled", "Completed"], (BEST_TRIAL, 0.87)),
        ],
    )

    result = train_sweep(mlops, "--wait")

    assert result.exit_code == 0, result.output
    assert progress(result.stderr, "sweep") == [
        f"sweep {SWEEP} Running: 2 of 20 trials (2 running)",
        f"sweep {SWEEP} Running: 3 of 20 trials (1 completed, 2 running); best roc_auc so far "
        f"0.84 ({SWEEP}_0)",
        f"sweep {SWEEP} Completed: 4 of 20 trials (2 completed, 1 failed, 1 canceled); best "
        f"roc_auc 0.87 ({BEST_TRIAL})",
    ]
    metadata = written_metadata()
    assert metadata["best_trial"] == {
        "job_name": BEST_TRIAL,
        "primary_metric": "roc_auc",
        "value": 0.87,
    }
    # A sweep's model is its best trial's.
    assert metadata["outputs"] == {
        "model_output": f"azureml://jobs/{BEST_TRIAL}/outputs/model_output/paths/"
    }


def test_a_sweep_completed_without_a_best_trial_fails_the_wait(azure, mlops, project):
    flows.sweep_status(azure, "Running")
    flows.watch_sweep(azure, [("Completed", ["Failed", "Failed"], None)])

    result = mlops("wait", SWEEP)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"mlops: sweep {SWEEP} completed without a best trial: no trial reported its primary metric"
    )


def test_a_failed_sweep_ends_with_its_own_error(azure, mlops, project):
    flows.sweep_status(azure, "Running")
    flows.watch_sweep(azure, [("Failed", ["Failed"], None)])
    error = {"error": {"code": "UserError", "message": "The sweep ran out of time."}}
    azure.serve("jobs/run-details.json", job_name=SWEEP, status="Failed", error=error)

    result = mlops("wait", SWEEP)

    assert result.exit_code == 1
    assert "ended Failed: The sweep ran out of time. (UserError) (log: " in result.stderr
