"""The real commands against a real workspace: run only where the Azure settings are present.

Select them with ``pytest -m live``. They create and update assets in the configured workspace,
train on its cluster and deploy to the staging endpoint (or MLOPS_LIVE_ENDPOINT), as the CI/CD
pipelines do; expect them to take tens of minutes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops.workspace import resolve_settings

pytestmark = pytest.mark.live

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = PROJECT_ROOT / "models" / "model1"
SAMPLE_REQUEST = MODEL_DIR / "deployment" / "sample-request.json"


@pytest.fixture(scope="module", autouse=True)
def workspace():
    settings = resolve_settings()
    if settings.missing:
        pytest.skip("needs an Azure ML workspace: set " + ", ".join(settings.missing))
    return settings


def mlops(*args: object, timeout: int = 3600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "mlops", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def model_name() -> str:
    deployment = yaml.safe_load((MODEL_DIR / "deployment" / "deployment.yml").read_text())
    return deployment["model"].removeprefix("azureml:").split("@")[0]


def staging_endpoint() -> str:
    configured = os.environ.get("MLOPS_LIVE_ENDPOINT")
    if configured:
        return configured
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    return re.search(r"^STAGING_ENDPOINT := (\S+)$", makefile, re.MULTILINE).group(1)


def test_doctor_is_ready():
    assert "ready for the Azure commands" in mlops("doctor").stdout


def test_apply_is_idempotent():
    specs = ["aml/compute.yml", "aml/environment.yml", "aml/data.yml"]
    mlops("apply", *specs)

    again = json.loads(mlops("apply", *specs).stdout)["applied"]

    results = {item["kind"]: item["result"] for item in again}
    assert results == {"compute": "applied", "environment": "unchanged", "data": "unchanged"}


def test_train_register_deploy_invoke(tmp_path):
    run_metadata = tmp_path / "run.json"
    model_metadata = tmp_path / "model.json"
    endpoint = staging_endpoint()

    mlops(
        "train",
        "models/model1/aml_config/train-amlcompute.yml",
        "--wait",
        "--metadata-out",
        run_metadata,
    )
    assert json.loads(run_metadata.read_text())["status"] == "Completed"

    mlops(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        model_name(),
        "--path",
        "model_output",
        "--min-metric",
        "roc_auc=0.5",
        "--metadata-out",
        model_metadata,
    )
    registered = json.loads(model_metadata.read_text())
    assert registered["name"] == model_name()
    assert registered["metrics"]["roc_auc"] >= 0.5

    deployed = json.loads(
        mlops(
            "deploy",
            "--endpoint",
            "models/model1/deployment/endpoint.yml",
            "--deployment",
            "models/model1/deployment/deployment.yml",
            "--endpoint-name",
            endpoint,
            "--model-metadata",
            model_metadata,
            "--smoke-request",
            SAMPLE_REQUEST,
        ).stdout
    )
    assert deployed["model"] == f"{registered['name']}:{registered['version']}"

    answer = json.loads(mlops("invoke", "--endpoint", endpoint, "--request", SAMPLE_REQUEST).stdout)
    rows = json.loads(SAMPLE_REQUEST.read_text())["data"]
    assert len(answer["predictions"]) == len(rows)
