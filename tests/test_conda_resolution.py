"""The conda files of a baked project: each declares the Python version answered, its pip list
resolves as a whole against the package registry for that Python on the Azure ML base images'
platform, and its pins agree with the generated pyproject.toml (the model is trained and exported
in Azure ML with the packages it is trained and tested with locally, and served with the runtime
it is tested with)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import run, uv
from hook_modules import pre_gen
from matrix import SUPPORTED

CONDA_DIR = "models/model1/aml_config"
CONDA_FILES = ("train-conda.yml", "inference-conda.yml")
PYTHON_VERSIONS = pre_gen.SUPPORTED_PYTHON_VERSIONS
BAKE_ID_BY_PYTHON: dict[str, str] = {}
for bake_case in SUPPORTED:
    BAKE_ID_BY_PYTHON.setdefault(
        bake_case.answers.get("python_version", PYTHON_VERSIONS[0]), bake_case.id
    )

# The Azure ML base images run Ubuntu 22.04 (glibc 2.35) on x86_64: uv resolves for that platform
# (manylinux_2_35 and every older manylinux).
TARGET_PLATFORM = "x86_64-manylinux_2_35"

# Not compared: the training image's mlflow-skinny (azureml-mlflow caps it at 3.15.0) and the local
# full mlflow (its SQLite store needs SQLAlchemy; full mlflow 3.15.0 caps pandas below 3).
# Each conda file lists its model packages, pinned as in pyproject.toml: what trains and exports the
# model, and what serves its model.onnx (the scoring image needs no scikit-learn).
MODEL_PACKAGES_BY_CONDA_FILE = {
    "train-conda.yml": ("scikit-learn", "pandas", "joblib", "skl2onnx", "onnx"),
    "inference-conda.yml": ("azureml-inference-server-http", "onnxruntime", "numpy"),
}


def conda_environment(project: Path, conda_file: str) -> dict:
    return yaml.safe_load((project / CONDA_DIR / conda_file).read_text(encoding="utf-8"))


def pip_requirements(environment: dict) -> list[str]:
    (pip_section,) = [
        entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)
    ]
    return pip_section


def pins(requirement_lines: list[str], where: str) -> dict[str, str]:
    """{canonical name: version} of `name==version` lines; anything else fails naming the line."""
    pinned = {}
    for line in requirement_lines:
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            pytest.fail(f"{where}: {line!r} is not pinned with ==")
        pinned[canonicalize_name(requirement.name)] = specifiers[0].version
    return pinned


@pytest.mark.parametrize("conda_file", CONDA_FILES)
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_conda_python_is_the_answer(bake, python_version, conda_file):
    environment = conda_environment(bake(BAKE_ID_BY_PYTHON[python_version]), conda_file)
    pythons = [
        entry
        for entry in environment["dependencies"]
        if isinstance(entry, str) and entry.partition("=")[0].strip() == "python"
    ]
    assert pythons == [f"python={python_version}"]


@pytest.mark.slow
@pytest.mark.parametrize("conda_file", CONDA_FILES)
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_conda_pip_list_resolves_as_a_whole(bake, python_version, conda_file, tmp_path):
    """The pip list resolves against the registry for the image's Python and platform, with
    wheels only (the image builds nothing), and resolves to exactly its pins."""
    environment = conda_environment(bake(BAKE_ID_BY_PYTHON[python_version]), conda_file)
    requirements = pip_requirements(environment)
    pinned = pins(requirements, conda_file)  # fails on a line that is not pinned
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    resolved = run(
        [
            uv(),
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--only-binary",
            ":all:",
            "--python-version",
            python_version,
            "--python-platform",
            TARGET_PLATFORM,
            requirements_file,
        ],
        cwd=tmp_path,
    ).stdout
    versions = dict(
        (canonicalize_name(name), version)
        for name, _, version in (line.partition("==") for line in resolved.splitlines())
    )
    assert {name: versions.get(name) for name in pinned} == pinned


def pyproject_pins(project: Path) -> dict[str, str]:
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    itself = canonicalize_name(metadata["name"])
    lines = list(metadata["dependencies"])
    for extra in metadata["optional-dependencies"].values():
        lines.extend(line for line in extra if canonicalize_name(Requirement(line).name) != itself)
    return pins(lines, "pyproject.toml")


def test_conda_pins_agree_with_each_other_and_with_pyproject(default_project):
    local = pyproject_pins(default_project)
    by_conda_file = {
        conda_file: pins(
            pip_requirements(conda_environment(default_project, conda_file)), conda_file
        )
        for conda_file in CONDA_FILES
    }
    disagreements = []
    for conda_file, conda_pins in by_conda_file.items():
        for name, version in conda_pins.items():
            if name in local and local[name] != version:
                disagreements.append(
                    f"{conda_file}: {name}=={version}, pyproject.toml: {name}=={local[name]}"
                )
    assert disagreements == []
    for conda_file, packages in MODEL_PACKAGES_BY_CONDA_FILE.items():
        assert [name for name in packages if name not in by_conda_file[conda_file]] == []
        assert [name for name in packages if name not in local] == []
    training_only = set(MODEL_PACKAGES_BY_CONDA_FILE["train-conda.yml"])
    assert training_only.isdisjoint(by_conda_file["inference-conda.yml"]), "serving loads no pickle"
