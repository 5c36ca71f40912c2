"""Generated projects run: their own tests, their lint, their local training and scoring targets,
and one fresh install from the project's own pyproject.toml."""

from __future__ import annotations

import json
import re
import shutil
import venv
from pathlib import Path

import pytest

from conftest import project_env, run, venv_python
from matrix import SUPPORTED


def assert_tests_passed(pytest_output: str) -> None:
    """pytest's closing line reports passed tests and no failures (skips are fine: live tests)."""
    summary = [line for line in pytest_output.splitlines() if re.search(r"\d+ passed", line)]
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], pytest_output[
        -3000:
    ]


def working_copy(project: Path, tmp_path: Path) -> Path:
    """Tests that write into a project work on a copy: the session's bake stays pristine."""
    return Path(shutil.copytree(project, tmp_path / project.name))


@pytest.mark.parametrize(
    "bake_case", [b for b in SUPPORTED if b.runs_project_tests], ids=lambda b: b.id
)
def test_generated_project_tests_pass(bake, project_python, tmp_path, bake_case):
    project = working_copy(bake(bake_case.id), tmp_path)
    result = run(
        [project_python, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        env=project_env(project_python),
    )
    assert_tests_passed(result.stdout)


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_generated_project_lint_passes(bake, project_python, bake_case):
    run(["make", "lint", f"PYTHON={project_python}"], cwd=bake(bake_case.id))


def test_local_training_and_scoring_targets_print_predictions(
    default_project, project_python, tmp_path
):
    project = working_copy(default_project, tmp_path)
    env = project_env(project_python)
    run(["make", "train-local", f"PYTHON={project_python}"], cwd=project, env=env)
    metrics = json.loads((project / "outputs" / "model1" / "metrics.json").read_text())
    assert metrics["roc_auc"] >= 0.75
    scored = run(["make", "score-local", f"PYTHON={project_python}"], cwd=project, env=env)
    answer, _ = json.JSONDecoder().raw_decode(scored.stdout[scored.stdout.index("{") :])
    request = json.loads(
        (project / "models" / "model1" / "deployment" / "sample-request.json").read_text()
    )
    assert len(answer["predictions"]) == len(request["data"])
    assert all(0.0 <= p <= 1.0 for p in answer["probabilities"])


@pytest.mark.slow
def test_fresh_install_from_the_projects_own_pyproject(default_project, tmp_path):
    project = working_copy(default_project, tmp_path)
    venv_dir = tmp_path / "fresh-venv"
    venv.create(venv_dir, with_pip=True)
    python = venv_python(venv_dir)
    env = project_env(python)
    run(["make", "setup", f"PYTHON={python}"], cwd=project, env=env)
    run([venv_dir / "bin" / "mlops", "--help"], cwd=project, env=env)
    result = run(
        ["make", "test", f"PYTHON={python}", "PYTEST_ARGS=-p no:cacheprovider -q"],
        cwd=project,
        env=env,
    )
    assert_tests_passed(result.stdout)
