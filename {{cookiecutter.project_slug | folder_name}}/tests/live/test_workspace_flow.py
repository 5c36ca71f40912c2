"""The real commands against a real workspace: opt-in, as they create billable resources.

They run only with MLOPS_LIVE_TESTS=1 and the Azure settings present: ``make test-live`` (which
runs ``pytest -m live`` with MLOPS_LIVE_TESTS=1) once ``make doctor`` says the machine is ready.
Otherwise, ``make test`` included, they are reported as skipped, with the reason. They create and
update assets in the configured workspace, train on its cluster, register the model behind the
project's gate (GATE in the Makefile) and deploy to the staging endpoint (or MLOPS_LIVE_ENDPOINT),
as the CI/CD pipelines do; expect them to take tens of minutes.
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
OPT_IN_VARIABLE = "MLOPS_LIVE_TESTS"
HOW_TO_RUN = (
    f"run them with `make test-live` ({OPT_IN_VARIABLE}=1 python -m pytest -m live) "
    "once `make doctor` says the machine is ready"
)


def skip_reason() -> str | None:
    """Why the live tests do not run here, or None when they do."""
    if os.environ.get(OPT_IN_VARIABLE, "").strip() != "1":
        return f"live tests are opt-in, they create billable Azure resources: {HOW_TO_RUN}"
    missing = resolve_settings(start=PROJECT_ROOT).missing
    if missing:
        return (
            f"{OPT_IN_VARIABLE}=1 but no Azure ML workspace: set {', '.join(missing)} "
            "(or put a config.json in .azureml/ of the project)"
        )
    return None


@pytest.fixture(scope="module", autouse=True)
def live_workspace():
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)


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


def makefile_variable(name: str) -> str:
    """The value the Makefile gives ``name`` (``NAME := value`` or ``NAME ?= value``)."""
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name} [:?]= (\S+)$", makefile, re.MULTILINE)
    assert match, f"the Makefile does not set {name}"
    return match.group(1)


def staging_endpoint() -> str:
    return os.environ.get("MLOPS_LIVE_ENDPOINT") or makefile_variable("STAGING_ENDPOINT")


def project_gate() -> tuple[str, float]:
    """The gate `make register` applies: GATE in the Makefile, e.g. roc_auc=0.75."""
    metric, _, minimum = makefile_variable("GATE").partition("=")
    return metric, float(minimum)


def test_doctor_is_ready():
    assert "ready for the Azure commands" in mlops("doctor").stdout


def test_apply_is_idempotent():
    specs = ["aml/compute.yml", "aml/data.yml", "models/model1/aml_config/environment.yml"]
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

    metric, minimum = project_gate()
    mlops(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        model_name(),
        "--path",
        "model_output",
        "--min-metric",
        f"{metric}={minimum}",
        "--metadata-out",
        model_metadata,
    )
    registered = json.loads(model_metadata.read_text())
    assert registered["name"] == model_name()
    assert registered["metrics"][metric] >= minimum

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
