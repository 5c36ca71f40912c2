"""``mlops validate``: passes on the generated project; names file and field of each problem."""

from __future__ import annotations

import importlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from mlops import specs
from mlops.output import configure_logging
from mlops.specs import error_fields, find_specs, kind_of_file
from tests.job_specs import spec_name, write_sweep
from tests.spec_files import assert_validate_names, edit, problem_lines

# The command components of each model's training pipeline (models/<name>/components/).
PIPELINE_STEPS = ("prep", "train", "evaluate", "register")


def model_folders(root: Path) -> list[str]:
    """models/<name> of every model of the project (a bake has model1; add-model adds more)."""
    markers = root.glob("models/*/model.mk")
    return sorted(marker.parent.relative_to(root).as_posix() for marker in markers)


# A model's deployment specs: those of the deployment kinds its project has (online, batch).
DEPLOYMENT_SPEC_KINDS = {
    "deployment/deployment.yml": "online_deployment",
    "deployment/endpoint.yml": "online_endpoint",
    "deployment/batch-deployment.yml": "batch_deployment",
    "deployment/batch-endpoint.yml": "batch_endpoint",
    "deployment/batch-schedule.yml": "schedule",
    "deployment/nightly-batch-job.yml": "job",
    "monitoring/monitor.yml": "schedule",
}


def conda_files(root: Path) -> list[Path]:
    return sorted(root.glob("models/*/aml_config/*-conda.yml"))


def test_generated_project_is_valid(mlops, project, paths):
    result = mlops("validate")
    assert result.exit_code == 0, result.output
    assert problem_lines(result) == []
    specs_found = len([p for p in project.rglob("*.yml") if "$schema:" in p.read_text()])
    assert f"checked {specs_found} specs" in result.stderr


def test_every_spec_of_the_project_is_found_with_its_kind(paths):
    """The spec discovery of `mlops validate`, run on the project: every spec, nothing else."""
    found = {
        spec.relative_to(paths.root).as_posix(): kind_of_file(spec).name
        for spec in find_specs([paths.root])
    }

    expected = {
        "aml/compute.yml": "compute",
        "aml/data.yml": "data",
        "aml/registry.yml": "registry",
        "aml/sample-data-table.yml": "data",
        "aml/workspace.yml": "workspace",
    }
    for model in model_folders(paths.root):
        expected |= {
            f"{model}/aml_config/environment.yml": "environment",
            f"{model}/aml_config/train-amlcompute.yml": "job",
            f"{model}/aml_config/train-local.yml": "job",
            f"{model}/aml_config/train-pipeline.yml": "job",
            f"{model}/aml_config/sweep.yml": "job",
            f"{model}/aml_config/retrain-schedule.yml": "schedule",
            **{f"{model}/components/{step}.yml": "component" for step in PIPELINE_STEPS},
        }
        expected |= {
            f"{model}/{spec}": kind
            for spec, kind in DEPLOYMENT_SPEC_KINDS.items()
            if (paths.root / model / spec).is_file()
        }
    assert found == expected


