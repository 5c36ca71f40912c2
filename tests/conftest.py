"""Shared fixtures: each supported combination is baked once per session, and generated projects
run in one virtual environment built from the default bake's own pyproject.toml."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from locations import REPO_ROOT
from matrix import SUPPORTED, SUPPORTED_BY_ID

PROJECT_VENVS = REPO_ROOT / ".cache" / "project-venvs"
# Part of a project environment's key, beside what it installs: changed when create_project_venv
# builds differently.
VENV_RECIPE = b"compiled-bytecode"


# Each test's duration in the last run (setup, call and teardown), kept in pytest's cache.
DURATIONS_KEY = "aml-accelerator/durations"
durations_of_this_run: dict[str, float] = {}


def pytest_collection_modifyitems(config, items):
    """The longest tests first, by their durations in the last run, and the slow ones first where
    there is none: `--dist load` then starts the longest on each core at once, and the short ones
    fill in beside them. Every worker reads the same durations, so all order alike."""
    cache = getattr(config, "cache", None)  # none with -p no:cacheprovider
    last_run = cache.get(DURATIONS_KEY, {}) if cache else {}
    items.sort(
        key=lambda item: (-last_run.get(item.nodeid, 0.0), item.get_closest_marker("slow") is None)
    )


def pytest_runtest_logreport(report):
    durations_of_this_run[report.nodeid] = (
        durations_of_this_run.get(report.nodeid, 0.0) + report.duration
    )


def pytest_sessionfinish(session):
    config = session.config
    cache = getattr(config, "cache", None)
    if cache and not hasattr(config, "workerinput"):
        cache.set(DURATIONS_KEY, {**cache.get(DURATIONS_KEY, {}), **durations_of_this_run})


def run(command, cwd, env=None, timeout=900):
    """Run a command; on failure, fail the test with its output (not a bare exit code)."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


@dataclass(frozen=True)
class BakedProject:
    path: Path
    # Every answer as cookiecutter used it (random suffixes included), from its replay record.
    answers: dict


def bake_ok(cookies, config_file: Path, answers: dict) -> BakedProject:
    result = cookies.bake(extra_context=answers, template=str(REPO_ROOT))
    if result.exit_code != 0:
        pytest.fail(f"bake with {answers!r} failed: {result.exception!r}")
    replay_dir = Path(yaml.safe_load(config_file.read_text(encoding="utf-8"))["replay_dir"])
    replay = json.loads((replay_dir / f"{REPO_ROOT.name}.json").read_text(encoding="utf-8"))
    return BakedProject(Path(result.project_path), replay["cookiecutter"])


@pytest.fixture(scope="session")
def baked_project(cookies_session, _cookiecutter_config_file):
    """baked_project(id) -> the project baked with that supported combination, once per session."""
    projects: dict[str, BakedProject] = {}

    def bake_by_id(bake_id: str) -> BakedProject:
        if bake_id not in projects:
            projects[bake_id] = bake_ok(
                cookies_session,
                Path(_cookiecutter_config_file),
                SUPPORTED_BY_ID[bake_id].answers,
            )
        return projects[bake_id]

    return bake_by_id


@pytest.fixture(scope="session")
def bake(baked_project):
    """bake(id) -> the folder of the project baked with that supported combination."""
    return lambda bake_id: baked_project(bake_id).path


@pytest.fixture(scope="session")
def default_project(bake):
    return bake("defaults")


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def uv() -> Path:
    """The uv installed beside the interpreter running the tests (the template's dev group)."""
    return Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")


def create_project_venv(venv_dir: Path, project: Path) -> Path:
    """A virtual environment of the project's Python with the dependencies of its `dev` extra, but
    not the project itself (tests run each bake's own code from its folder). Read from its
    pyproject.toml: nothing is built in the bake's folder."""
    python_version = (project / ".python-version").read_text(encoding="utf-8").strip()
    run([uv(), "venv", "--quiet", "--python", python_version, venv_dir], cwd=project)
    python = venv_python(venv_dir)
    requirements = ["-r", project / "pyproject.toml", "--extra", "dev"]
    # Compiled once here: where PYTHONDONTWRITEBYTECODE is set, every interpreter a test starts
    # would otherwise compile azure-ai-ml, MLflow and scikit-learn again (seconds each).
    install = [uv(), "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
    run([*install, *requirements], cwd=project)
    return python


@pytest.fixture(scope="session")
def project_python(default_project):
    """The python of one environment shared by every generated project in this and later sessions;
    rebuilt when the generated pyproject.toml's dependencies change."""
    pyproject = (default_project / "pyproject.toml").read_bytes()
    python_version = (default_project / ".python-version").read_bytes()
    key = hashlib.sha256(pyproject + python_version + VENV_RECIPE).hexdigest()[:16]
    venv_dir = PROJECT_VENVS / key
    ready_marker = venv_dir / ".ready"
    PROJECT_VENVS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv_dir) + ".lock"):
        if not ready_marker.exists():
            remove_other_venvs(keep=venv_dir)
            create_project_venv(venv_dir, default_project)
            ready_marker.touch()
    return venv_python(venv_dir)


def remove_other_venvs(keep: Path) -> None:
    """Environments built for an earlier pyproject.toml are never used again."""
    for path in PROJECT_VENVS.iterdir():
        if path.is_dir() and path != keep:
            shutil.rmtree(path, ignore_errors=True)


def project_env(project_python: Path) -> dict[str, str]:
    """Environment for commands run inside a generated project: its venv first on PATH, no Azure
    settings leaking in from the machine, MLflow writing inside the project's folders."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("AZURE_", "AZUREML_", "MLFLOW_", "MLOPS_", "PYTEST_", "VIRTUAL_ENV", "MAKE")
        )
    }
    env["PATH"] = f"{project_python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# The name of the model every two-model project gets beside model1: with a '-', which Azure DevOps
# stage names do not allow.
SECOND_MODEL = "churn-v2"
GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]


def git(project: Path, *args: str) -> str:
    return run(["git", *GIT_IDENTITY, *args], cwd=project).stdout


@dataclass(frozen=True)
class TwoModelProject:
    path: Path
    answers: dict
    # The commit of the bake, before the second model was added.
    base: str
    second_model: str = SECOND_MODEL


def add_second_model(
    baked: BakedProject, project_python: Path, destination: Path
) -> TwoModelProject:
    """A git repository of a copy of the bake, with `make add-model` run in a commit of its own."""
    project = Path(shutil.copytree(baked.path, destination / baked.path.name))
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "bake")
    base = git(project, "rev-parse", "HEAD").strip()
    run(
        ["make", "add-model", f"NAME={SECOND_MODEL}", f"PYTHON={project_python}"],
        cwd=project,
        env=project_env(project_python),
    )
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", f"add {SECOND_MODEL}")
    return TwoModelProject(project, baked.answers, base)


@pytest.fixture(scope="session")
def two_model_project(baked_project, project_python, tmp_path_factory) -> TwoModelProject:
    """The project of the bake whose own suite runs, with a second model added by `make
    add-model`. Tests that change it must leave it as they found it (git status clean)."""
    (bake_case,) = [bake for bake in SUPPORTED if bake.runs_project_tests]
    return add_second_model(
        baked_project(bake_case.id), project_python, tmp_path_factory.mktemp("two-models")
    )
