"""The project template's Jinja extension: the one the model template defines, rooted here.

The implementation lives with the model sub-template because generated projects keep a copy of
that template (and so of the extension) for ``make add-model``; this file only loads it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parent
SHARED_MODULE = "aml_accelerator_template_extensions"


def _load_shared_module():
    if SHARED_MODULE not in sys.modules:
        project_dir = next(path for path in TEMPLATE_ROOT.iterdir() if "{{" in path.name)
        location = project_dir / "model_template" / "template_extensions.py"
        spec = importlib.util.spec_from_file_location(SHARED_MODULE, location)
        module = importlib.util.module_from_spec(spec)
        sys.modules[SHARED_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[SHARED_MODULE]


shared = _load_shared_module()


class AnswerFilters(shared.AnswerFilters):
    template_root = TEMPLATE_ROOT
