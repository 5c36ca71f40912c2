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
# Those of batch scoring: the batch deployment's and the nightly job's (mlops), checked in the
# bake that deploys both kinds.
BATCH_CONDA_FILES = ("batch-conda.yml", "mlops-conda.yml")
BATCH_BAKE = next(b.id for b in SUPPORTED if b.answers.get("deployment") == "both")
# Source-only packages the batch runtime needs: pure Python, built by pip in the image.
SOURCE_ONLY = {"batch-conda.yml": ("fusepy",)}
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
    # pandas for the data collector (azureml-ai-monitoring takes DataFrames), not for the model.
    "inference-conda.yml": (
        "azureml-ai-monitoring",
        "azureml-inference-server-http",
        "onnxruntime",
        "numpy",
        "pandas",
    ),
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


def resolved_pins(requirements: list[str], python_version: str, tmp_path, source_only=()):
    """{name: version} the pip list resolves to for the image's Python and platform, with wheels
    only (the image builds nothing) but for the ``source_only`` packages."""
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    no_binary = [arg for name in source_only for arg in ("--no-binary", name)]
    resolved = run(
        [
            uv(),
            "pip",
            "compile",
            "--quiet",
            # The target Python is a version to resolve for, not an interpreter to download.
            "--no-python-downloads",
            "--no-header",
            "--no-annotate",
            "--only-binary",
            ":all:",
            *no_binary,
            "--python-version",
            python_version,
            "--python-platform",
            TARGET_PLATFORM,
            requirements_file,
        ],
        cwd=tmp_path,
    ).stdout
    return dict(
        (canonicalize_name(name), version)
        for name, _, version in (line.partition("==") for line in resolved.splitlines())
    )


@pytest.mark.slow
@pytest.mark.parametrize("conda_file", CONDA_FILES)
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_conda_pip_list_resolves_as_a_whole(bake, python_version, conda_file, tmp_path):
    """The pip list resolves, and to exactly its pins."""
    environment = conda_environment(bake(BAKE_ID_BY_PYTHON[python_version]), conda_file)
    requirements = pip_requirements(environment)
    pinned = pins(requirements, conda_file)  # fails on a line that is not pinned
    versions = resolved_pins(requirements, python_version, tmp_path)
    assert {name: versions.get(name) for name in pinned} == pinned


@pytest.mark.slow
@pytest.mark.parametrize("conda_file", BATCH_CONDA_FILES)
def test_batch_conda_pip_lists_resolve_as_a_whole(bake, conda_file, tmp_path):
    environment = conda_environment(bake(BATCH_BAKE), conda_file)
    (python,) = [e for e in environment["dependencies"] if isinstance(e, str) and "python=" in e]
    requirements = pip_requirements(environment)
    pinned = pins(requirements, conda_file)
    source_only = SOURCE_ONLY.get(conda_file, ())
    versions = resolved_pins(requirements, python.partition("=")[2], tmp_path, source_only)
    assert {name: versions.get(name) for name in pinned} == pinned


def test_batch_conda_pins_agree_with_pyproject(bake):
    project = bake(BATCH_BAKE)
    local = pyproject_pins(project)
    for conda_file in BATCH_CONDA_FILES:
        listed = pins(pip_requirements(conda_environment(project, conda_file)), conda_file)
        shared = {name: version for name, version in listed.items() if name in local}
        assert shared == {name: local[name] for name in shared}, conda_file
    mlops = pins(pip_requirements(conda_environment(project, "mlops-conda.yml")), "mlops")
    assert {"azure-ai-ml", "azure-identity", "click"} <= set(mlops) <= set(local)


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
    training_only = set(MODEL_PACKAGES_BY_CONDA_FILE["train-conda.yml"]) - set(
        MODEL_PACKAGES_BY_CONDA_FILE["inference-conda.yml"]
    )
    assert training_only.isdisjoint(by_conda_file["inference-conda.yml"]), "serving loads no pickle"
