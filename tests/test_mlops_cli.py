"""The generated project's operations CLI (`mlops`): validate and the dry runs work offline in
every baked project. (The project's own mlops tests run in test_generated_project.py.)"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from conftest import project_env, run
from hook_modules import pre_gen
from matrix import SUPPORTED


def mlops(project: Path, project_python: Path, *args: object):
    return run([project_python, "-m", "mlops", *args], cwd=project, env=project_env(project_python))


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_validate_passes_on_a_fresh_bake(bake, project_python, bake_case):
    result = mlops(bake(bake_case.id), project_python, "validate")

    assert result.stdout == ""
    assert "no problems" in result.stderr


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_dry_runs_carry_the_answers(baked_project, project_python, bake_case):
    project, answers = baked_project(bake_case.id).path, baked_project(bake_case.id).answers
    compute_name = answers["compute_name"]

    applied = json.loads(
        mlops(project, project_python, "apply", "aml/compute.yml", "--dry-run").stdout
    )
    (compute,) = applied["requests"]
    assert compute["resource"] == f"computes/{compute_name}"
    assert compute["body"]["properties"]["properties"]["vmSize"] == answers["vm_size"]
    scale = compute["body"]["properties"]["properties"]["scaleSettings"]
    assert scale["maxNodeCount"] == int(answers["max_nodes"])
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
    workspace = (
        "/subscriptions/<AZURE_SUBSCRIPTION_ID>/resourceGroups/<AZURE_RESOURCE_GROUP>/providers/"
        "Microsoft.MachineLearningServices/workspaces/<AZUREML_WORKSPACE_NAME>"
    )
    assert job["computeId"] == f"{workspace}/computes/{compute_name}"
    assert job["experimentName"] == answers["experiment_name"]
    assert job["environmentId"] == (
        f"{workspace}/environments/{answers['project_slug']}-train-env/versions/"
        "<latest version, resolved when sent>"
    )


def name_rules_of_mlops(project: Path) -> dict[str, str]:
    """NAME_RULES of the generated mlops/naming.py: rule name -> regex source, read without
    importing the module."""
    tree = ast.parse((project / "mlops" / "naming.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NAME_RULES":
            sources = [value.elts[0].args[0] for value in node.value.values]
            return ast.literal_eval(ast.Dict(keys=node.value.keys, values=sources))
    raise AssertionError("mlops/naming.py has no NAME_RULES")


def test_mlops_checks_names_by_the_same_rules_as_the_hook(default_project):
    assert name_rules_of_mlops(default_project) == {
        "compute": pre_gen.COMPUTE_PATTERN,
        "endpoint": pre_gen.ENDPOINT_PATTERN,
        "asset": pre_gen.ASSET_PATTERN,
        "experiment": pre_gen.EXPERIMENT_PATTERN,
    }
