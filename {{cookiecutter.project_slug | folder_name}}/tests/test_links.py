"""``mlops validate``: what a spec names resolves to a spec of the project, a registry or curated
asset, a model ``mlops register`` makes, or an external asset of pyproject.toml (mlops/links.py)."""

from __future__ import annotations

import pytest

from tests.job_specs import CURATED_ENVIRONMENT, PIPELINE, spec_name, write_pipeline
from tests.spec_files import edit, problem_lines, write_spec

EXTERNAL = "[tool.mlops.external-assets]"
REGISTRY_MODEL = "azureml://registries/azureml/models/churn/versions/1"


def declare_external(project, kind: str, name: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert f"\n{kind} = []\n" in text.split(EXTERNAL)[1]
    head, tail = text.split(EXTERNAL)
    tail = tail.replace(f"\n{kind} = []\n", f'\n{kind} = ["{name}"]\n', 1)
    pyproject.write_text(head + EXTERNAL + tail, encoding="utf-8")


def set_input_path(value: str):
    return lambda spec: spec["inputs"]["training_data"].update(path=value)


# spec (of the paths fixture), change, the field, the start of the message
BROKEN_LINKS = {
    "job compute": (
        "train",
        lambda spec: spec.update(compute="azureml:gpu-cluster"),
        "compute",
        '"gpu-cluster" names no compute of this project: its specs define ',
    ),
    "job environment": (
        "train",
        lambda spec: spec.update(environment="azureml:no-such-env@latest"),
        "environment",
        '"no-such-env" names no environment of this project',
    ),
    "job data asset": (
        "train",
        set_input_path("azureml:no-such-data:3"),
        "inputs.training_data.path",
        '"no-such-data" names no data asset or model of this project',
    ),
    "deployment endpoint": (
        "deployment",
        lambda spec: spec.update(endpoint_name="no-such-endpoint"),
        "endpoint_name",
        '"no-such-endpoint" names no online endpoint of this project',
    ),
    "deployment model": (
        "deployment",
        lambda spec: spec.update(model="azureml:no-such-model@latest"),
        "model",
        '"no-such-model" names no model of this project: its specs and the MODEL_NAME of '
        "models/*/model.mk (mlops register) define ",
    ),
    "deployment environment": (
        "deployment",
        lambda spec: spec.update(environment="azureml:no-such-env:1"),
        "environment",
        '"no-such-env" names no environment of this project',
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_LINKS))
def test_a_link_to_nothing_is_named(mlops, project, paths, case):
    spec_field, change, field_name, message = BROKEN_LINKS[case]
    spec = getattr(paths, spec_field)
    edit(spec, change)

    result = mlops("validate", spec)

    assert result.exit_code == 2
    assert any(
        line.startswith(f"{spec.as_posix()}: {field_name}: {message}")
        and f"if it exists in the workspace, list it under {EXTERNAL}" in line
        for line in problem_lines(result)
    ), result.stdout


def test_the_message_says_what_the_project_defines_and_how_to_declare_more(mlops, project, paths):
    edit(paths.train, lambda spec: spec.update(compute="azureml:gpu-cluster"))

    (line,) = problem_lines(mlops("validate", paths.train))

    assert line == (
        f'{paths.train.as_posix()}: compute: "gpu-cluster" names no compute of this project: '
        f"its specs define {spec_name(paths.compute)}; if it exists in the workspace, list it "
        f"under {EXTERNAL} compute in pyproject.toml"
    )


def test_a_name_of_another_kind_is_named_as_such(mlops, project, paths):
    data = spec_name(paths.data)
    edit(paths.train, lambda spec: spec.update(compute=f"azureml:{data}"))

    result = mlops("validate", paths.train)

    assert f'compute: "{data}" is a data asset ({paths.data.as_posix()}), not a compute' in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("kind", "spec_field", "change"),
    [
        ("compute", "train", lambda spec: spec.update(compute="azureml:gpu-cluster")),
        ("data", "train", set_input_path("azureml:shared-data@latest")),
        ("environment", "train", lambda spec: spec.update(environment="azureml:shared-env:2")),
    ],
    ids=["compute", "data", "environment"],
)
def test_an_external_asset_resolves(mlops, project, paths, kind, spec_field, change):
    edit(getattr(paths, spec_field), change)
    name = {"compute": "gpu-cluster", "data": "shared-data", "environment": "shared-env"}[kind]
    declare_external(project, kind, name)

    result = mlops("validate", getattr(paths, spec_field))

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("spec_field", "change"),
    [
        ("train", lambda spec: spec.update(environment=CURATED_ENVIRONMENT)),
        ("train", set_input_path("azureml://registries/azureml/data/churn/versions/1")),
        ("train", set_input_path("azureml://datastores/workspaceblobstore/paths/churn/")),
        ("train", lambda spec: spec.update(compute="azureml:serverless")),
        ("deployment", lambda spec: spec.update(model=REGISTRY_MODEL)),
    ],
    ids=["curated environment", "registry data", "datastore path", "serverless", "registry model"],
)
def test_curated_registry_and_builtin_assets_resolve(mlops, project, paths, spec_field, change):
    edit(getattr(paths, spec_field), change)

    result = mlops("validate", getattr(paths, spec_field))

    assert result.exit_code == 0, result.output


