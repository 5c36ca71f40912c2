"""``mlops validate``: every expression of a job or component names something declared, and every
input is used (mlops/expressions.py)."""

from __future__ import annotations

import pytest

from tests.job_specs import (
    COMPONENTS,
    PIPELINE,
    PREP,
    PREP_FILE,
    SWEEP,
    spec_name,
    write_components,
    write_pipeline,
    write_sweep,
)
from tests.spec_files import edit, expression, problem_lines, warning_lines


def replace_in_command(old: str, new: str):
    def change(document: dict) -> None:
        assert old in document["command"]
        document["command"] = document["command"].replace(old, new)

    return change


@pytest.fixture
def data_name(project, paths) -> str:
    return spec_name(paths.data)


@pytest.fixture
def compute_name(project, paths) -> str:
    return spec_name(paths.compute)


def test_an_input_the_command_misspells_is_a_problem(mlops, project, paths):
    edit(paths.train, replace_in_command("inputs.training_data", "inputs.trainig_data"))

    result = mlops("validate", paths.train)

    assert result.exit_code == 2
    assert (
        f"{paths.train.as_posix()}: command: {expression('inputs.trainig_data')} names no input "
        "of this job (inputs: learning_rate, max_depth, n_estimators, training_data)"
    ) in problem_lines(result)


def test_an_undeclared_output_is_a_problem(mlops, project, paths):
    edit(paths.train, replace_in_command("outputs.model_output", "outputs.model"))

    result = mlops("validate", paths.train)

    assert result.exit_code == 2
    assert (
        f"{paths.train.as_posix()}: command: {expression('outputs.model')} names no output of "
        "this job (outputs: model_output)"
    ) in problem_lines(result)


def test_parent_outside_a_pipeline_is_a_problem(mlops, project, paths):
    edit(paths.train, replace_in_command("inputs.max_depth", "parent.inputs.max_depth"))

    result = mlops("validate", paths.train)

    assert (
        f"{paths.train.as_posix()}: command: {expression('parent.inputs.max_depth')}: only a "
        "step of a pipeline has a parent"
    ) in problem_lines(result)


def test_an_input_no_command_uses_is_a_warning(mlops, project, paths):
    edit(paths.train, lambda spec: spec["inputs"].update(epochs=10))

    result = mlops("validate", paths.train)

    assert result.exit_code == 0, result.output
    assert problem_lines(result) == []
    assert warning_lines(result) == [
        f"warning: {paths.train.as_posix()}: inputs.epochs: no command uses it: "
        f"{expression('inputs.epochs')} appears nowhere"
    ]
    assert "1 warnings" in result.stderr


def test_strict_fails_on_a_warning(mlops, project, paths):
    edit(paths.train, lambda spec: spec["inputs"].update(epochs=10))

    result = mlops("validate", paths.train, "--strict")

    assert result.exit_code == 2
    assert problem_lines(result) == [
        f"{paths.train.as_posix()}: inputs.epochs: no command uses it: "
        f"{expression('inputs.epochs')} appears nowhere"
    ]


def test_the_project_has_no_warnings(mlops, project):
    result = mlops("validate", "--strict")

    assert result.exit_code == 0, result.output
    assert warning_lines(result) == []


def test_a_pipeline_wired_right_is_valid(mlops, project, data_name):
    write_pipeline(data_name)

    result = mlops("validate", PIPELINE, "--strict")

    assert result.exit_code == 0, result.output


def rebind(step: str, group: str, name: str, value: str):
    return lambda pipeline: pipeline["jobs"][step][group].update({name: value})


def rename_binding(step: str, group: str, old: str, new: str):
    def change(pipeline: dict) -> None:
        bindings = pipeline["jobs"][step][group]
        bindings[new] = bindings.pop(old)

    return change


