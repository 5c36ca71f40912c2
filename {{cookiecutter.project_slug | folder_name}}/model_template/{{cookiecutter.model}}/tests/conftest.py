"""Fixtures for the model tests: train once on the sample data, serve that model over HTTP."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = MODEL_CODE_DIR.parents[1]
SAMPLE_DATA_DIR = PROJECT_ROOT / "sample-data"
SAMPLE_REQUEST = MODEL_CODE_DIR / "deployment" / "sample-request.json"
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
# Settings that would send runs to a tracking server or make train.py think it runs in Azure ML.
OUTSIDE_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "AZUREML_RUN_ID")


def load_module(path: Path) -> ModuleType:
    """Import ``path`` under a name of its own: every model has files of the same names."""
    spec = importlib.util.spec_from_file_location(f"{MODEL_CODE_DIR.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_model_module(name: str) -> ModuleType:
    """This model's ``<name>.py``."""
    return load_module(MODEL_CODE_DIR / f"{name}.py")


def train_environment(**overrides: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
    environment.update(overrides)
    return environment


@pytest.fixture(scope="session")
def run_train():
    """run_train(*args, cwd=..., env=...) runs train.py in a fresh interpreter, in ``cwd``, with
    the local MLflow default unless ``env`` adds settings."""

    def run(*args: object, cwd: Path, env: dict[str, str] | None = None):
        return subprocess.run(
            [sys.executable, str(MODEL_CODE_DIR / "train.py"), *map(str, args)],
            cwd=cwd,
            env=train_environment(**(env or {})),
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


@pytest.fixture(scope="session")
def trained_model_dir(run_train, tmp_path_factory) -> Path:
    """The model trained with default hyperparameters on the sample-data folder."""
    work_dir = tmp_path_factory.mktemp("training")
    output_dir = work_dir / "model"
    result = run_train("--data-path", SAMPLE_DATA_DIR, "--output-dir", output_dir, cwd=work_dir)
    assert result.returncode == 0, f"training failed:\n{result.stdout}\n{result.stderr}"
    return output_dir


@pytest.fixture(scope="session")
def load_code():
    """load_code(path) -> the Python file at ``path``, imported under a name of this model's own."""
    return load_module


@pytest.fixture(scope="session")
def serve_local() -> ModuleType:
    return load_module(PROJECT_ROOT / "tools" / "serve_local.py")


@pytest.fixture(scope="session")
def scoring_url(serve_local, trained_model_dir) -> str:
    """Base URL of one azmlinfsrv serving the trained model."""
    with serve_local.running_server(trained_model_dir, entry_script=SCORE_SCRIPT) as base_url:
        yield base_url


def load_score_module() -> ModuleType:
    # The inference server provides the azureml.contrib.services modules score.py imports.
    importlib.import_module("azureml_inference_server_http.server")
    return load_model_module("score")


@pytest.fixture
def score_module(tmp_path_factory, monkeypatch) -> ModuleType:
    """A fresh in-process score.py, for what is simpler to check without a server; init() writes
    swagger.json into a folder of its own."""
    monkeypatch.setenv("AML_APP_ROOT", str(tmp_path_factory.mktemp("app-root")))
    return load_score_module()


@pytest.fixture(scope="session")
def onnx_scorer(trained_model_dir, tmp_path_factory) -> ModuleType:
    """score.py initialised in this process with the trained model: its predict() without HTTP."""
    module = load_score_module()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
        patch.setenv("AML_APP_ROOT", str(tmp_path_factory.mktemp("app-root")))
        module.init()
    return module


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    return SAMPLE_DATA_DIR


@pytest.fixture
def sample_request() -> dict:
    return json.loads(SAMPLE_REQUEST.read_text(encoding="utf-8"))
