"""The variables a generated makefile sets: `NAME := value` and `NAME ?= value` lines."""

from __future__ import annotations

import re
from pathlib import Path

ASSIGNMENT = re.compile(r"([A-Z][A-Z0-9_]*) *[:?]= *(.*)")


def make_variables(makefile: Path) -> dict[str, str]:
    lines = makefile.read_text(encoding="utf-8").splitlines()
    found = (ASSIGNMENT.fullmatch(line) for line in lines)
    return {match[1]: match[2].strip() for match in found if match}


def model_variables(project: Path, model: str = "model1") -> dict[str, str]:
    """What models/<model>/model.mk sets: the model's names in Azure ML and its gate."""
    return make_variables(project / "models" / model / "model.mk")
