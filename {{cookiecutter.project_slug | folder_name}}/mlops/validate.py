"""``mlops validate``: offline checks of Azure ML specs, their conda files and local paths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops import specs
from mlops.specs import Problem, display_path

# Azure's naming rules for the names a spec gives (full match). The service refuses other names,
# and azure-ai-ml checks only a few of them before sending.
NAME_RULES = {
    "compute": (
        re.compile(r"(?!.*-[0-9]*$)[A-Za-z][A-Za-z0-9-]{2,23}"),
        "3 to 24 letters, digits or '-', starting with a letter, not ending in '-' and digits",
    ),
    "endpoint": (
        re.compile(r"(?=.{3,32}$)[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*"),
        "3 to 32 letters, digits or single '-', starting with a letter, ending in a letter/digit",
    ),
    "asset": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}"),
        "1 to 255 letters, digits, '_' or '-', starting with a letter or digit",
    ),
    "experiment": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}"),
        "1 to 256 letters, digits, '_' or '-', starting with a letter or digit",
    ),
}
# kind -> {field: rule}
NAMED_FIELDS = {
    "compute": {"name": "compute"},
    "online_endpoint": {"name": "endpoint"},
    "batch_endpoint": {"name": "endpoint"},
    "online_deployment": {"name": "endpoint", "endpoint_name": "endpoint"},
    "batch_deployment": {"name": "endpoint", "endpoint_name": "endpoint"},
    "environment": {"name": "asset"},
    "data": {"name": "asset"},
    "model": {"name": "asset"},
    "job": {"name": "asset", "experiment_name": "experiment"},
}
# Fields whose string value names a local file or folder, relative to the spec.
PATH_FIELDS = {"code", "conda_file", "path", "component"}
REMOTE_PREFIXES = ("azureml:", "git+", "http://", "https://", "wasbs://", "abfss://", "adl://")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    specs: int = 0
    conda_files: set[Path] = field(default_factory=set)


def validate(paths: Iterable[Path]) -> Report:
    report = Report()
    for spec in specs.find_specs(list(paths)):
        report.specs += 1
        report.problems.extend(check_spec(spec, report.conda_files))
    return report


def check_spec(path: Path, conda_files_seen: set[Path]) -> list[Problem]:
    shown = display_path(path)
    document, problem = specs.parse_yaml(path)
    if problem is not None:
        return [problem]
    if not isinstance(document, dict):
        return [Problem(shown, "spec", "an Azure ML spec is a YAML mapping")]
    url = document.get("$schema")
    if not isinstance(url, str):
        return [Problem(shown, "$schema", "missing; an Azure ML spec starts with its $schema line")]
    kind = specs.kind_of_schema(url)
    if kind is None:
        return [Problem(shown, "$schema", f"not an Azure ML schema this tool knows: {url}")]

    problems = list(check_names(shown, kind, document))
    missing_paths: set[Path] = set()
    base = path.resolve().parent
    for field_name, value, referenced in local_references(document, base):
        if not referenced.exists():
            missing_paths.add(referenced)
            problems.append(
                Problem(shown, field_name, f"{value} does not exist ({display_path(referenced)})")
            )
        elif field_name.endswith("conda_file") and referenced not in conda_files_seen:
            conda_files_seen.add(referenced)
            problems.extend(check_conda_file(referenced))
    for field_name, conda in inline_conda_files(document):
        problems.extend(check_conda_document(shown, field_name, conda))

    problem_fields = {problem.field for problem in problems}
    _, loader_problems = specs.try_load(path, kind)
    for loader_problem in loader_problems:
        mentions_missing = any(str(missing) in loader_problem.message for missing in missing_paths)
        if loader_problem.field not in problem_fields and not mentions_missing:
            problems.append(loader_problem)
    return problems


def check_names(shown: str, kind: str, document: dict) -> Iterator[Problem]:
    for field_name, rule_name in NAMED_FIELDS.get(kind, {}).items():
        value = document.get(field_name)
        if value is None:
            continue
        pattern, rule = NAME_RULES[rule_name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            yield Problem(shown, field_name, f"{value!r} is not a valid name: {rule}")


def is_local(value: str) -> bool:
    return not (value.startswith(REMOTE_PREFIXES) or "://" in value or "${" in value)


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
        if key in PATH_FIELDS and isinstance(value, str) and is_local(value):
            if key == "component" and not value.endswith(specs.YAML_SUFFIXES):
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


def check_conda_file(path: Path) -> list[Problem]:
    document, problem = specs.parse_yaml(path)
    if problem is not None:
        return [problem]
    return check_conda_document(display_path(path), "", document)


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
