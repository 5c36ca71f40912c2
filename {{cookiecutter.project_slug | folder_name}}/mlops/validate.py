"""``mlops validate``: offline checks of Azure ML specs, what they name and what Azure ML accepts.

Each spec is loaded with azure-ai-ml (its shape), then checked for what the loader leaves to the
service: names (mlops.naming), links to other specs (mlops.links), ``${...}`` expressions
(mlops.expressions), the scripts its commands run (mlops.scripts), documented limits
(mlops.limits), the local files it names and its conda files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlops import specs
from mlops.catalog import PYPROJECT, Catalog, Spec, catalog_of
from mlops.expressions import check_expressions
from mlops.kinds import Kind
from mlops.limits import check_limits
from mlops.links import check_links
from mlops.monitors import check_monitor, check_table_folder
from mlops.naming import name_problem
from mlops.scripts import check_scripts
from mlops.specs import Problem, display_path

# Fields whose string value names a local file or folder, relative to the spec.
PATH_FIELDS = {"code", "conda_file", "path", "component", "create_job"}
# Of these, the ones naming a spec file (a YAML file), when they name a local one at all.
SPEC_FILE_FIELDS = {"component", "create_job"}
# What trains and exports a model (scikit-learn ... onnx), what serves its model.onnx
# (onnxruntime, numpy) and what collects its inputs and outputs (azureml-ai-monitoring): pinned
# alike in pyproject.toml (local training and tests) and in every conda file that lists them
# (training and scoring in Azure ML). Dependabot bumps only pyproject.toml.
MODEL_PACKAGES = (
    "scikit-learn",
    "pandas",
    "joblib",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "azureml-ai-monitoring",
)
# The conda package that installs a conda file's `pip:` list: the tool, not what the code runs on.
UNPINNED_TOOLS = ("pip",)
# A conda (not pip) dependency: [channel::]name, then "=V", "==V" or " V" (and a build) for a pin.
CONDA_PACKAGE = re.compile(r"(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.-]+)\s*(?P<spec>.*)")
CONDA_EXACT = re.compile(r"(?:==?)?\s*(?P<version>[^=\s,|<>!*]+)(?:[=\s]\S*)?")


@dataclass
class Report:
    catalog: Catalog
    problems: list[Problem] = field(default_factory=list)
    # What does not stop a submission but deserves a look (an input no command uses).
    warnings: list[Problem] = field(default_factory=list)
    specs: int = 0
    conda_files: set[Path] = field(default_factory=set)
    # pyproject.toml -> the versions it pins for MODEL_PACKAGES
    project_pins: dict[Path, dict[str, str]] = field(default_factory=dict)


def validate(paths: Iterable[Path], root: Path) -> Report:
    """Check the specs of ``paths`` (files, or the specs below folders) of the project in
    ``root``, whose every spec they may link to."""
    found = specs.find_specs(list(paths))
    report = Report(catalog_of(root, found))
    for path in found:
        report.specs += 1
        report.problems.extend(check_spec(path, report))
    report.problems.extend(report.catalog.problems)
    return report


def check_spec(path: Path, report: Report) -> list[Problem]:
    shown = display_path(path)
    document, problem = report.catalog.document(path)
    if problem is not None:
        return [problem]
    if not isinstance(document, dict):
        return [Problem(shown, "spec", "an Azure ML spec is a YAML mapping")]
    url = document.get("$schema")
    if not isinstance(url, str):
        return [Problem(shown, "$schema", "missing; an Azure ML spec starts with its $schema line")]
    spec = report.catalog.spec_at(path)
    if spec is None:
        return [Problem(shown, "$schema", f"not an Azure ML schema this tool knows: {url}")]

    problems = list(check_names(shown, spec.kind, document))
    missing_paths: set[Path] = set()
    base = path.resolve().parent
    for field_name, value, referenced in local_references(document, base):
        if not referenced.exists():
            missing_paths.add(referenced)
            problems.append(
                Problem(shown, field_name, f"{value} does not exist ({display_path(referenced)})")
            )
        elif field_name.endswith("conda_file") and referenced not in report.conda_files:
            report.conda_files.add(referenced)
            problems.extend(check_conda_file(referenced, report))
    for field_name, conda in inline_conda_files(document):
        conda_problems = check_conda_document(shown, field_name, conda)
        if not conda_problems:
            conda_problems = check_pins(shown, field_name, conda, base, report)
        problems.extend(conda_problems)
    problems.extend(check_meaning(spec, report))

    problem_fields = {problem.field for problem in problems}
    _, loader_problems = specs.try_load(path, spec.kind)
    for loader_problem in loader_problems:
        mentions_missing = any(str(missing) in loader_problem.message for missing in missing_paths)
        if loader_problem.field not in problem_fields and not mentions_missing:
            problems.append(loader_problem)
    return problems


def check_meaning(spec: Spec, report: Report) -> list[Problem]:
    """What the loader leaves to the service: links, expressions, scripts, limits; warnings go to
    the report."""
    problems = list(check_links(spec, report.catalog))
    for check in (check_expressions, check_limits):
        found, warnings = check(spec, report.catalog)
        problems.extend(found)
        report.warnings.extend(warnings)
    problems.extend(check_scripts(spec))
    problems.extend(check_monitor(spec, report.catalog))
    problems.extend(check_table_folder(spec))
    return problems


def check_names(shown: str, kind: Kind, document: dict) -> Iterator[Problem]:
    for field_name, rule_name in kind.named_fields.items():
        value = document.get(field_name)
        problem = name_problem(value, rule_name) if value is not None else None
        if problem:
            yield Problem(shown, field_name, problem)


def local_references(node: Any, base: Path, prefix: str = "") -> Iterator[tuple[str, str, Path]]:
    """(field, value, resolved path) of every local file or folder the spec names."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from local_references(item, base, f"{prefix}[{index}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        key = str(key)
        field_name = f"{prefix}.{key}" if prefix else key
        if key == "outputs":
            continue  # output paths name where results go, not files to upload
        if key in PATH_FIELDS and isinstance(value, str) and specs.is_local_path(value):
            if key in SPEC_FILE_FIELDS and not value.endswith(specs.YAML_SUFFIXES):
                continue
            yield field_name, value, (base / value).resolve()
            code = node.get("scoring_script") if key == "code" else None
            if isinstance(code, str):
                scoring = f"{prefix}.scoring_script" if prefix else "scoring_script"
                yield scoring, code, (base / value / code).resolve()
        elif isinstance(value, dict | list):
            yield from local_references(value, base, field_name)


def inline_conda_files(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            field_name = f"{prefix}.{key}" if prefix else str(key)
            if key == "conda_file" and isinstance(value, dict):
                yield field_name, value
            elif isinstance(value, dict | list):
                yield from inline_conda_files(value, field_name)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from inline_conda_files(item, f"{prefix}[{index}]")


def check_conda_file(path: Path, report: Report) -> list[Problem]:
    document, problem = report.catalog.document(path)
    if problem is not None:
        return [problem]
    shown = display_path(path)
    return check_conda_document(shown, "", document) or check_pins(
        shown, "", document, path.parent, report
    )


def check_conda_document(shown: str, prefix: str, document: Any) -> list[Problem]:
    """A conda file lists its packages under ``dependencies``, pip ones in a ``pip`` list."""
    where = f"{prefix}." if prefix else ""
    if not isinstance(document, dict):
        return [Problem(shown, prefix or "conda", "a conda file is a YAML mapping")]
    dependencies = document.get("dependencies")
    if not isinstance(dependencies, list) or not dependencies:
        return [Problem(shown, f"{where}dependencies", "missing or empty list of packages")]
    problems = []
    for index, entry in enumerate(dependencies):
        field_name = f"{where}dependencies[{index}]"
        if isinstance(entry, str) and entry.strip():
            continue
        if isinstance(entry, dict) and set(entry) == {"pip"} and isinstance(entry["pip"], list):
            for pip_index, requirement in enumerate(entry["pip"]):
                if not isinstance(requirement, str) or not requirement.strip():
                    problems.append(
                        Problem(shown, f"{field_name}.pip[{pip_index}]", "not a requirement string")
                    )
            continue
        problems.append(
            Problem(shown, field_name, "expected a package string or a 'pip:' list of packages")
        )
    return problems


def find_pyproject(folder: Path) -> Path | None:
    """The pyproject.toml of the project ``folder`` belongs to: the nearest one upwards."""
    folder = folder.resolve()
    return next(
        (d / PYPROJECT for d in (folder, *folder.parents) if (d / PYPROJECT).is_file()), None
    )


def exact_pin(line: Any) -> tuple[str | None, str | None]:
    """(canonical name, version) of a pip requirement: the version of a single ``==`` (or
    ``===``) pin of one version, the URL of a direct reference, else None.

    (None, None) for what is not a requirement: pip options (``-r``, ``--index-url``), bare URLs.
    """
    if not isinstance(line, str):
        return None, None
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return None, None
    name = canonicalize_name(requirement.name)
    if requirement.url:
        return name, requirement.url
    specifiers = list(requirement.specifier)
    exact = (
        len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and "*" not in specifiers[0].version
    )
    return name, specifiers[0].version if exact else None


def conda_pin(entry: str) -> tuple[str | None, str | None]:
    """(canonical name, version) of a conda dependency; the version only for an exact pin."""
    match = CONDA_PACKAGE.fullmatch(entry.strip())
    if match is None:
        return None, None
    exact = CONDA_EXACT.fullmatch(match["spec"]) if match["spec"] else None
    return canonicalize_name(match["name"]), exact["version"] if exact else None


def project_pins(pyproject: Path, report: Report) -> dict[str, str]:
    """The ``==`` versions pyproject.toml gives MODEL_PACKAGES (dependencies, then extras)."""
    if pyproject in report.project_pins:
        return report.project_pins[pyproject]
    report.project_pins[pyproject] = pins = {}
    project = report.catalog.toml(pyproject).get("project")
    project = project if isinstance(project, dict) else {}
    lines = list(project.get("dependencies") or [])
    extras = project.get("optional-dependencies") or {}
    for extra in extras.values() if isinstance(extras, dict) else []:
        lines.extend(extra if isinstance(extra, list) else [])
    for line in lines:
        name, version = exact_pin(line)
        if name in MODEL_PACKAGES and version and name not in pins:
            pins[name] = version
    return pins


def same_version(found: str | None, pinned: str) -> bool:
    if found is None:
        return False
    try:
        return Version(found) == Version(pinned)
    except InvalidVersion:
        return found == pinned


def check_pins(
    shown: str, prefix: str, document: dict, folder: Path, report: Report
) -> list[Problem]:
    """Every package of a conda file is pinned to one version, and each of MODEL_PACKAGES to
    the version pyproject.toml pins."""
    pyproject = find_pyproject(folder)
    pins = project_pins(pyproject, report) if pyproject is not None else {}
    where = f"{prefix}." if prefix else ""
    problems = []
    for entry in document["dependencies"]:
        if isinstance(entry, dict):
            pip_field = f"{where}dependencies.pip"
            listed = [(pip_field, line, "==", exact_pin(line)) for line in entry["pip"]]
        else:
            listed = [(f"{where}dependencies", entry, "=", conda_pin(entry))]
        for field_name, line, operator, (name, version) in listed:
            if name in pins and not same_version(version, pins[name]):
                message = f"{line.strip()} but {display_path(pyproject)} pins {pins[name]}"
            elif name is not None and version is None and name not in UNPINNED_TOOLS:
                message = f"{line.strip()} is not pinned to one version ({name}{operator}<version>)"
            else:
                continue
            problems.append(Problem(shown, field_name, message))
    return problems
