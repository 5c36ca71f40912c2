"""The ``mlops`` console script as pip installs it, run as CI runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def mlops_script() -> str:
    script = shutil.which("mlops", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the project is not installed in this environment (pip install -e '.[dev]')")
    return script


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [script, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_validate_passes_on_the_project(mlops_script, paths):
    result = run(mlops_script, "validate", cwd=paths.root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stderr


def test_usage_errors_exit_2(mlops_script, paths):
    result = run(mlops_script, "train", "no-such-spec.yml", cwd=paths.root)

    assert result.returncode == 2
    assert "no-such-spec.yml" in result.stderr


def test_help_lists_every_command(mlops_script, paths):
    result = run(mlops_script, "--help", cwd=paths.root)

    assert result.returncode == 0
    for command in ("validate", "apply", "train", "register", "deploy", "invoke", "doctor"):
        assert command in result.stdout
