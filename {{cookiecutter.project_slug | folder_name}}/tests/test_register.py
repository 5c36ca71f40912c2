"""``mlops register`` through the real azure-ai-ml client, against the scripted Azure ML service:
the job's status read from Azure, its metrics file fetched alone, the gate, the registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import azure_flows as flows
from tests.azure_flows import BEST_TRIAL, JOB, PIPELINE, SWEEP

MODEL = "customer-churn-model"
METRICS = {"accuracy": 0.82, "roc_auc": 0.86}


@pytest.fixture
def run_metadata(project) -> Path:
    """Run metadata as `mlops train` writes it without --wait: the job had just started."""
    path = project / "outputs" / "run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "job_name": JOB,
                "status": "Starting",
                "studio_url": f"https://ml.azure.com/runs/{JOB}",
                "experiment": "customer-churn",
                "outputs": {"model_output": f"azureml://jobs/{JOB}/outputs/model_output/paths/"},
            }
        )
    )
    return path


def register(mlops, run_metadata, *args):
    return mlops(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        MODEL,
        "--path",
        "model_output",
        *args,
        "--metadata-out",
        "outputs/model.json",
    )


def production(version: str, roc_auc: str) -> dict:
    return flows.model_version(MODEL, version, {"stage": "production"}, {"metric.roc_auc": roc_auc})


def test_register_reads_the_jobs_real_status_and_only_its_metrics_file(azure, mlops, run_metadata):
    flows.job_status(azure, "Completed")
    flows.job_metrics(azure, METRICS)
    flows.register_model(azure, MODEL)

    result = register(mlops, run_metadata, "--min-metric", "roc_auc=0.75", "--tag", "team=ds")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["name"], printed["version"], printed["metrics"]) == (MODEL, "1", METRICS)
    assert json.loads(Path("outputs/model.json").read_text())["version"] == "1"
    (sent,) = azure.requests("PUT", f"/models/{MODEL}/versions/1")
    model = sent.json()["properties"]
    assert model["modelUri"] == f"azureml://jobs/{JOB}/outputs/model_output/paths/"
    assert model["tags"] == {"team": "ds"}
    assert model["properties"]["metric.roc_auc"] == "0.86"
    downloads = [sent.path for sent in azure.requests("GET") if ".blob." in sent.url]
    assert downloads[-1].endswith(f"/azureml/{JOB}/model_output/metrics.json")
    assert len(downloads) == 2  # the listing of that one name, and the file


def test_a_job_still_running_is_not_registered_yet(azure, mlops, run_metadata):
    flows.job_status(azure, "Running")

    result = register(mlops, run_metadata)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"mlops: job {JOB} is Running, not Completed yet: wait for it with `mlops wait {JOB}`"
    )


def test_a_failed_job_has_no_model_to_register(azure, mlops, run_metadata):
    flows.job_status(azure, "Failed")

    result = register(mlops, run_metadata)

    assert result.exit_code == 1
    assert f"mlops: job {JOB} ended Failed; there is no model to register" in result.stderr


def test_the_gate_refuses_a_weak_model_and_registers_nothing(azure, mlops, run_metadata):
    flows.job_status(azure, "Completed")
    flows.job_metrics(azure, {"roc_auc": 0.6})

    result = register(mlops, run_metadata, "--min-metric", "roc_auc=0.75")

    assert result.exit_code == 1
    assert "mlops: gate refused the model: roc_auc 0.6 is below the minimum 0.75" in result.stderr
    assert not azure.requests("PUT")
    assert not Path("outputs/model.json").exists()


@pytest.mark.parametrize(("production_auc", "registered"), [("0.80", True), ("0.90", False)])
def test_the_gate_compares_with_the_production_version(
    azure, mlops, run_metadata, production_auc, registered
):
    flows.job_status(azure, "Completed")
    flows.job_metrics(azure, METRICS)
    azure.serve("models/list.json", model_name=MODEL, versions=[production("3", production_auc)])
    if registered:
        azure.serve(
            "models/list.json", model_name=MODEL, versions=[production("3", production_auc)]
        )
        azure.serve("models/container.json", model_name=MODEL)
        azure.serve("models/create.json", model_name=MODEL, version="4")

    result = register(mlops, run_metadata, "--compare-production", "roc_auc")

    assert result.exit_code == (0 if registered else 1), result.output
    if registered:
        assert json.loads(result.stdout)["version"] == "4"
    else:
        assert f"not better than production {MODEL}:3 ({float(production_auc):g})" in result.stderr
        assert not azure.requests("PUT")


def test_a_job_output_without_metrics_is_named(azure, mlops, run_metadata):
    flows.job_status(azure, "Completed")
    flows.job_metrics(azure, None)

    result = register(mlops, run_metadata, "--min-metric", "roc_auc=0.75")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"mlops: job {JOB} wrote no metrics.json into "
        f"azureml://datastores/workspaceblobstore/paths/azureml/{JOB}/model_output/metrics.json"
    )


def test_a_registration_the_service_refuses_is_one_line(azure, mlops, run_metadata):
    flows.job_status(azure, "Completed")
    azure.serve("models/missing.json", model_name=MODEL)
    azure.serve("models/container-missing.json", model_name=MODEL)
    azure.serve("models/create-refused.json", model_name=MODEL, version="1")

    result = register(mlops, run_metadata)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"mlops: Could not find the output model_output of job {JOB}. (UserError, HTTP 400)"
    )
    assert not Path("outputs/model.json").exists()


def run_metadata_of(project, job: str, job_type: str, outputs: tuple[str, ...]) -> Path:
    """Run metadata as `mlops train` writes it when it submitted a pipeline or a sweep."""
    path = project / "outputs" / "run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "job_name": job,
                "job_type": job_type,
                "status": "Running",
                "outputs": {
                    name: f"azureml://jobs/{job}/outputs/{name}/paths/" for name in outputs
                },
            }
        )
    )
    return path


PIPELINE_OUTPUTS = ("model_output", "evaluation", "registration")


def step_registration(registered: bool, model_name: str = MODEL, version: str | None = "3"):
    """The registration.json of the pipeline's register step (components/register.py)."""
    reason = (
        "roc_auc 0.86 reaches the minimum 0.75"
        if registered
        else ("roc_auc 0.71 is below the minimum 0.75")
    )
    return {
        "registered": registered,
        "reason": reason,
        "model_name": model_name,
        "version": version if registered else None,
        "metrics": METRICS if registered else {"roc_auc": 0.71},
    }


