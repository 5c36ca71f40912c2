"""Fixtures for the tests of the ``mlops`` CLI: a scratch copy of the project, a CLI runner, and
a scripted Azure ML service for the commands that talk to Azure."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from mlops import cli
from mlops.cli import ENVIRONMENT_VARIABLE, main
from mlops.workspace import SETTING_VARIABLES, WorkspaceSettings, ml_client
from tests.scripted_azure import (
    RESOURCE_GROUP,
    SUBSCRIPTION_ID,
    WORKSPACE,
    FakeCredential,
    ScriptedAzure,
    ScriptedTransport,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = Path("models/model1")
COPIED = ("aml", "models", "sample-data", "pyproject.toml")
NOT_COPIED = shutil.ignore_patterns(".*", "__pycache__", "outputs", "mlruns", "mlflow.db")


class ProjectPaths(SimpleNamespace):
    """The project's spec files; asking for a spec of an online deployment in a project without
    one (it deploys in batch only, or not at all) skips the test."""

    ONLINE_SPECS = ("endpoint", "deployment", "monitor")

    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        if name in ProjectPaths.ONLINE_SPECS and not (PROJECT_ROOT / value).is_file():
            pytest.skip(f"{value} is not in this project: it deploys no online endpoint")
        return value


@pytest.fixture(scope="session")
def paths() -> SimpleNamespace:
    """The project's spec files, relative to the project root."""
    return ProjectPaths(
        root=PROJECT_ROOT,
        compute=Path("aml/compute.yml"),
        environment=MODEL_DIR / "aml_config/environment.yml",
        data=Path("aml/data.yml"),
        table=Path("aml/sample-data-table.yml"),
        workspace=Path("aml/workspace.yml"),
        train=MODEL_DIR / "aml_config/train-amlcompute.yml",
        pipeline=MODEL_DIR / "aml_config/train-pipeline.yml",
        sweep=MODEL_DIR / "aml_config/sweep.yml",
        train_local=MODEL_DIR / "aml_config/train-local.yml",
        train_conda=MODEL_DIR / "aml_config/train-conda.yml",
        endpoint=MODEL_DIR / "deployment/endpoint.yml",
        deployment=MODEL_DIR / "deployment/deployment.yml",
        monitor=MODEL_DIR / "monitoring/monitor.yml",
        sample_request=MODEL_DIR / "deployment/sample-request.json",
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's specs, code and data to break at will; the current directory.

    No workspace is configured in it: the Azure settings are removed from the environment.
    """
    root = tmp_path / "project"
    root.mkdir()
    for name in COPIED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=NOT_COPIED)
        else:
            shutil.copy2(source, root / name)
    for variable in [*SETTING_VARIABLES.values(), ENVIRONMENT_VARIABLE]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def mlops() -> Callable[..., Result]:
    """Run ``mlops ARGS...`` in this process; the result has exit_code, stdout and stderr."""
    runner = CliRunner()

    def run(*args: object) -> Result:
        return runner.invoke(main, [str(arg) for arg in args], catch_exceptions=False)

    return run


@pytest.fixture
def dry_run(mlops: Callable[..., Result]) -> Callable[..., dict]:
    """Run ``mlops ARGS... --dry-run``, expect success and return the JSON document it printed."""

    def run(*args: object) -> dict:
        result = mlops(*args, "--dry-run")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> ScriptedAzure:
    """The Azure ML workspace of the recordings, answering from a script (tests/scripted_azure.py).

    The commands get a real MLClient for it (``mlops.workspace.ml_client``) with a fake
    credential and the scripted transport; no request leaves the process.
    """
    service = ScriptedAzure()
    service.install(monkeypatch)
    settings = WorkspaceSettings(SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE, {})
    monkeypatch.setattr(
        cli,
        "client",
        lambda: ml_client(
            settings, credential=FakeCredential(), transport=ScriptedTransport(service)
        ),
    )
    yield service
    service.check_finished()