BROKEN_PIPELINES = {
    "misspelt parent input": (
        rebind("prep", "inputs", "seed", expression("parent.inputs.sed")),
        f"jobs.prep.inputs.seed: {expression('parent.inputs.sed')} names no input of this job "
        "(inputs: raw_data, seed)",
    ),
    "misspelt output of a step": (
        rebind("train", "inputs", "data", expression("parent.jobs.prep.outputs.prepped")),
        f"jobs.train.inputs.data: {expression('parent.jobs.prep.outputs.prepped')} names no "
        "output of step prep (outputs: prepared)",
    ),
    "unknown step": (
        rebind("train", "inputs", "data", expression("parent.jobs.clean.outputs.prepared")),
        f"jobs.train.inputs.data: {expression('parent.jobs.clean.outputs.prepared')} names no "
        "step of the pipeline (steps: prep, train)",
    ),
    "undeclared parent output": (
        rebind("train", "outputs", "model", expression("parent.outputs.trained")),
        f"jobs.train.outputs.model: {expression('parent.outputs.trained')} names no output of "
        "this job (outputs: model)",
    ),
    "input the component does not declare": (
        rename_binding("prep", "inputs", "seed", "random_seed"),
        "jobs.prep.inputs.random_seed: the step's component declares no input random_seed "
        "(inputs: raw_data, seed)",
    ),
    "inline step using an undeclared input": (
        lambda pipeline: pipeline["jobs"].update(
            report={
                "type": "command",
                "code": "..",
                "environment": PREP["environment"],
                "command": f"python train.py --data-path {expression('inputs.model_dir')}",
                "inputs": {"model": expression("parent.jobs.train.outputs.model")},
            }
        ),
        f"jobs.report.command: {expression('inputs.model_dir')} names no input of step report "
        "(inputs: model)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_PIPELINES))
def test_a_broken_pipeline_binding_is_named(mlops, project, data_name, case):
    change, expected = BROKEN_PIPELINES[case]
    write_pipeline(data_name, change)

    result = mlops("validate", PIPELINE)

    assert result.exit_code == 2
    assert f"{PIPELINE.as_posix()}: {expected}" in problem_lines(result), result.stdout


def test_a_pipeline_input_no_step_binds_is_a_warning(mlops, project, data_name):
    write_pipeline(data_name, lambda pipeline: pipeline["inputs"].update(test_size=0.2))

    result = mlops("validate", PIPELINE)

    assert result.exit_code == 0, result.output
    assert warning_lines(result) == [
        f"warning: {PIPELINE.as_posix()}: inputs.test_size: no step binds it: "
        f"{expression('parent.inputs.test_size')} appears nowhere"
    ]


def test_a_component_command_naming_an_undeclared_input_is_a_problem(mlops, project):
    write_components()
    edit(COMPONENTS / PREP_FILE, replace_in_command("inputs.seed", "inputs.random_seed"))

    result = mlops("validate", COMPONENTS / PREP_FILE)

    assert (
        f"{(COMPONENTS / PREP_FILE).as_posix()}: command: {expression('inputs.random_seed')} "
        "names no input of this component (inputs: raw_data, seed)"
    ) in problem_lines(result)


def test_a_sweep_wired_right_is_valid(mlops, project, compute_name, data_name):
    write_sweep(compute_name, data_name)

    result = mlops("validate", SWEEP, "--strict")

    assert result.exit_code == 0, result.output


def test_a_misspelt_search_space_parameter_is_a_problem(mlops, project, compute_name, data_name):
    def misspell(sweep: dict) -> None:
        trial = sweep["trial"]
        trial["command"] = trial["command"].replace("search_space.max_depth", "search_space.depth")

    write_sweep(compute_name, data_name, misspell)

    result = mlops("validate", SWEEP)

    assert result.exit_code == 2
    assert (
        f"{SWEEP.as_posix()}: trial.command: {expression('search_space.depth')} names no "
        "search_space parameter of this job (search_space: max_depth, n_estimators)"
    ) in problem_lines(result)
    assert (
        f"warning: {SWEEP.as_posix()}: search_space.max_depth: no command uses it: "
        f"{expression('search_space.max_depth')} appears nowhere"
    ) in warning_lines(result)


def test_expressions_the_service_fills_in_are_left_alone(mlops, project, paths):
    datastore_path = (
        f"azureml://datastores/{expression('default_datastore')}/paths/{expression('name')}/"
    )
    edit(paths.train, lambda spec: spec["outputs"]["model_output"].update(path=datastore_path))

    result = mlops("validate", paths.train, "--strict")

    assert result.exit_code == 0, result.output


def test_a_pipeline_step_of_a_workspace_component_binds_freely(mlops, project, data_name):
    """A registry's component is not read here: what it declares is unknown."""

    def workspace_component(pipeline: dict) -> None:
        registry = "azureml://registries/azureml/components/prep/versions/1"
        pipeline["jobs"]["prep"]["component"] = registry
        pipeline["jobs"]["prep"]["inputs"]["anything"] = 1

    write_pipeline(data_name, workspace_component)

    result = mlops("validate", PIPELINE)

    assert result.exit_code == 0, result.output
