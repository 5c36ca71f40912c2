"""The release of a model in a project baked with defaults, end to end as a dry run: the make
targets CI/CD runs, from training in dev to production from the registry, in their order, each
mlops command they start run with --dry-run in the project's environment. Between the stages, the
files a real run leaves (the run and model metadata) are put where the next stage reads them, in
the format mlops writes them."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ci_pipelines import azure_devops_flow, github_flow
from conftest import project_env
from make_variables import make_variables, model_variables
from test_ci_cd import STAGE_OF_TARGET

# What the stages of the flow run after CI, in order, whichever the provider.
RELEASE_TARGETS = (
    "apply",
    "train-remote",
    "register",
    "deploy-staging",
    "promote",
    "deploy-production",
)
# A python for make that adds --dry-run to each mlops command it runs (an option of the command,
# which comes last), and runs anything else as it is.
DRY_RUN_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "mlops" ]; then
    exec "{python}" "$@" --dry-run
fi
exec "{python}" "$@"
"""
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000f1"
JOB = "release_flow_job_1"
VERSION = "7"


def what_the_stage_leaves(project: Path, target: str, model_name: str, registry: str) -> None:
    """The files a real run of ``target`` writes for the next stage, as mlops writes them."""
    outputs = project / "outputs/model1"
    outputs.mkdir(parents=True, exist_ok=True)
    if target == "train-remote":
        run = {
            "job_name": JOB,
            "status": "Completed",
            "studio_url": None,
            "experiment": "release",
            "outputs": {"model_output": f"azureml://jobs/{JOB}/outputs/model_output"},
            "error": None,
            "job_type": "pipeline",
            "best_trial": None,
        }
        (outputs / "run.json").write_text(json.dumps(run), encoding="utf-8")
    elif target == "register":
        model = {"name": model_name, "version": VERSION, "job_name": JOB, "metrics": {}}
        (outputs / "model.json").write_text(json.dumps(model), encoding="utf-8")
    elif target == "promote":
        promoted = {
            "command": "promote",
            "result": "promoted",
            "name": model_name,
            "version": VERSION,
            "registry": registry,
            "model_id": f"azureml://registries/{registry}/models/{model_name}/versions/{VERSION}",
            "job_name": JOB,
            "metrics": {},
        }
        (outputs / "promoted.json").write_text(json.dumps(promoted), encoding="utf-8")


@pytest.fixture(scope="module")
def release(default_project, project_python, tmp_path_factory):
    """target -> the dry-run documents its mlops commands printed, in order."""
    folder = tmp_path_factory.mktemp("release")
    project = Path(shutil.copytree(default_project, folder / default_project.name))
    wrapper = folder / "dry-run-python"
    wrapper.write_text(DRY_RUN_PYTHON.format(python=project_python), encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = {**project_env(project_python), "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION}
    model_name = model_variables(project)["MODEL_NAME"]
    registry = make_variables(project / "Makefile")["REGISTRY"]
    documents = {}
    for target in RELEASE_TARGETS:
        result = subprocess.run(
            ["make", "--silent", "--no-print-directory", target, f"PYTHON={wrapper}"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (target, result.stdout, result.stderr)
        documents[target] = json_documents(result.stdout)
        what_the_stage_leaves(project, target, model_name, registry)
    return {"documents": documents, "model_name": model_name, "registry": registry}


def json_documents(stdout: str) -> list[dict]:
    """The JSON documents, one after the other, that the commands of a target printed."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(stdout):
        if stdout[at].isspace():
            at += 1
            continue
        document, at = decoder.raw_decode(stdout, at)
        documents.append(document)
    return documents


FLOWS = {
    "github-actions": ("defaults", github_flow),
    "azure-devops": ("azure-devops", azure_devops_flow),
}


@pytest.mark.parametrize("provider", sorted(FLOWS))
def test_each_provider_runs_the_release_targets_in_this_order(bake, provider):
    bake_id, flow = FLOWS[provider]
    events = flow(bake(bake_id))
    released = {target for target, stage in STAGE_OF_TARGET.items() if stage != "ci"}
    targets = [e.name for e in events if e.kind == "make" and e.name in released]
    assert targets == list(RELEASE_TARGETS)


def test_every_stage_runs_its_dry_runs_in_its_environment(release):
    environments = {
        target: {document.get("environment") for document in documents}
        for target, documents in release["documents"].items()
    }
    assert environments == {
        "apply": {"dev"},
        "train-remote": {"dev"},
        "register": {"dev"},
        "deploy-staging": {"dev"},
        "promote": {"dev"},
        "deploy-production": {"prod"},
    }


def test_production_deploys_the_version_staging_had_from_the_registry(release):
    documents, name, registry = release["documents"], release["model_name"], release["registry"]
    (staging,) = documents["deploy-staging"]
    (promoted,) = documents["promote"]
    # The rollout, then the model monitor of the deployment it made live.
    production, monitor = documents["deploy-production"]

    assert staging["model"] == promoted["model"] == production["model"] == f"{name}:{VERSION}"
    in_registry = f"azureml://registries/{registry}/models/{name}/versions/{VERSION}"
    assert promoted["model_id"] == in_registry
    assert in_registry in json.dumps(production["requests"])
    assert in_registry not in json.dumps(staging["requests"])
    assert monitor["requests"][-1]["resource"].startswith("schedules/")
