"""The Jinja extension both templates load through ``_extensions`` in their cookiecutter.json: the
project template (through the one-line ``local_extensions.py`` at its root) and this model template,
which generated projects keep a copy of for ``make add-model``.

- ``project_slug`` and ``azure_name`` derive default names that always pass the hook's rules;
  ``folder_name`` keeps a refused slug from reaching the file system as a path.
- Answers are never evaluated as templates: cookiecutter renders every context value with Jinja,
  so an answer such as ``{{ 7*7 }}`` given with ``--no-input key=value`` would turn into ``49``.
- ``tojson`` keeps non-ASCII text as it is, so a quoted answer is valid in YAML, TOML, JSON and
  Python.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from jinja2.ext import Extension
from slugify import slugify

MODEL_TEMPLATE_ROOT = Path(__file__).resolve().parent
SLUG_MAX_LENGTH = 40
SLUG_FALLBACK = "ml-project"
JINJA_MARKERS = ("{{", "{%", "{#")


def project_slug(name: str) -> str:
    """A slug that always passes the hook: lowercase words joined by '-', starting with a letter."""
    slug = slugify(str(name), max_length=SLUG_MAX_LENGTH, word_boundary=True, save_order=True)
    if not slug:
        return SLUG_FALLBACK
    if not slug[0].isalpha():
        slug = azure_name(f"ml-{slug}", SLUG_MAX_LENGTH)
    return slug


def azure_name(slug: str, max_length: int) -> str:
    """Cut a slug to ``max_length`` without leaving a dangling separator."""
    return str(slug)[:max_length].rstrip("-")


def folder_name(slug: str) -> str:
    """The project folder's name: the slug itself when it is a plain name, otherwise one safe name.

    Cookiecutter creates this folder before the hook refuses a bad slug, and removes exactly this
    folder afterwards; a slug such as ``a/b`` or ``..`` must never reach the file system as a path.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", str(slug))
    return name if name == slug and name else f"refused-slug-{name}"


def _strings_in(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*map(_strings_in, value))
    return set()


def template_authored_sources(root: Path) -> set[str]:
    """Every string the template itself has cookiecutter render from a string (not a file)."""
    context = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8"))
    # Cookiecutter renders every value but those of "_" keys ("__" keys are rendered too).
    rendered = {key: value for key, value in context.items() if not key.startswith("_")}
    rendered.update({key: value for key, value in context.items() if key.startswith("__")})
    sources = _strings_in(rendered)
    sources.update(path.name for path in root.iterdir() if path.is_dir() and "{{" in path.name)
    sources.update(hook.read_text(encoding="utf-8") for hook in (root / "hooks").glob("*.py"))
    return sources


def as_literal(text: str) -> str:
    """A Jinja template whose output is exactly ``text``."""
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', "\\x22")
    return '{{ "' + escaped + '" }}'


class RefusalWithoutTraceback(logging.Filter):
    """A refused answer is an expected outcome: keep cookiecutter's message, drop its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and type(record.exc_info[1]).__name__ == "FailedHookException":
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_hook_refusals() -> None:
    hooks_logger = logging.getLogger("cookiecutter.hooks")
    if not any(isinstance(f, RefusalWithoutTraceback) for f in hooks_logger.filters):
        hooks_logger.addFilter(RefusalWithoutTraceback())


class AnswerFilters(Extension):
    """Loaded by the model template; the project template loads a subclass naming its own root."""

    template_root = MODEL_TEMPLATE_ROOT

    def __init__(self, environment):
        super().__init__(environment)
        quiet_hook_refusals()
        environment.filters["project_slug"] = project_slug
        environment.filters["azure_name"] = azure_name
        environment.filters["folder_name"] = folder_name
        environment.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}
        self._authored = template_authored_sources(self.template_root)

    def preprocess(self, source, name, filename=None):
        # Template files arrive with a name; strings (answers, defaults, paths, hooks) without.
        if name is not None or not any(marker in source for marker in JINJA_MARKERS):
            return source
        if source in self._authored:
            return source
        return as_literal(source)
