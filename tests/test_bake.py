"""Bake every supported combination: the exact files, no template tags left, every structured
file parses and carries free text unchanged. Bake every rejected combination: a clear refusal, and
no folder left behind."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from jinja2.utils import htmlsafe_json_dumps

from expected_files import MODEL_TEMPLATE, MODEL_TEMPLATE_FILES, expected_files
from locations import MODEL_DIR_TEMPLATE, REPO_ROOT, TEMPLATE_DIR
from matrix import HOSTILE_PROSE, MODEL_TEMPLATE_CONTEXT, REJECTED, SUPPORTED, TEMPLATE_CONTEXT

JINJA_MARKERS = ("{{", "{%", "{#")
# A template variable of either template, written without its braces.
TEMPLATE_VARIABLE = re.compile(
    r"\bcookiecutter\.(?:"
    + "|".join(sorted(set(TEMPLATE_CONTEXT) | set(MODEL_TEMPLATE_CONTEXT), key=len, reverse=True))
    + r")\b"
)
# GitHub Actions, Azure DevOps and Azure ML use ${{ ... }} expressions of their own.
FOREIGN_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def project_files(project: Path) -> set[str]:
    return {path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file()}


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_bake_has_exactly_the_expected_files(bake, bake_case):
    project = bake(bake_case.id)
    assert project_files(project) == expected_files(bake_case.answers)


def without_known_text(text: str, answers: dict) -> str:
    """The text minus the answers, in each form a template writes them: as typed, JSON-quoted, and
    JSON-quoted with HTML-safe escapes (Jinja's tojson)."""
    for value in answers.values():
        for form in (
            htmlsafe_json_dumps(value, ensure_ascii=False)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            value,
        ):
            text = text.replace(form, "")
    return text


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_no_template_tag_is_left_in_any_file(bake, bake_case):
    """Every file but the model template, which the project keeps as a template on purpose."""
    project = bake(bake_case.id)
    leftovers = []
    for relative in sorted(project_files(project)):
        if relative.startswith(f"{MODEL_TEMPLATE}/"):
            continue
        text = without_known_text(
            (project / relative).read_text(encoding="utf-8"), bake_case.answers
        )
        for number, line in enumerate(text.splitlines(), start=1):
            line = FOREIGN_EXPRESSION.sub("", line)
            if any(marker in line for marker in JINJA_MARKERS) or TEMPLATE_VARIABLE.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert leftovers == []


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_the_model_template_is_copied_as_it_is_with_the_project_answers(baked_project, bake_case):
    """The project's copy of the model template renders later models as the template does: its
    files are the template's own, and its cookiecutter.json carries the project's answers."""
    project, answers = baked_project(bake_case.id).path, baked_project(bake_case.id).answers
    for relative in sorted(MODEL_TEMPLATE_FILES - {f"{MODEL_TEMPLATE}/cookiecutter.json"}):
        assert (project / relative).read_bytes() == (TEMPLATE_DIR / relative).read_bytes(), relative
    context = json.loads((project / MODEL_TEMPLATE / "cookiecutter.json").read_text("utf-8"))
    assert context["_project"] == {
        "name": answers["project_name"],
        "slug": answers["project_slug"],
        "description": answers["description"],
        "python_version": answers["python_version"],
        "compute_name": answers["compute_name"],
        "max_nodes": answers["max_nodes"],
        "deployment": answers["deployment"],
        "retrain_cron": answers["retrain_cron"],
        "alert_email": answers["alert_email"],
    }
    assert set(context) == set(MODEL_TEMPLATE_CONTEXT)


def parse(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml"):
        return yaml.safe_load(text)
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix == ".json":
        return json.loads(text)
    if path.suffix == ".py":
        return ast.parse(text, filename=str(path))
    return None


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_every_structured_file_parses(bake, bake_case):
    """All but the model template's model folder: models/model1 is that folder, rendered."""
    project = bake(bake_case.id)
    unrendered = project / MODEL_TEMPLATE / MODEL_DIR_TEMPLATE.name
    structured = [
        p
        for p in sorted(project.rglob("*"))
        if p.suffix in (".yml", ".yaml", ".toml", ".json", ".py") and unrendered not in p.parents
    ]
    assert structured, "a bake without YAML/TOML/JSON/Python files cannot be right"
    for path in structured:
        try:
            parse(path)
        except Exception as error:  # any parser's error names the file here
            pytest.fail(f"{path.relative_to(project)} does not parse: {error}")


def test_free_text_answers_are_carried_unchanged(bake):
    project = bake("hostile-prose")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == HOSTILE_PROSE["description"]
    assert pyproject["project"]["authors"] == [{"name": HOSTILE_PROSE["author"]}]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {HOSTILE_PROSE['project_name']}\n")
    workspace = yaml.safe_load((project / "aml" / "workspace.yml").read_text(encoding="utf-8"))
    assert workspace["description"] == HOSTILE_PROSE["description"]


def test_python_version_answer_reaches_the_project_files(bake):
    """The conda files' python is checked for each version in test_conda_resolution.py."""
    project = bake("python-3.12")
    assert (project / ".python-version").read_text(encoding="utf-8").strip() == "3.12"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["requires-python"] == ">=3.12"


@pytest.mark.parametrize("rejected", REJECTED, ids=lambda r: r.id)
def test_rejected_answers_are_refused_clearly_and_leave_nothing(cookies, capfd, tmp_path, rejected):
    result = cookies.bake(extra_context=rejected.answers, template=str(REPO_ROOT))
    assert result.exit_code != 0
    assert result.project_path is None
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    named = {line.removeprefix("error: ").split(":", 1)[0] for line in errors}
    assert set(rejected.named_options) <= named, errors
    for option in rejected.named_options:
        value = json.dumps(str(rejected.answers[option]), ensure_ascii=False)
        assert any(line.startswith(f"error: {option}: {value} must ") for line in errors), errors
    assert list((tmp_path / "cookies" / "bake00").iterdir()) == []
