"""The release of a model in a project baked with defaults, end to end as a dry run: the make
targets CI/CD runs, from training in dev to production from the registry, in their order, each
mlops command they start run with --dry-run in the project's environment. The files a real run of
each stage leaves for the next (run, model and promotion metadata) are where the next stage reads
them, in the format mlops writes them: a dry run writes nothing."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from ci_pipelines import azure_devops_flow, github_flow
from conftest import run
from make_variables import make_variables, model_variables
from test_ci_cd import STAGE_OF_TARGET
from test_mlops_cli import mlops_commands

# What the stages of the flow run after CI, in their order, whichever the provider.
RELEASE_TARGETS = tuple(target for target, stage in STAGE_OF_TARGET.items() if stage != "ci")
# A python for make that writes down the arguments of each command instead of running it: make's
# recipes run as written, and the mlops commands are then run in one interpreter (azure-ai-ml
# takes seconds to import), each with --dry-run, an option of the command, which comes last.
RECORDING_PYTHON = """#!/bin/sh
for argument in "$@"; do printf '%s\\037' "$argument"; done >> "{log}"
printf '\\036' >> "{log}"
"""
JOB = "release_flow_job_1"
VERSION = "7"


def what_the_stages_leave(project: Path, model_name: str, registry: str) -> None:
    """The files real runs of the stages write for the next, as mlops writes them: the run of
    train-remote, the model register registered, the version promote shared."""
    outputs = project / "outputs/model1"
    outputs.mkdir(parents=True)
    model = {"name": model_name, "version": VERSION, "job_name": JOB, "metrics": {}}
    files = {
        "run.json": {
            "job_name": JOB,
            "status": "Completed",
            "studio_url": None,
            "experiment": "release",
            "outputs": {"model_output": f"azureml://jobs/{JOB}/outputs/model_output"},
            "error": None,
            "job_type": "pipeline",
            "best_trial": None,
        },
        "model.json": model,
        "promoted.json": {
            "command": "promote",
            "result": "promoted",
            **model,
            "registry": registry,
            "model_id": f"azureml://registries/{registry}/models/{model_name}/versions/{VERSION}",
        },
    }
    for name, document in files.items():
        (outputs / name).write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture(scope="module")
def release(default_project, project_python, tmp_path_factory):
    """target -> the dry-run documents its mlops commands printed, in order."""
    folder = tmp_path_factory.mktemp("release")
    project = Path(shutil.copytree(default_project, folder / default_project.name))
    log, recorder = folder / "commands", folder / "recording-python"
    recorder.write_text(RECORDING_PYTHON.format(log=log), encoding="utf-8")
    recorder.chmod(recorder.stat().st_mode | stat.S_IXUSR)
    model_name = model_variables(project)["MODEL_NAME"]
    registry = make_variables(project / "Makefile")["REGISTRY"]
    what_the_stages_leave(project, model_name, registry)
    commands = {}
    for target in RELEASE_TARGETS:
        log.write_text("", encoding="utf-8")
        run(["make", "--silent", target, f"PYTHON={recorder}"], cwd=project)
        recorded = [c.split("\x1f")[:-1] for c in log.read_text(encoding="utf-8").split("\x1e")]
        assert recorded[:-1] and all(c[:2] == ["-m", "mlops"] for c in recorded[:-1]), recorded
        commands[target] = [[*c[2:], "--dry-run"] for c in recorded[:-1]]
    runs = [(project, args) for target in RELEASE_TARGETS for args in commands[target]]
    results = iter(mlops_commands(runs, project_python))
    documents = {}
    for target in RELEASE_TARGETS:
        for args in commands[target]:
            result = next(results)
            assert result["exit_code"] == 0, (target, args, result)
            documents.setdefault(target, []).append(json.loads(result["stdout"]))
    return {"documents": documents, "model_name": model_name, "registry": registry}


FLOWS = {
    "github-actions": ("defaults", github_flow),
    "azure-devops": ("azure-devops", azure_devops_flow),
}


@pytest.mark.parametrize("provider", sorted(FLOWS))
def test_each_provider_runs_the_release_targets_in_this_order(bake, provider):
    bake_id, flow = FLOWS[provider]
    events = flow(bake(bake_id))
    targets = [e.name for e in events if e.kind == "make" and e.name in RELEASE_TARGETS]
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
