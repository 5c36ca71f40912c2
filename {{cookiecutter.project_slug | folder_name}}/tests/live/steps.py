"""The steps of the live tests and what each checks in the commands' output.

The live tests (test_workspace_flow.py) run them against a real workspace; tests/test_live_steps.py
runs them against the scripted Azure ML service, so what they read from the output is what the
commands print. ``run`` runs ``mlops ARGS...``, fails unless it exits 0, and returns something
with the ``stdout`` it printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Run = Callable[..., Any]
# What `make apply MODEL=model1` applies: the shared specs and the model's training environment.
APPLIED_SPECS = ("aml/compute.yml", "aml/data.yml", "models/model1/aml_config/environment.yml")
TRAIN_SPEC = "models/model1/aml_config/train-amlcompute.yml"
ENDPOINT_SPEC = "models/model1/deployment/endpoint.yml"
DEPLOYMENT_SPEC = "models/model1/deployment/deployment.yml"
SAMPLE_REQUEST = "models/model1/deployment/sample-request.json"


def model_name(project_root: Path) -> str:
    deployment = yaml.safe_load((project_root / DEPLOYMENT_SPEC).read_text(encoding="utf-8"))
    return deployment["model"].removeprefix("azureml:").split("@")[0]


def apply_twice_changes_nothing_the_second_time(run: Run) -> None:
    run("apply", *APPLIED_SPECS)

    again = json.loads(run("apply", *APPLIED_SPECS).stdout)["applied"]

    results = {item["kind"]: item["result"] for item in again}
    assert results == {"compute": "applied", "environment": "unchanged", "data": "unchanged"}


def train_and_wait(run: Run, run_metadata: Path, *extra: str) -> dict[str, Any]:
    """``mlops train --wait``: the run metadata it wrote, of a Completed job."""
    run("train", TRAIN_SPEC, *extra, "--wait", "--metadata-out", run_metadata)
    written = json.loads(run_metadata.read_text())
    assert written["status"] == "Completed"
    return written


def register_behind_the_gate(
    run: Run, run_metadata: Path, name: str, gate: tuple[str, float], model_metadata: Path
) -> dict[str, Any]:
    """``mlops register`` behind ``gate`` (metric, minimum): the model metadata it wrote."""
    metric, minimum = gate
    run(
        "register",
        "--run-metadata",
        run_metadata,
        "--name",
        name,
        "--path",
        "model_output",
        "--min-metric",
        f"{metric}={minimum}",
        "--metadata-out",
        model_metadata,
    )
    registered = json.loads(model_metadata.read_text())
    assert registered["name"] == name
    assert registered["metrics"][metric] >= minimum
    return registered


def deploy_the_registered_model(
    run: Run, endpoint: str, model_metadata: Path, registered: dict[str, Any]
) -> None:
    deployed = json.loads(
        run(
            "deploy",
            "--endpoint",
            ENDPOINT_SPEC,
            "--deployment",
            DEPLOYMENT_SPEC,
            "--endpoint-name",
            endpoint,
            "--model-metadata",
            model_metadata,
            "--smoke-request",
            SAMPLE_REQUEST,
        ).stdout
    )
    assert deployed["model"] == f"{registered['name']}:{registered['version']}"


def invoke_scores_every_row(run: Run, project_root: Path, endpoint: str) -> None:
    answer = json.loads(run("invoke", "--endpoint", endpoint, "--request", SAMPLE_REQUEST).stdout)
    rows = json.loads((project_root / SAMPLE_REQUEST).read_text())["data"]
    assert len(answer["predictions"]) == len(rows)
