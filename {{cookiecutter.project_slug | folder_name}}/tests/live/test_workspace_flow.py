"""The real commands against a real workspace: opt-in, as they create billable resources.

They run only with MLOPS_LIVE_TESTS=1 and the Azure settings present: ``make test-live`` (which
runs ``pytest -m live`` with MLOPS_LIVE_TESTS=1) once ``make doctor`` says the machine is ready.
Otherwise, ``make test`` included, they are reported as skipped, with the reason. They create and
update assets in the configured workspace, train on its cluster, register the model behind the
project's gate (GATE in the Makefile) and deploy to the staging endpoint (or MLOPS_LIVE_ENDPOINT),
as the CI/CD pipelines do; expect them to take tens of minutes. Their steps, and what they read from
the commands' output, are in steps.py; tests/test_live_steps.py runs the same steps against the
scripted Azure ML service.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.workspace import resolve_settings
from tests.live import steps

pytestmark = pytest.mark.live

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
    steps.apply_twice_changes_nothing_the_second_time(mlops)


def test_train_register_deploy_invoke(tmp_path):
    run_metadata = tmp_path / "run.json"
    model_metadata = tmp_path / "model.json"
    endpoint = staging_endpoint()

    steps.train_and_wait(mlops, run_metadata)
    registered = steps.register_behind_the_gate(
        mlops, run_metadata, steps.model_name(PROJECT_ROOT), project_gate(), model_metadata
    )
    steps.deploy_the_registered_model(mlops, endpoint, model_metadata, registered)
    steps.invoke_scores_every_row(mlops, PROJECT_ROOT, endpoint)
