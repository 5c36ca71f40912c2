"""``mlops models`` and ``mlops add-model``: which models a change concerns, what CI/CD selects,
and a model added from model_template/ (or refused, leaving the project as it was)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from mlops import models
from tests.conftest import PROJECT_ROOT

PIPELINE = ".azure-pipelines/train-deploy.yml"


@pytest.fixture
def with_template(project):
    """The scratch project with its model template (and its Azure DevOps pipeline, if any)."""
    shutil.copytree(PROJECT_ROOT / models.MODEL_TEMPLATE_DIR, project / models.MODEL_TEMPLATE_DIR)
    if (PROJECT_ROOT / PIPELINE).is_file():
        (project / PIPELINE).parent.mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / PIPELINE, project / PIPELINE)
    return project


def files_of(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("changed", "touched"),
    [
        (["models/b/train.py"], ["b"]),
        (["models/a/score.py", "models/b/model.mk"], ["a", "b"]),
        (["README.md", "docs/mlops.md"], []),
        (["aml/compute.yml"], ["a", "b"]),
        (["mlops/cli.py"], ["a", "b"]),
        (["sample-data/customers.csv"], ["a", "b"]),
        (["pyproject.toml"], ["a", "b"]),
        (["model_template/cookiecutter.json"], []),
        (["models/c/train.py"], []),
    ],
)
def test_a_change_concerns_its_model_or_every_model(changed, touched):
    assert models.models_touched(changed, ["a", "b"]) == touched


def project_models(project) -> list[str]:
    """The folders of models/ holding a model.mk: model1, and the models added since."""
    return sorted(marker.parent.name for marker in project.glob("models/*/model.mk"))


def test_models_lists_the_folders_of_models(mlops, project):
    result = mlops("models")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == project_models(project)
    assert "model1" in project_models(project)


@pytest.mark.parametrize(
    ("output_format", "line"),
    [
        ("github", 'models=["model1"]'),
        ("azure-devops", "##vso[task.setvariable variable=list;isOutput=true],model1,"),
    ],
)
def test_models_prints_what_each_ci_provider_reads(mlops, project, output_format, line):
    result = mlops("models", "--select", "model1", "--format", output_format)

    assert result.stdout.strip() == line


def test_changed_without_a_commit_to_compare_with_selects_every_model(mlops, project):
    result = mlops("models", "--select", "changed", "--changed-since", "0" * 40)

    assert json.loads(result.stdout) == project_models(project)
    assert "every model" in result.stderr


def test_changed_since_a_commit_reads_git(mlops, project):
    def git(*args):
        identity = ["-c", "user.name=Tests", "-c", "user.email=tests@example.com"]
        subprocess.run(["git", *identity, *args], cwd=project, check=True, capture_output=True)

    git("init", "--quiet")
    git("commit", "--allow-empty", "--quiet", "--message", "empty")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()
    git("add", "--all")
    git("commit", "--quiet", "--message", "the project")

    result = mlops("models", "--select", "changed", "--changed-since", base)

    assert json.loads(result.stdout) == project_models(project)


def test_a_model_that_is_not_one_is_refused(mlops, project):
    result = mlops("models", "--select", "upsell")

    assert result.exit_code == 2
    assert "'upsell' is neither changed nor all nor a model of this project" in result.stderr


def test_add_model_renders_a_model_with_names_of_its_own(mlops, with_template):
    result = mlops("add-model", "upsell")

    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert added["folder"] == "models/upsell"
    first, second = PROJECT_ROOT / "models/model1", with_template / "models/upsell"
    assert files_of(second) == files_of(first) - {"swagger.json"}
    first_names, second_names = models.model_settings(first), models.model_settings(second)
    assert all(
        second_names[name] != first_names[name] for name in first_names if "endpoint" in name
    )
    assert added["model_name"] == second_names["model_name"]
    if (with_template / PIPELINE).is_file():
        before = models.pipeline_models((PROJECT_ROOT / PIPELINE).read_text(encoding="utf-8"))
        after = models.pipeline_models((with_template / PIPELINE).read_text(encoding="utf-8"))
        assert after == [*before, "upsell"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Upsell", 'NAME: "Upsell" must be 1 to 16 lowercase letters'),
        ("model1", "NAME: 'model1' is taken: models/model1 exists"),
        ("all", "NAME: 'all' is reserved"),
        ("a" * 17, "must be 1 to 16"),
    ],
)
def test_add_model_refuses_a_bad_name_and_writes_nothing(mlops, with_template, name, message):
    before = files_of(with_template)

    result = mlops("add-model", name)

    assert result.exit_code == 2
    assert message in result.stderr
    assert files_of(with_template) == before
