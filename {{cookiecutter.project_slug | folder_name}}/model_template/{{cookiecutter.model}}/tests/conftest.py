"""Fixtures for the model tests: train once on the sample data, serve that model over HTTP, run
the training pipeline's steps once."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = MODEL_CODE_DIR.parents[1]
SAMPLE_DATA_DIR = PROJECT_ROOT / "sample-data"
SAMPLE_REQUEST = MODEL_CODE_DIR / "deployment" / "sample-request.json"
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
PIPELINE_SPEC = MODEL_CODE_DIR / "aml_config" / "train-pipeline.yml"
# Settings that would send runs to a tracking server or make train.py think it runs in Azure ML.
OUTSIDE_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "AZUREML_RUN_ID")
QUIET_MLFLOW = {"MLFLOW_DISABLE_TELEMETRY": "true"}


def load_module(path: Path) -> ModuleType:
    """Import ``path`` under a name of its own: every model has files of the same names."""
    spec = importlib.util.spec_from_file_location(f"{MODEL_CODE_DIR.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    # As an import would: dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_model_module(name: str) -> ModuleType:
    """This model's ``<name>.py``."""
    return load_module(MODEL_CODE_DIR / f"{name}.py")


def load_component_module(step: str) -> ModuleType:
    """This model's ``components/<step>.py``.

    A step imports ``train``, which ``python -m components.<step>`` finds in the model folder; in
    a test session of several models that name is bound to this model's train.py while it loads.
    """
    shadowed = sys.modules.get("train")
    sys.modules["train"] = load_model_module("train")
    try:
        return load_module(MODEL_CODE_DIR / "components" / f"{step}.py")
    finally:
        if shadowed is None:
            del sys.modules["train"]
        else:
            sys.modules["train"] = shadowed


def train_environment(**overrides: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    environment.update(QUIET_MLFLOW)
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
def train_module() -> ModuleType:
    return load_model_module("train")


@pytest.fixture
def train_here(train_module, monkeypatch, capsys):
    """train_here(*args, cwd=...) runs train.py's main() in this process, in ``cwd``, with the local
    MLflow default: (exit code, stdout, stderr). Its libraries are imported once, which makes it
    fast; ``run_train`` runs the script as a program."""

    def run(*args: object, cwd: Path) -> tuple[int, str, str]:
        for name in OUTSIDE_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            exit_code = train_module.main([str(arg) for arg in args])
        except SystemExit as stop:  # argparse refuses a flag
            exit_code = stop.code
        captured = capsys.readouterr()
        return exit_code, captured.out, captured.err

    return run


@pytest.fixture(scope="session")
def trained_model_dir(train_module, tmp_path_factory) -> Path:
    """The model trained with default hyperparameters on the sample-data folder (in this process:
    test_a_configured_tracking_uri_is_used_as_it_is runs train.py as a program)."""
    output_dir = tmp_path_factory.mktemp("training") / "model"
    with pytest.MonkeyPatch.context() as environment:
        for name in OUTSIDE_SETTINGS:
            environment.delenv(name, raising=False)
        environment.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        exit_code = train_module.main(
            ["--data-path", str(SAMPLE_DATA_DIR), "--output-dir", str(output_dir)]
        )
    assert exit_code == 0, "training on the sample data failed"
    return output_dir


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


@pytest.fixture(scope="session")
def load_component():
    """load_component(step) -> this model's components/<step>.py, imported."""
    return load_component_module


@pytest.fixture(scope="session")
def run_pipeline_local() -> ModuleType:
    return load_module(PROJECT_ROOT / "tools" / "run_pipeline_local.py")


@dataclass(frozen=True)
class PipelineRun:
    exit_code: int
    output_dir: Path

    def output(self, step: str, name: str) -> Path:
        return self.output_dir / step / name


@pytest.fixture(scope="session")
def pipeline_run(run_pipeline_local, tmp_path_factory) -> PipelineRun:
    """The training pipeline run once on the sample data, as `make pipeline-local` runs it."""
    output_dir = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as environment:
        for name in OUTSIDE_SETTINGS:
            environment.delenv(name, raising=False)
        for name, value in QUIET_MLFLOW.items():
            environment.setenv(name, value)
        exit_code = run_pipeline_local.main([str(PIPELINE_SPEC), "--output-dir", str(output_dir)])
    return PipelineRun(exit_code, output_dir)