BROKEN_SPECS = {
    "unknown field": (
        "train",
        lambda spec: spec.update(epochs=5),
        "epochs: Unknown field.",
    ),
    "unknown nested field": (
        "train",
        lambda spec: spec["inputs"]["training_data"].update(mode_x="mount"),
        "inputs.training_data.mode_x: Unknown field.",
    ),
    "missing required field": (
        "train",
        lambda spec: spec.pop("command"),
        "command: Missing data for required field.",
    ),
    "bad endpoint name": (
        "endpoint",
        lambda spec: spec.update(name="Churn_Endpoint!"),
        "name: 'Churn_Endpoint!' is not a valid name",
    ),
    "bad compute name": (
        "compute",
        lambda spec: spec.update(name="cpu-1"),
        "name: 'cpu-1' is not a valid name",
    ),
    "bad deployment name": (
        "deployment",
        lambda spec: spec.update(name="b"),
        "name: 'b' is not a valid name",
    ),
    "wrong value type": (
        "compute",
        lambda spec: spec.update(max_instances="many"),
        "max_instances: Not a valid integer.",
    ),
    "missing code folder": (
        "train",
        lambda spec: spec.update(code="../src"),
        "code: ../src does not exist",
    ),
    "missing scoring script": (
        "deployment",
        lambda spec: spec["code_configuration"].update(scoring_script="predict.py"),
        "code_configuration.scoring_script: predict.py does not exist",
    ),
    "missing conda file": (
        "environment",
        lambda spec: spec.update(conda_file="conda.yml"),
        "conda_file: conda.yml does not exist",
    ),
    "missing data folder": (
        "data",
        lambda spec: spec.update(path="../data"),
        "path: ../data does not exist",
    ),
    "missing local input": (
        "train_local",
        lambda spec: spec["inputs"]["training_data"].update(path="../../../no-data"),
        "inputs.training_data.path: ../../../no-data does not exist",
    ),
    "unknown schema": (
        "data",
        lambda spec: spec.update({"$schema": "https://example.com/data.schema.json"}),
        "$schema: not an Azure ML schema this tool knows",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SPECS))
def test_broken_spec_is_named_with_its_field(mlops, project, paths, case):
    spec_name, change, expected = BROKEN_SPECS[case]
    spec = getattr(paths, spec_name)
    edit(spec, change)

    assert_validate_names(mlops, spec, expected)


def test_unparsable_yaml_names_the_line(mlops, project, paths):
    text = paths.compute.read_text().replace("min_instances: 0", "min_instances: [0")
    paths.compute.write_text(text)
    line_number = text.splitlines().index("min_instances: [0") + 2

    result = mlops("validate")

    assert result.exit_code == 2
    assert problem_lines(result) == [
        f"{paths.compute.as_posix()}: line {line_number}: not valid YAML: "
        "expected ',' or ']', but got ':'"
    ]


def test_conda_file_without_dependencies_is_a_problem(mlops, project, paths):
    edit(paths.train_conda, lambda conda: conda.pop("dependencies"))

    result = mlops("validate")

    assert result.exit_code == 2
    assert f"{paths.train_conda.as_posix()}: dependencies: missing" in result.stdout


def test_unparsable_conda_file_is_a_problem(mlops, project, paths):
    paths.train_conda.write_text("dependencies: [python=3.11\n")

    result = mlops("validate")

    assert result.exit_code == 2
    assert f"{paths.train_conda.as_posix()}: line 2: not valid YAML" in result.stdout


def test_several_problems_give_one_line_each(mlops, project, paths):
    edit(paths.train, lambda spec: spec.update(epochs=5))
    edit(paths.endpoint, lambda spec: spec.update(auth_mode="password"))
    edit(paths.environment, lambda spec: spec.update(conda_file="missing.yml"))

    result = mlops("validate")

    files = sorted(line.split(":")[0] for line in problem_lines(result))
    assert files == sorted(p.as_posix() for p in (paths.train, paths.endpoint, paths.environment))


def test_validate_given_files_only(mlops, project, paths):
    edit(paths.train, lambda spec: spec.update(epochs=5))

    assert mlops("validate", paths.compute, paths.endpoint).exit_code == 0
    assert mlops("validate", paths.train).exit_code == 2


def test_yaml_without_schema_given_explicitly_is_a_problem(mlops, project, paths):
    result = mlops("validate", paths.train_conda)

    assert result.exit_code == 2
    assert f"{paths.train_conda.as_posix()}: $schema: missing" in result.stdout


def test_folder_without_specs_is_bad_input(mlops, project):
    (project / "empty").mkdir()

    result = mlops("validate", "empty")

    assert result.exit_code == 2
    assert "no Azure ML specs found" in result.stderr


def test_union_errors_report_the_closest_alternative():
    text = (
        'Validation for CommandJobSchema failed:\n\n {"inputs": {"data": {"value": ['
        '{"bar": ["Unknown field."]}, {"type": ["Not in set."], "bar": ["Unknown field."]}]}}}'
    )
    assert error_fields(text) == [("inputs.data.bar", "Unknown field.")]


