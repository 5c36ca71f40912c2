"""Generated projects run: their own tests and lint in the shared environment, and the README's
`make demo` with a fresh install from the project's own pyproject.toml."""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
import venv
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import SECOND_MODEL, project_env, run, venv_python
from locations import REPO_ROOT
from matrix import SUPPORTED


def working_copy(project: Path, tmp_path: Path) -> Path:
    """Tests that write into a project work on a copy: the session's bake stays pristine."""
    return Path(shutil.copytree(project, tmp_path / project.name))


# The only tests of a generated project allowed to skip here: the live ones (no Azure workspace),
# and the console-script ones (the shared environment runs each bake from its folder, uninstalled).
MAY_SKIP = {"test_workspace_flow", "test_console_script"}


def outcomes_by_module(junit_report: Path) -> dict[str, set[str]]:
    """Outcomes by test module, as its dotted path (models.model1.tests.test_train)."""
    outcomes: dict[str, set[str]] = {}
    for case in ElementTree.parse(junit_report).getroot().iter("testcase"):
        module = case.get("classname", "")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes.setdefault(module, set()).add(outcome)
    return outcomes


def assert_passed_except_skips_in(junit_report: Path, may_skip: set[str]) -> dict[str, set[str]]:
    outcomes = outcomes_by_module(junit_report)
    for module, seen in outcomes.items():
        allowed = {"passed", "skipped"} if module.split(".")[-1] in may_skip else {"passed"}
        assert seen <= allowed, f"{module}: {sorted(seen)}"
    return outcomes


# The project's suite in parts that run side by side, each in its own copy: the mlops tests, and
# each model's tests. Together they are the whole suite (test_the_parts_are_the_whole_suite).
SUITE_PARTS = {
    "mlops": "tests",
    "model1": "models/model1",
    "second-model": f"models/{SECOND_MODEL}",
}


def suite_modules_in(folder: Path, project: Path) -> set[str]:
    """The dotted names of the test modules under ``folder`` (models.model1.tests.test_train)."""
    return {
        ".".join(path.relative_to(project).with_suffix("").parts)
        for path in folder.rglob("test_*.py")
    }


def test_the_parts_are_the_whole_suite(two_model_project):
    project = two_model_project.path
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    testpaths = pyproject["tool"]["pytest"]["ini_options"]["testpaths"]
    whole = set().union(*(suite_modules_in(project / path, project) for path in testpaths))
    parts = [suite_modules_in(project / path, project) for path in SUITE_PARTS.values()]
    assert set().union(*parts) == whole
    assert sum(map(len, parts)) == len(whole)


@pytest.mark.slow
@pytest.mark.parametrize("part", SUITE_PARTS)
def test_generated_project_tests_pass_with_a_second_model(
    two_model_project, project_python, tmp_path, part
):
    """Every model's tests (training on the sample data, the local pipeline, batch scoring,
    scoring over HTTP) and the mlops tests, of a project with a model added."""
    project = working_copy(two_model_project.path, tmp_path)
    report = tmp_path / "report.xml"
    run(
        [project_python, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"]
        + [SUITE_PARTS[part]],
        cwd=project,
        env=project_env(project_python),
    )
    outcomes = assert_passed_except_skips_in(report, MAY_SKIP)
    assert set(outcomes) == suite_modules_in(project / SUITE_PARTS[part], project)
    if part == "mlops":
        assert {"tests.test_validate", "tests.test_dry_run", "tests.test_rollout"} <= set(outcomes)
    else:
        assert {"test_train", "test_score", "test_pipeline", "test_batch_score"} <= {
            module.rsplit(".", 1)[-1] for module in outcomes
        }


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_generated_project_lint_passes(bake, project_python, bake_case):
    # Without ruff's cache: the bakes of the session are checked file by file by other tests.
    env = {**project_env(project_python), "RUFF_NO_CACHE": "true"}
    run(["make", "lint", f"PYTHON={project_python}"], cwd=bake(bake_case.id), env=env)


@pytest.mark.slow
def test_quickstart_demo_installs_trains_and_scores(tmp_path):
    """The README's first command, with the demo baked into a temporary folder: a fresh virtual
    environment installed by uv from the project's own pyproject.toml, local training, scoring
    through the real inference server; then the tests that only an installed project can run (its
    console script); the whole suite runs in the test with a second model."""
    demo_dir = tmp_path / "demo"
    template_venv = Path(sys.executable).parents[1]
    env = project_env(Path(sys.executable))
    demo = run(["make", "demo", f"DEMO_DIR={demo_dir}", f"VENV={template_venv}"], REPO_ROOT, env)
    assert "uv pip install" in demo.stdout
    answer, _ = json.JSONDecoder().raw_decode(
        demo.stdout[demo.stdout.index('{\n  "predictions"') :]
    )
    project = demo_dir / "customer-churn"
    request = json.loads((project / "models/model1/deployment/sample-request.json").read_text())
    assert len(answer["predictions"]) == len(request["data"])
    assert all(0.0 <= p <= 1.0 for p in answer["probabilities"])

    python = venv_python(project / ".venv")
    report = tmp_path / "report.xml"
    run(
        [
            "make",
            "test",
            f"PYTHON={python}",
            f"PYTEST_ARGS=-p no:cacheprovider -q --junitxml={report} tests/test_console_script.py",
        ],
        cwd=project,
        env=project_env(python),
    )
    assert outcomes_by_module(report) == {"tests.test_console_script": {"passed"}}


@pytest.mark.slow
def test_setup_installs_with_pip_where_there_is_no_uv(bake, tmp_path):
    """`make setup` without uv runs pip: here with the `cli` extra, which CI's job listing the
    models installs, and which then runs `mlops models` without the Azure SDKs. (The uv path
    installs every extra for real in the demo.)"""
    # An editable install writes the project's metadata into its folder: a copy.
    project = working_copy(bake("defaults"), tmp_path)
    venv.create(tmp_path / "venv", with_pip=True, upgrade_deps=True)
    python = venv_python(tmp_path / "venv")
    env = project_env(python)
    setup = run(["make", "setup", f"PYTHON={python}", "UV=", "EXTRAS=cli"], project, env)
    assert f'{python} -m pip install -e ".[cli]"' in setup.stdout
    listed = run([python, "-m", "mlops", "models"], project, env)
    assert json.loads(listed.stdout) == ["model1"]
    installed = run([python, "-m", "pip", "list", "--format=json"], project, env).stdout
    names = {package["name"].lower() for package in json.loads(installed)}
    assert "azure-ai-ml" not in names and "scikit-learn" not in names
