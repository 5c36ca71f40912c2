"""The evaluation gate and the metadata files that hand results from one command to the next."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from mlops import gate
from mlops.errors import GateRefused, InvalidInput
from mlops.metadata import (
    BestTrial,
    ModelMetadata,
    RunMetadata,
    read_model_metadata,
    read_run_metadata,
    status_text,
    write_metadata,
)
from mlops.naming import parse_model_reference
from mlops.register import model_location

METRICS = {"accuracy": 0.8, "roc_auc": 0.84}


@pytest.mark.parametrize(
    ("text", "expected"), [("roc_auc=0.75", ("roc_auc", 0.75)), (" f1 = 1", ("f1", 1.0))]
)
def test_threshold(text, expected):
    assert gate.parse_threshold(text) == expected


@pytest.mark.parametrize("text", ["roc_auc", "=0.7", "roc_auc=high", "roc_auc=nan"])
def test_bad_threshold(text):
    with pytest.raises(InvalidInput, match="--min-metric"):
        gate.parse_threshold(text)


def test_thresholds_pass_at_and_above_the_minimum():
    checks = gate.threshold_checks(METRICS, [("roc_auc", 0.84), ("accuracy", 0.5)])

    assert [check.passed for check in checks] == [True, True]
    gate.enforce(checks)


def test_threshold_below_the_minimum_refuses():
    checks = gate.threshold_checks(METRICS, [("roc_auc", 0.9), ("accuracy", 0.5)])

    with pytest.raises(GateRefused, match="roc_auc 0.84 is below the minimum 0.9") as refusal:
        gate.enforce(checks)
    assert refusal.value.exit_code == 1


def test_missing_metric_refuses():
    (check,) = gate.threshold_checks(METRICS, [("precision", 0.5)])

    assert not check.passed
    assert "precision was not reported (metrics: accuracy, roc_auc)" in check.reason


@pytest.mark.parametrize(
    ("production", "value", "passed"),
    [
        (None, None, True),
        ("m:3", None, True),
        ("m:3", 0.80, True),
        ("m:3", 0.84, False),
        ("m:3", 0.90, False),
    ],
)
def test_production_comparison(production, value, passed):
    check = gate.production_check("roc_auc", METRICS, production, value)

    assert check.passed is passed


def test_production_comparison_needs_the_candidates_metric():
    assert not gate.production_check("f1", METRICS, "m:3", 0.5).passed


def test_metrics_travel_as_model_properties():
    properties = gate.metric_properties(METRICS)

    assert properties == {"metric.accuracy": "0.8", "metric.roc_auc": "0.84"}
    assert gate.metric_from(properties, "roc_auc") == 0.84
    assert gate.metric_from(properties, "f1") is None
    assert gate.metric_from({"metric.f1": "n/a"}, "f1") is None


def test_metrics_file_keeps_numbers_only(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"roc_auc": 0.8, "n": 3, "ok": True, "note": "x"}))

    assert gate.read_metrics_file(path) == {"roc_auc": 0.8, "n": 3.0}


def test_run_metadata_round_trip(tmp_path):
    metadata = RunMetadata(
        job_name="sweep-1",
        status="Completed",
        studio_url="https://ml.azure.com/runs/sweep-1",
        experiment="churn",
        outputs={"model_output": "azureml://jobs/sweep-1_3/outputs/model_output/paths/"},
        job_type="sweep",
        best_trial=BestTrial("sweep-1_3", "roc_auc", 0.87),
    )
    path = tmp_path / "outputs" / "run.json"

    write_metadata(path, metadata)

    assert read_run_metadata(path) == metadata
    assert read_run_metadata(path).model_job == "sweep-1_3"
    written = json.loads(path.read_text())
    assert set(written) == {
        "job_name",
        "status",
        "studio_url",
        "experiment",
        "outputs",
        "error",
        "job_type",
        "best_trial",
    }
    assert written["best_trial"] == {
        "job_name": "sweep-1_3",
        "primary_metric": "roc_auc",
        "value": 0.87,
    }


def test_a_metric_recorded_as_a_tag_counts_as_one_recorded_as_a_property():
    by_register = SimpleNamespace(properties={"metric.roc_auc": "0.8"}, tags={})
    by_mlflow = SimpleNamespace(properties={}, tags={"metric.roc_auc": "0.81"})

    assert gate.recorded_metric(by_register, "roc_auc") == 0.8
    assert gate.recorded_metric(by_mlflow, "roc_auc") == 0.81
    assert gate.recorded_metric(by_mlflow, "f1") is None


def test_model_metadata_round_trip(tmp_path):
    metadata = ModelMetadata("churn-model", "4", "job-1", {"roc_auc": 0.8})
    path = tmp_path / "model.json"

    write_metadata(path, metadata)

    assert read_model_metadata(path) == metadata
    assert read_model_metadata(path).reference == "churn-model:4"


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "must hold a JSON object"), ("{", "not valid JSON"), ("{}", "job_name: missing")],
)
def test_bad_run_metadata(tmp_path, content, message):
    path = tmp_path / "run.json"
    path.write_text(content)

    with pytest.raises(InvalidInput, match=message):
        read_run_metadata(path)


def test_missing_metadata_file(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        read_model_metadata(tmp_path / "model.json")


def test_a_job_status_reads_as_the_service_words_it():
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus

    assert str(JobStatus.COMPLETED) == "JobStatus.COMPLETED"
    assert status_text(JobStatus.COMPLETED) == "Completed"
    assert status_text("Running") == "Running"
    assert status_text(None) == "Unknown"


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("churn-model:4", ("churn-model", "4")),
        ("azureml:churn-model:12", ("churn-model", "12")),
        ("churn_model:2026.05.1", ("churn_model", "2026.05.1")),
        ("Churn-Model:v2-rc_1", ("Churn-Model", "v2-rc_1")),
    ],
)
def test_model_reference(text, reference):
    assert parse_model_reference("--model", text) == reference


@pytest.mark.parametrize(
    "text",
    [
        "churn-model",
        ":3",
        "churn-model:",
        "churn model:3",
        "-churn:3",
        "churn:3;rm -rf",
        "churn:$(id)",
        "churn:`id`",
        "churn:3 4",
        "churn:3\n",
        "churn:.3",
        "churn/model:3",
        'churn:3"',
    ],
)
def test_bad_model_reference_names_the_option_the_value_and_the_rule(text):
    with pytest.raises(InvalidInput) as refused:
        parse_model_reference("--model", text)

    assert str(refused.value) == (
        f"--model: {json.dumps(text)} must be NAME:VERSION, the name 1 to 255 letters, digits, "
        "'_' or '-', starting with a letter or digit, the version 1 to 128 letters, digits, "
        "'.', '_' or '-', starting with a letter or digit"
    )
    assert refused.value.exit_code == 2


def test_a_model_version_in_model_metadata_follows_the_same_rule(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"name": "churn-model", "version": "4; echo"}))

    with pytest.raises(InvalidInput, match='version: "4; echo" must be 1 to 128'):
        read_model_metadata(path)


RUN = RunMetadata("job-9", "Completed", None, None, {"model_output": "azureml://x/paths/"})


@pytest.mark.parametrize(
    ("path", "uri", "output"),
    [
        (None, "azureml://x/paths/", "model_output"),
        ("model_output", "azureml://x/paths/", "model_output"),
        ("model_output/model.pkl", "azureml://x/paths/model.pkl", "model_output"),
        ("other", "azureml://jobs/job-9/outputs/other/paths/", "other"),
        ("azureml://datastores/d/paths/m/", "azureml://datastores/d/paths/m/", None),
        ("runs:/job-9/model", "runs:/job-9/model", None),
    ],
)
def test_model_location(path, uri, output):
    assert model_location(RUN, path) == (uri, output)