def after_the_pipeline(azure, registration: dict) -> None:
    flows.pipeline_status(azure, "Completed", first=True)
    flows.output_file(azure, PIPELINE, "registration", "registration.json", registration)


def test_after_a_pipeline_the_version_its_register_step_registered_is_adopted(
    azure, mlops, project
):
    run = run_metadata_of(project, PIPELINE, "pipeline", PIPELINE_OUTPUTS)
    after_the_pipeline(azure, step_registration(True))

    result = register(mlops, run, "--min-metric", "roc_auc=0.75")

    assert result.exit_code == 0, result.output
    adopted = {"name": MODEL, "version": "3", "job_name": PIPELINE, "metrics": METRICS}
    assert json.loads(Path("outputs/model.json").read_text()) == adopted
    assert json.loads(result.stdout)["gate"][0]["passed"] is True
    assert not azure.requests("PUT"), "one pipeline run, one version: nothing registered again"
    downloads = [sent.path for sent in azure.requests("GET") if ".blob." in sent.url]
    assert downloads[-1].endswith(f"/azureml/{PIPELINE}/registration/registration.json")


def test_after_a_pipeline_its_register_steps_refusal_is_the_gates(azure, mlops, project):
    run = run_metadata_of(project, PIPELINE, "pipeline", PIPELINE_OUTPUTS)
    after_the_pipeline(azure, step_registration(False))

    result = register(mlops, run, "--min-metric", "roc_auc=0.75")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "mlops: gate refused the model: the pipeline's register step: roc_auc 0.71 is below the "
        "minimum 0.75"
    )
    assert not Path("outputs/model.json").exists()


def test_after_a_pipeline_a_version_of_another_name_is_refused(azure, mlops, project):
    run = run_metadata_of(project, PIPELINE, "pipeline", PIPELINE_OUTPUTS)
    after_the_pipeline(azure, step_registration(True, model_name="other-model"))

    result = register(mlops, run)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"mlops: --name {MODEL}: the pipeline's register step registered other-model:3 (its "
        "input model_name): give both the same name"
    )
    assert not Path("outputs/model.json").exists()


def test_after_a_sweep_the_model_of_its_best_trial_is_registered(azure, mlops, project):
    # Written when the sweep was submitted: its best trial was not known yet.
    run = run_metadata_of(project, SWEEP, "sweep", ("model_output",))
    flows.sweep_status(azure, "Completed", best=(BEST_TRIAL, 0.86))
    azure.serve("jobs/get.json", job_name=BEST_TRIAL, status="Completed", experiment="churn")
    flows.job_metrics(azure, METRICS, job=BEST_TRIAL)
    flows.register_model(azure, MODEL)

    result = register(mlops, run, "--min-metric", "roc_auc=0.75")

    assert result.exit_code == 0, result.output
    (sent,) = azure.requests("PUT", f"/models/{MODEL}/versions/1")
    model = sent.json()["properties"]
    assert model["modelUri"] == f"azureml://jobs/{BEST_TRIAL}/outputs/model_output/paths/"
    assert model["properties"]["metric.roc_auc"] == "0.86"
    downloads = [sent.path for sent in azure.requests("GET") if ".blob." in sent.url]
    assert downloads[-1].endswith(f"/azureml/{BEST_TRIAL}/model_output/metrics.json")


def test_production_metrics_recorded_as_tags_are_compared_too(azure, mlops, run_metadata):
    # The pipeline's register step registers through MLflow, which records metrics as tags.
    registered_by_mlflow = flows.model_version(
        MODEL, "3", {"stage": "production", "metric.roc_auc": "0.9"}, {}
    )
    flows.job_status(azure, "Completed")
    flows.job_metrics(azure, METRICS)
    azure.serve("models/list.json", model_name=MODEL, versions=[registered_by_mlflow])

    result = register(mlops, run_metadata, "--compare-production", "roc_auc")

    assert result.exit_code == 1
    assert f"not better than production {MODEL}:3 (0.9)" in result.stderr
    assert not azure.requests("PUT")
