"""The generated project's operations CLI (`mlops`): validate and the dry runs work offline in baked
projects, and the project's own mlops tests pass with only the live ones skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import project_env, run
from locations import REPO_ROOT
from matrix import SUPPORTED

DEFAULTS = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
# Test modules of the generated project that must run in full (no skips) on every machine.
OFFLINE_MODULES = (
    "test_validate",
    "test_dry_run",
    "test_rollout",
    "test_gate_and_metadata",
    "test_workspace",
    "test_azure_commands",
)


def mlops(project: Path, project_python: Path, *args: object):
    return run([project_python, "-m", "mlops", *args], cwd=project, env=project_env(project_python))


def answer(bake_case, name: str) -> str:
    return bake_case.answers.get(name, DEFAULTS[name])


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_validate_passes_on_a_fresh_bake(bake, project_python, bake_case):
    result = mlops(bake(bake_case.id), project_python, "validate")

    assert result.stdout == ""
    assert "no problems" in result.stderr


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_dry_runs_carry_the_answers(bake, project_python, bake_case):
    project = bake(bake_case.id)
    compute_name = answer(bake_case, "compute_name")

    applied = json.loads(
        mlops(project, project_python, "apply", "aml/compute.yml", "--dry-run").stdout
    )
    (compute,) = applied["requests"]
    assert compute["resource"] == f"computes/{compute_name}"
    assert compute["body"]["properties"]["properties"]["vmSize"] == answer(bake_case, "vm_size")
    scale = compute["body"]["properties"]["properties"]["scaleSettings"]
    assert scale["maxNodeCount"] == int(answer(bake_case, "max_nodes"))
    assert applied["workspace"] == {
        "subscription_id": None,
        "resource_group": None,
        "workspace_name": None,
    }

    trained = json.loads(
        mlops(
            project,
            project_python,
            "train",
            "models/model1/aml_config/train-amlcompute.yml",
            "--dry-run",
        ).stdout
    )
    job = trained["requests"][0]["body"]["properties"]
    assert job["computeId"] == compute_name
    assert job["experimentName"] == project.name  # the experiment is named after the slug
    assert job["environmentId"] == f"{project.name}-train-env@latest"


def test_project_mlops_tests_pass_and_only_live_ones_skip(
    default_project, project_python, tmp_path
):
    project = Path(shutil.copytree(default_project, tmp_path / default_project.name))
    report = tmp_path / "report.xml"

    run(
        [
            project_python,
            "-m",
            "pytest",
            "tests",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            f"--junitxml={report}",
        ],
        cwd=project,
        env=project_env(project_python),
    )

    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes: dict[str, list[str]] = {}
    for case in cases:
        module = case.get("classname", "").split(".")[-1]
        skipped = case.find("skipped")
        if skipped is None:
            outcome = "passed"
        elif module == "test_console_script" and "not installed" in skipped.get("message", ""):
            outcome = "skipped: project not installed in the shared environment"
        else:
            outcome = f"skipped: {skipped.get('message')}"
        outcomes.setdefault(module, []).append(outcome)

    for module in OFFLINE_MODULES:
        assert outcomes.get(module), f"{module} ran no test"
        assert set(outcomes[module]) == {"passed"}, (module, outcomes[module])
    live = outcomes.get("test_workspace_flow", [])
    assert live and all(o.startswith("skipped: needs an Azure ML workspace") for o in live)
