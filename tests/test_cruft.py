"""A project created with cruft from a git repository of the template takes a later template
commit as a patch (`cruft update`) that keeps the project's own edits; models/model1 follows the
model template."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from conftest import git, run
from locations import MODEL_DIR_TEMPLATE, REPO_ROOT

TEMPLATE_CHANGE = "# A line a later template version adds.\n"
PROJECT_EDIT = "# A line the project's team wrote.\n"


def cruft(*args: object, cwd: Path):
    return run([Path(sys.executable).parent / "cruft", *args], cwd=cwd)


@pytest.fixture
def template_repository(tmp_path) -> Path:
    """A git repository holding the template's committed files, as a team would host it."""
    repository = tmp_path / "template"
    for relative in git(REPO_ROOT, "ls-files", "-z").split("\0"):
        if relative and (REPO_ROOT / relative).is_file():
            target = repository / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / relative, target)
    git(repository.parent, "init", "--quiet", "--initial-branch=main", str(repository))
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--message", "template")
    return repository


def test_a_template_change_reaches_a_cruft_project_and_its_own_edit_survives(
    template_repository, tmp_path
):
    cruft(
        "create", "--no-input", "--output-dir", tmp_path / "out", template_repository, cwd=tmp_path
    )
    project = tmp_path / "out" / "customer-churn"
    assert (project / ".cruft.json").is_file()
    git(project, "init", "--quiet", "--initial-branch=main")
    edited = project / "models/model1/train.py"
    edited.write_text(PROJECT_EDIT + edited.read_text(encoding="utf-8"), encoding="utf-8")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "project with an edit")

    changed = template_repository / MODEL_DIR_TEMPLATE.relative_to(REPO_ROOT) / "score.py"
    changed.write_text(changed.read_text(encoding="utf-8") + TEMPLATE_CHANGE, encoding="utf-8")
    git(template_repository, "commit", "--quiet", "--all", "--message", "a template change")

    cruft("update", "-y", cwd=project)

    assert (
        (project / "models/model1/score.py").read_text(encoding="utf-8").endswith(TEMPLATE_CHANGE)
    )
    kept_template = project / "model_template" / MODEL_DIR_TEMPLATE.name / "score.py"
    assert kept_template.read_text(encoding="utf-8").endswith(TEMPLATE_CHANGE)
    assert edited.read_text(encoding="utf-8").startswith(PROJECT_EDIT)
    cruft("check", cwd=project)
