"""Azure ML specs: the kind of a YAML file (by its ``$schema``); loading it with azure-ai-ml."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import InvalidInput
from mlops.kinds import LOADERS_MODULE, Kind, kind_named, kind_of_schema_file
from mlops.output import is_verbose

SCHEMA_HOST = "azuremlschemas.azureedge.net"
SCHEMA_LINE = re.compile(r"^\$schema:\s*['\"]?(?P<url>[^'\"\s#]+)", re.MULTILINE)
SCHEMA_URL = re.compile(
    r"^https?://" + re.escape(SCHEMA_HOST) + r"/[^/]+/(?P<file>[A-Za-z0-9]+)\.schema\.json$"
)

YAML_SUFFIXES = (".yml", ".yaml")
# libyaml's parser where PyYAML has it (ten times faster); the same Python constructors, so the
# same documents. Its error messages differ: a document it refuses is parsed again for those.
FAST_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TEMPLATE_MARKER = "cookiecutter.json"
SKIPPED_DIRECTORIES = {"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"}
# Leaves of a marshmallow error tree that are wrappers, not fields.
WRAPPER_KEYS = {"_schema", "value"}
# Values that name something other than a local file: assets, URLs, datastores, git, bindings.
REMOTE_PREFIXES = (
    "azureml:",
    "runs:/",
    "git+",
    "http://",
    "https://",
    "wasbs://",
    "abfss://",
    "adl://",
)


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


# Where azure-ai-ml decides whether to warn that a class is experimental; its own decision,
# kept for --verbose.
EXPERIMENTAL_MODULE = "azure.ai.ml._utils._experimental"
SDK_CHECKS: dict[str, Any] = {}


def import_azure_ml() -> Any:
    """azure-ai-ml, imported on first use (it takes a second), its logging set to our verbosity.

    On import it gives its own logger an INFO handler, which would print a warning about its
    experimental classes on every spec loaded. Unless verbose, those warnings are not shown, and
    neither is the decision to show them made: azure-ai-ml makes it by walking the call stack with
    inspect.stack(), which reads the source of every frame, each time such a class is built (a
    fifth of a second for a pipeline spec).
    """
    import azure.ai.ml

    verbose = is_verbose()
    logging.getLogger("azure.ai.ml").setLevel(logging.INFO if verbose else logging.ERROR)
    experimental = importlib.import_module(EXPERIMENTAL_MODULE)
    sdk_check = SDK_CHECKS.setdefault(
        "experimental", getattr(experimental, "_should_skip_warning", None)
    )
    if callable(sdk_check):
        experimental._should_skip_warning = sdk_check if verbose else skip_warning
    return azure.ai.ml


def skip_warning() -> bool:
    return True


def is_local_path(value: Any) -> bool:
    """Whether a spec value (or an entity field) names a local file or folder to check or upload.

    Not local: assets (``azureml:...``), URLs and datastore URIs (``...://...``), git sources and
    ``${...}`` bindings of pipeline jobs (inputs and outputs of the parent job).
    """
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str) or not value.strip():
        return False
    return not (value.startswith(REMOTE_PREFIXES) or "://" in value or "${" in value)


def display_path(path: Path) -> str:
    """A path relative to the current directory when it lies below it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def schema_url(text: str) -> str | None:
    match = SCHEMA_LINE.search(text)
    return match.group("url") if match else None


def schema_file(url: str) -> str | None:
    """``commandJob`` for ``https://azuremlschemas.azureedge.net/latest/commandJob.schema.json``."""
    match = SCHEMA_URL.match(url)
    return match.group("file") if match else None


def kind_of_schema(url: str) -> Kind | None:
    file = schema_file(url)
    return kind_of_schema_file(file) if file else None


def kind_of_file(path: Path) -> Kind | None:
    """The kind of spec in ``path`` by its ``$schema`` line; None if it has none this tool knows."""
    url = schema_url(read_text(path))
    return kind_of_schema(url) if url else None


def yaml_files_below(directory: Path) -> Iterator[Path]:
    """YAML files below ``directory``; hidden folders, tool folders and cookiecutter templates
    (model_template/: its specs hold Jinja until a model is added) skipped."""
    templates = [marker.parent for marker in directory.rglob(TEMPLATE_MARKER)]
    for child in sorted(directory.rglob("*")):
        relative = child.relative_to(directory).parts
        if any(part.startswith(".") or part in SKIPPED_DIRECTORIES for part in relative):
            continue
        if any(template in child.parents for template in templates):
            continue
        if child.suffix in YAML_SUFFIXES and child.is_file():
            yield child


def find_specs(paths: Iterable[Path]) -> list[Path]:
    """Files given, and the YAML files with a ``$schema`` line below the directories given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = [file for file in yaml_files_below(path) if schema_url(read_text(file))]
        else:
            candidates = [path]
        found.extend(candidate for candidate in candidates if candidate not in found)
    return found


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def parse_yaml(path: Path) -> tuple[Any, Problem | None]:
    """The document in ``path``, or a problem naming the line that does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, Problem(display_path(path), "file", "does not exist")
    except (OSError, UnicodeDecodeError) as exc:
        return None, Problem(display_path(path), "file", f"cannot be read: {exc}")
    try:
        return yaml.load(text, Loader=FAST_YAML_LOADER), None  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        pass
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, Problem(display_path(path), where, f"not valid YAML: {reason}")


def values_at(node: Any, pattern: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(field, value) of each value of ``node`` at the dotted ``pattern``, ``*`` matching any key
    of a mapping; ``""`` is ``node`` itself. Missing fields yield nothing."""
    if not pattern:
        yield prefix, node
        return
    head, _, rest = pattern.partition(".")
    if not isinstance(node, dict):
        return
    keys = [key for key in node if isinstance(key, str)] if head == "*" else [head]
    for key in keys:
        if key in node:
            yield from values_at(node[key], rest, f"{prefix}.{key}" if prefix else key)


def loader(name: str) -> Any:
    """The azure-ai-ml load function called ``name``."""
    import_azure_ml()
    return getattr(importlib.import_module(LOADERS_MODULE), name)


def loader_for(path: Path, kind: Kind) -> Any:
    """The azure-ai-ml function that loads the spec in ``path``, of ``kind``."""
    return loader(kind.schemas[schema_file(schema_url(read_text(path)) or "")])


def try_load(
    path: Path, kind: Kind, overrides: list[dict[str, Any]] | None = None
) -> tuple[Any, list[Problem]]:
    """(entity, []) when azure-ai-ml loads ``path`` as ``kind``, else (None, the problems)."""
    loader = loader_for(path, kind)
    try:
        return loader(str(path.resolve()), params_override=overrides or []), []
    except Exception as exc:
        shown = display_path(path)
        problems = loader_problems(exc, shown)
        return None, problems or [Problem(shown, "spec", f"cannot be loaded: {exc!r}")]


def load_entity(path: Path, kind: Kind, overrides: list[dict[str, Any]] | None = None) -> Any:
    """Load ``path`` with the loader of ``kind``; raise InvalidInput naming each bad field."""
    entity, problems = try_load(path, kind, overrides)
    if problems:
        raise InvalidInput("; ".join(str(problem) for problem in problems))
    return entity


def load_spec(
    path: Path, expected: Iterable[str] | None = None, overrides=None
) -> tuple[Kind, Any]:
    """(kind, entity) of the spec in ``path``; InvalidInput unless its kind is one ``expected``
    (kind names)."""
    shown = display_path(path)
    if not path.is_file():
        raise InvalidInput(f"{shown}: no such file")
    url = schema_url(read_text(path))
    if url is None:
        raise InvalidInput(
            f"{shown}: $schema: missing; an Azure ML spec starts with its $schema line"
        )
    kind = kind_of_schema(url)
    if kind is None:
        raise InvalidInput(f"{shown}: $schema: not an Azure ML schema this tool knows: {url}")
    expected = list(expected or [])
    if expected and kind.name not in expected:
        wanted = " or ".join(kind_named(name).title for name in expected)
        raise InvalidInput(f"{shown}: $schema: is a {kind.title} spec, expected a {wanted}")
    return kind, load_entity(path, kind, overrides)


def loader_problems(exc: BaseException, shown: str) -> list[Problem]:
    """One problem per field from the error azure-ai-ml raised while loading a spec."""
    module = type(exc).__module__ or ""
    if not module.startswith(("marshmallow", "azure.")):
        return []
    return [Problem(shown, field, message) for field, message in error_fields(str(exc))]


def error_fields(text: str) -> list[tuple[str, str]]:
    """(field, message) pairs from azure-ai-ml's "Validation for XSchema failed: {...}" text."""
    tree = embedded_json(text)
    if tree is None:
        line = next((part.strip() for part in text.splitlines() if part.strip()), text)
        return [("spec", line)]
    if isinstance(tree, dict) and isinstance(tree.get("errors"), list):
        fields: list[tuple[str, str]] = []
        for error in tree["errors"]:
            message = str(error.get("message", ""))
            nested = error_fields(message) if embedded_json(message) is not None else []
            if nested:
                fields.extend(nested)
            else:
                path = str(error.get("path") or "spec").replace("*", "spec")
                fields.append((path, message.splitlines()[0] if message else "invalid"))
        return fields
    return list(flatten_messages(tree, ""))


def embedded_json(text: str) -> Any:
    marker = text.find("failed:")
    start = text.find("{", marker if marker >= 0 else 0)
    if marker < 0 or start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return value


def flatten_messages(node: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield prefix or "spec", node
    elif isinstance(node, list):
        alternatives = [item for item in node if isinstance(item, dict | list)]
        texts = [item for item in node if isinstance(item, str)]
        if texts:
            yield prefix or "spec", " ".join(texts)
        if alternatives:
            # A union field reports every alternative; the one with the fewest complaints is
            # the one the author meant.
            best = min(alternatives, key=lambda item: len(list(flatten_messages(item, prefix))))
            yield from flatten_messages(best, prefix)
    elif isinstance(node, dict):
        for key, value in node.items():
            key = str(key)
            child = prefix if key in WRAPPER_KEYS else (f"{prefix}.{key}" if prefix else key)
            yield from flatten_messages(value, child)
