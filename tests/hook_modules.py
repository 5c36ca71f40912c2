"""The templates' hooks, imported from their files (they are scripts, not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from locations import MODEL_TEMPLATE_DIR, REPO_ROOT


def load_hook(template: Path, name: str):
    path = template / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{template.name}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook(REPO_ROOT, "pre_gen_project")
post_gen = load_hook(REPO_ROOT, "post_gen_project")
# The model sub-template's, which renders every models/<name>.
model_pre_gen = load_hook(MODEL_TEMPLATE_DIR, "pre_gen_project")
model_post_gen = load_hook(MODEL_TEMPLATE_DIR, "post_gen_project")