def test_a_model_defined_by_a_spec_resolves(mlops, project, paths):
    write_spec(
        paths.deployment.parent / "model.yml",
        "model",
        {"name": "churn-onnx", "type": "custom_model", "path": "../train.py"},
    )
    edit(paths.deployment, lambda spec: spec.update(model="azureml:churn-onnx:1"))

    result = mlops("validate", paths.deployment)

    assert result.exit_code == 0, result.output


def test_the_model_mlops_register_makes_resolves_by_model_mk(mlops, project, paths):
    model_mk = paths.deployment.parents[1] / "model.mk"
    text = model_mk.read_text(encoding="utf-8")
    model_name = next(
        line.split(":=")[1].strip() for line in text.splitlines() if line.startswith("MODEL_NAME")
    )
    model_mk.write_text(text.replace(f"MODEL_NAME := {model_name}", "MODEL_NAME := renamed"))

    result = mlops("validate", paths.deployment)

    assert result.exit_code == 2
    assert f'{paths.deployment.as_posix()}: model: "{model_name}" names no model' in result.stdout


def test_one_spec_given_is_checked_against_the_whole_project(mlops, project, paths):
    assert mlops("validate", paths.deployment).exit_code == 0


def test_a_pipeline_step_running_a_spec_of_another_kind_is_a_problem(mlops, project, paths):
    data_name = spec_name(paths.data)
    write_pipeline(
        data_name, lambda pipeline: pipeline["jobs"]["prep"].update(component="environment.yml")
    )

    result = mlops("validate", PIPELINE)

    assert (
        f"{PIPELINE.as_posix()}: jobs.prep.component: {paths.environment.as_posix()} is an "
        "environment spec, not a component"
    ) in problem_lines(result)


def test_a_pipeline_step_running_an_unknown_component_is_a_problem(mlops, project, paths):
    write_pipeline(
        spec_name(paths.data),
        lambda pipeline: pipeline["jobs"]["prep"].update(component="azureml:clean_data:2"),
    )

    result = mlops("validate", PIPELINE)

    assert any(
        line.startswith(
            f'{PIPELINE.as_posix()}: jobs.prep.component: "clean_data" names no component'
        )
        for line in problem_lines(result)
    ), result.stdout


def test_a_schedule_creates_a_job_spec(mlops, project, paths):
    schedule = {
        "name": "nightly-training",
        "trigger": {"type": "cron", "expression": "0 3 * * *"},
        "create_job": "train-amlcompute.yml",
    }
    path = write_spec(paths.train.parent / "schedule.yml", "schedule", schedule)
    assert mlops("validate", path).exit_code == 0

    edit(path, lambda spec: spec.update(create_job="environment.yml"))
    result = mlops("validate", path)

    assert (
        f"{path.as_posix()}: create_job: {paths.environment.as_posix()} is an environment spec, "
        "not a job"
    ) in problem_lines(result)


def test_external_assets_of_an_unknown_kind_are_a_problem(mlops, project):
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("\ndata = []\n", '\ndata = []\ncluster = ["x"]\n'))

    result = mlops("validate")

    assert result.exit_code == 2
    assert any(
        line.startswith("pyproject.toml: tool.mlops.external-assets.cluster: not a kind of spec")
        for line in problem_lines(result)
    ), result.stdout
