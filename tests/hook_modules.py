"""The template's hooks, imported from their files (they are scripts, not a package)."""

from __future__ import annotations

import importlib.util

from locations import REPO_ROOT


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")
