"""The project's models: which there are, which a change touches, and adding one.

A model is a folder of ``models/`` rendered from ``model_template/`` (it holds ``model.mk``, the
names the Makefile reads). A change to a model's folder concerns that model only; a change to what
every model uses (SHARED_PATHS) concerns them all.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import InvalidInput, plain_line
from mlops.naming import require_valid_name
from mlops.output import say

MODELS_DIR = "models"
MODEL_TEMPLATE_DIR = "model_template"
MODEL_MARKER = "model.mk"
SHARED_PATHS = ("aml/", "mlops/", "sample-data/", "pyproject.toml")
# What `mlops models --select` takes besides a model's name; no model may be called so.
SELECT_CHANGED = "changed"
SELECT_ALL = "all"
SELECTORS = (SELECT_CHANGED, SELECT_ALL)
# Azure DevOps compiles one set of stages per entry of this template in the pipeline's stages.
AZURE_PIPELINE = ".azure-pipelines/train-deploy.yml"
AZURE_MODEL_STAGES = "templates/model-stages.yml"
# What git answers for a base commit it does not know (a first push, a force-push, a shallow clone).
NO_BASE = "0" * 40


def model_names(root: Path) -> list[str]:
    return sorted(marker.parent.name for marker in (root / MODELS_DIR).glob(f"*/{MODEL_MARKER}"))


def require_model(root: Path, name: str) -> str:
    names = model_names(root)
    if name not in names:
        raise InvalidInput(
            f"--select: {name!r} is neither {' nor '.join(SELECTORS)} nor a model of this project "
            f"(models: {', '.join(names) or 'none'})"
        )
    return name


def select_models(root: Path, selection: str, base: str | None) -> tuple[list[str], str]:
    """(models, why) for ``--select``: the models changed since ``base``, all, or one by name."""
    if selection == SELECT_ALL:
        return model_names(root), "every model"
    if selection == SELECT_CHANGED:
        return models_changed_since(root, base or "")
    return [require_model(root, selection)], "the model asked for"


def models_touched(changed_files: list[str], names: list[str]) -> list[str]:
    """The models a change to ``changed_files`` (paths relative to the project) concerns."""
    if any(path.startswith(SHARED_PATHS) for path in changed_files):
        return names
    touched = {path.split("/")[1] for path in changed_files if path.startswith(f"{MODELS_DIR}/")}
    return [name for name in names if name in touched]


def changed_files(root: Path, base: str) -> list[str] | None:
    """Files changed between ``base`` and HEAD, or None when git cannot tell."""
    if not base.strip() or base == NO_BASE:
        return None
    try:
        result = subprocess.run(
            ["git", "diff", "--name-only", "--relative", f"{base}...HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return [line for line in result.stdout.splitlines() if line]


def models_changed_since(root: Path, base: str) -> tuple[list[str], str]:
    """(models, why): the models a change since ``base`` concerns, all when it cannot be told."""
    names = model_names(root)
    files = changed_files(root, base)
    if files is None:
        return names, f"cannot compare with {base!r}: every model"
    return models_touched(files, names), f"{len(files)} files changed since {base}"


def load_model_renderer(root: Path) -> Any:
    """``render_model`` of the project's own model template."""
    location = root / MODEL_TEMPLATE_DIR / "render_model.py"
    if not location.is_file():
        raise InvalidInput(f"{location}: missing; add-model renders the model template beside it")
    spec = importlib.util.spec_from_file_location("model_template_render", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render_model


def add_model(root: Path, name: str) -> dict[str, str]:
    """Render ``models/<name>`` from the model template and list it in the Azure DevOps pipeline.

    A bad, reserved or taken name is refused before anything is written.
    """
    require_valid_name("NAME", name, "model")
    if name in SELECTORS:
        raise InvalidInput(f"NAME: {name!r} is reserved: CI/CD selects models with it")
    if (root / MODELS_DIR / name).exists():
        raise InvalidInput(f"NAME: {name!r} is taken: {MODELS_DIR}/{name} exists")
    try:
        import cookiecutter.exceptions
    except ImportError as exc:
        raise InvalidInput("add-model needs cookiecutter: pip install -e '.[dev]'") from exc
    render = load_model_renderer(root)
    try:
        folder = render(root / MODELS_DIR, {"model": name})
    except cookiecutter.exceptions.CookiecutterException as exc:
        raise InvalidInput(f"{MODEL_TEMPLATE_DIR}: {plain_line(exc)}") from exc
    add_to_azure_pipeline(root, name)
    return {"model": name, "folder": folder.relative_to(root).as_posix(), **model_settings(folder)}


def add_to_azure_pipeline(root: Path, name: str) -> None:
    """Append the stages of ``name`` to the pipeline, or say how to when they cannot be."""
    path = root / AZURE_PIPELINE
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    entry = (
        f"  - template: {AZURE_MODEL_STAGES}\n    parameters:\n      model: {json.dumps(name)}\n"
    )
    updated = text.rstrip("\n") + "\n" + entry
    if pipeline_models(updated) != [*pipeline_models(text), name]:
        say(f"{AZURE_PIPELINE}: add the stages of {name} ({AZURE_MODEL_STAGES}) by hand")
        return
    path.write_text(updated, encoding="utf-8")
    say(f"{AZURE_PIPELINE}: the stages of {name} added")


def pipeline_models(pipeline_text: str) -> list[str]:
    """The models whose stages the pipeline compiles, in order."""
    stages = (yaml.safe_load(pipeline_text) or {}).get("stages") or []
    return [
        str(stage["parameters"]["model"])
        for stage in stages
        if isinstance(stage, dict) and stage.get("template") == AZURE_MODEL_STAGES
    ]


def model_settings(folder: Path) -> dict[str, str]:
    """The names model.mk gives the model in Azure ML (``NAME := value`` lines)."""
    settings = {}
    for line in (folder / MODEL_MARKER).read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition(":=")
        if sep and not line.lstrip().startswith("#"):
            settings[name.strip().lower()] = value.strip()
    return settings
