"""Editing and writing specs in the tests' scratch project, and reading what validate printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SCHEMA_BASE = "https://azuremlschemas.azureedge.net/latest/"


def edit(path: Path, change) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def write_spec(path: Path, schema: str, document: dict[str, Any]) -> Path:
    """Write ``document`` as a spec of ``schema`` (``commandJob``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {"$schema": f"{SCHEMA_BASE}{schema}.schema.json", **document}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def set_field(document: dict, dotted: str, value: Any) -> None:
    """Set the field at the dotted path, creating the mappings on the way."""
    *parents, last = dotted.split(".")
    for key in parents:
        document = document.setdefault(key, {})
    document[last] = value


def expression(path: str) -> str:
    """``path`` as a spec expression. Built, not written out: a pair of braces in the tests
    would be read by the project template as its own."""
    return "${" + "{" + path + "}" + "}"


def problem_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def assert_validate_names(mlops, spec: Path, expected: str) -> None:
    """`mlops validate` of the project fails with a line `<spec>: <expected>...`."""
    result = mlops("validate")

    assert result.exit_code == 2, result.output
    lines = problem_lines(result)
    assert any(line.startswith(f"{spec.as_posix()}: {expected}") for line in lines), lines
    assert "problems in" in result.stderr


def warning_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