# The packages that train and serve the model are pinned alike in pyproject.toml and the conda
# files that list them: the training ones in train-conda.yml, the serving ones in
# inference-conda.yml.

CONDA_FILE_OF = {
    "scikit-learn": "train-conda.yml",
    "skl2onnx": "train-conda.yml",
    "onnxruntime": "inference-conda.yml",
}


def pinned_version(project: Path, package: str) -> str:
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(rf'"{package}==([^"]+)"', text).group(1)


def bumped(version: str) -> str:
    *head, last = version.split(".")
    return ".".join([*head, str(int(last) + 1)])


def set_pin(path: Path, package: str, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert f"{package}=={old}" in text
    path.write_text(text.replace(f"{package}=={old}", f"{package}=={new}"), encoding="utf-8")


def test_model_packages_are_pinned_alike_in_a_fresh_project(mlops, project):
    result = mlops("validate")

    assert result.exit_code == 0, result.output
    assert f"{len(conda_files(project))} conda files" in result.stderr


@pytest.mark.parametrize(("package", "conda_file"), CONDA_FILE_OF.items())
def test_a_pin_bumped_in_pyproject_only_is_reported_in_the_conda_file(
    mlops, project, package, conda_file
):
    old = pinned_version(project, package)
    new = bumped(old)
    set_pin(project / "pyproject.toml", package, old, new)

    result = mlops("validate")

    assert result.exit_code == 2
    listing = [path for path in conda_files(project) if f"{package}=={old}" in path.read_text()]
    if not listing:
        pytest.skip(f"no conda file of this project lists {package} ({conda_file} is online's)")
    assert sorted(problem_lines(result)) == [
        f"{path.relative_to(project).as_posix()}: dependencies.pip: "
        f"{package}=={old} but pyproject.toml pins {new}"
        for path in listing
    ]


def test_a_pin_changed_in_one_conda_file_is_reported(mlops, project, paths):
    pinned = pinned_version(project, "scikit-learn")
    set_pin(paths.train_conda, "scikit-learn", pinned, bumped(pinned))

    result = mlops("validate")

    assert problem_lines(result) == [
        f"{paths.train_conda.as_posix()}: dependencies.pip: "
        f"scikit-learn=={bumped(pinned)} but pyproject.toml pins {pinned}"
    ]


def test_an_unpinned_or_conda_listed_model_package_is_reported(mlops, project, paths):
    pinned = pinned_version(project, "pandas")
    conda = yaml.safe_load(paths.train_conda.read_text(encoding="utf-8"))
    pip_list = conda["dependencies"][-1]["pip"]
    pip_list[pip_list.index(f"pandas=={pinned}")] = "pandas>=2"
    conda["dependencies"].insert(0, "joblib=1.0.0")
    paths.train_conda.write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")

    result = mlops("validate")

    joblib = pinned_version(project, "joblib")
    assert problem_lines(result) == [
        f"{paths.train_conda.as_posix()}: dependencies: joblib=1.0.0 but pyproject.toml pins "
        f"{joblib}",
        f"{paths.train_conda.as_posix()}: dependencies.pip: pandas>=2 but pyproject.toml pins "
        f"{pinned}",
    ]


def test_a_project_with_a_model_added_is_valid(mlops, project, paths):
    models = model_folders(project)
    shutil.copytree(paths.root / "model_template", project / "model_template")
    assert mlops("add-model", "added-model").exit_code == 0

    result = mlops("validate", "--strict")

    assert result.exit_code == 0, result.output
    assert model_folders(project) == sorted([*models, "models/added-model"])


# The scripts a command runs are in its code folder (mlops/scripts.py).


def set_command(command: str):
    return lambda spec: spec.update(command=command)


MISSING_SCRIPTS = {
    "script": ("python trian.py --data-path x", "trian.py does not exist in the code folder"),
    "script after options": ("python -u -W ignore trian.py", "trian.py does not exist"),
    "module of the code folder": (
        "python -m tests.no_such_test",
        "module tests.no_such_test does not exist in the code folder",
    ),
    "script after cd": ("cd tests && python train.py", "train.py does not exist"),
    "shell script": ("bash run.sh", "run.sh does not exist in the code folder"),
}
PRESENT_SCRIPTS = {
    "installed module": "python -m pip --version",
    "script after cd": "cd tests && python test_train.py",
    "inline code": "python -c 'print(1)'",
    "chained commands": "pip list && python3 train.py --help",
    "line continuation": "python train.py \\\n  --help",
}


@pytest.mark.parametrize("case", sorted(MISSING_SCRIPTS))
def test_a_script_missing_from_the_code_folder_is_a_problem(mlops, project, paths, case):
    command, message = MISSING_SCRIPTS[case]
    edit(paths.train, set_command(command))

    result = mlops("validate", paths.train)

    assert result.exit_code == 2
    assert any(
        line.startswith(f"{paths.train.as_posix()}: command: {message}")
        for line in problem_lines(result)
    ), result.stdout


@pytest.mark.parametrize("case", sorted(PRESENT_SCRIPTS))
def test_a_script_the_command_finds_passes(mlops, project, paths, case):
    edit(paths.train, set_command(PRESENT_SCRIPTS[case]))

    result = mlops("validate", paths.train)

    assert [line for line in problem_lines(result) if ": command: " in line] == []


def test_a_script_missing_from_a_sweep_trial_is_a_problem(mlops, project, paths):
    def rename(sweep: dict) -> None:
        sweep["trial"]["command"] = sweep["trial"]["command"].replace("train.py", "fit.py")

    spec = write_sweep(spec_name(paths.compute), spec_name(paths.data), rename)

    result = mlops("validate", spec)

    assert any(
        line.startswith(f"{spec.as_posix()}: trial.command: fit.py does not exist")
        for line in problem_lines(result)
    ), result.stdout


# Every package of a conda file is pinned to one version.


@pytest.mark.parametrize(
    ("entry", "listed_under", "message"),
    [
        ("requests>=2", "pip", "requests>=2 is not pinned to one version (requests==<version>)"),
        (
            "requests==2.*",
            "pip",
            "requests==2.* is not pinned to one version (requests==<version>)",
        ),
        ("libgomp", "conda", "libgomp is not pinned to one version (libgomp=<version>)"),
    ],
)
def test_an_unpinned_package_is_a_problem(mlops, project, paths, entry, listed_under, message):
    def add(conda: dict) -> None:
        if listed_under == "pip":
            conda["dependencies"][-1]["pip"].append(entry)
        else:
            conda["dependencies"].insert(0, entry)

    edit(paths.train_conda, add)

    result = mlops("validate", paths.environment)

    field_name = "dependencies.pip" if listed_under == "pip" else "dependencies"
    assert problem_lines(result) == [f"{paths.train_conda.as_posix()}: {field_name}: {message}"]


@pytest.mark.parametrize(
    "entry", ["requests==2.32.3", "requests===2.32.3", "requests @ https://example.com/r.whl"]
)
def test_a_pinned_package_passes(mlops, project, paths, entry):
    edit(paths.train_conda, lambda conda: conda["dependencies"][-1]["pip"].append(entry))

    assert mlops("validate", paths.environment).exit_code == 0


def test_the_sdks_experimental_warnings_are_decided_only_when_shown():
    """azure-ai-ml walks the whole call stack to decide whether to warn of an experimental class:
    mlops skips it unless --verbose shows the SDK's log."""
    experimental = importlib.import_module(specs.EXPERIMENTAL_MODULE)
    try:
        configure_logging(verbose=True)
        specs.import_azure_ml()
        assert experimental._should_skip_warning is specs.SDK_CHECKS["experimental"]
        configure_logging(verbose=False)
        specs.import_azure_ml()
        assert experimental._should_skip_warning is specs.skip_warning
    finally:
        configure_logging(verbose=False)
