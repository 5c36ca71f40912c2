"""What a project declares, for the checks that follow links between specs: every spec, parsed
once, by kind and name; the models ``mlops register`` makes; the assets declared external.

The models ``mlops register`` makes are named by the ``MODEL_NAME`` of each model's
``models/<name>/model.mk`` (the Makefile's ``make register`` passes it as ``--name``). Assets that
exist in the workspace without a spec in the project are listed in pyproject.toml::

    [tool.mlops.external-assets]
    compute = ["gpu-cluster"]
    environment = ["shared-training-env"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops import specs
from mlops.kinds import BY_NAME, Kind
from mlops.models import MODEL_MARKER, MODELS_DIR, model_names, model_settings
from mlops.specs import Problem, display_path

PYPROJECT = "pyproject.toml"
EXTERNAL_ASSETS = ("tool", "mlops", "external-assets")
EXTERNAL_ASSETS_FIELD = ".".join(EXTERNAL_ASSETS)
REGISTERED_MODEL_SETTING = "model_name"


@dataclass(frozen=True)
class Spec:
    """A spec of the project: its file, its kind, the ``$schema`` file it names, its document."""

    path: Path
    kind: Kind
    schema: str
    document: dict

    @property
    def shown(self) -> str:
        return display_path(self.path)

    @property
    def name(self) -> str | None:
        name = self.document.get("name")
        return str(name) if name is not None else None


@dataclass
class Catalog:
    root: Path
    # resolved path -> (document, the problem that kept it from parsing)
    parsed: dict[Path, tuple[Any, Problem | None]] = field(default_factory=dict)
    # kind name -> asset name -> the specs defining it
    named: dict[str, dict[str, list[Spec]]] = field(default_factory=dict)
    # Kinds (by their $schema line) of specs that do not parse: a name may be theirs.
    unreadable: set[str] = field(default_factory=set)
    # registered model name -> the model.mk giving it
    registered_models: dict[str, str] = field(default_factory=dict)
    # kind name -> names declared external
    external: dict[str, set[str]] = field(default_factory=dict)
    # resolved path -> (TOML document, the problem that kept it from parsing)
    parsed_toml: dict[Path, tuple[dict, Problem | None]] = field(default_factory=dict)
    # Problems of the project's files other than specs (pyproject.toml), each reported once.
    problems: list[Problem] = field(default_factory=list)

    def toml(self, path: Path) -> dict:
        """The parsed TOML of ``path`` (empty when it does not parse: the problem is reported)."""
        path = path.resolve()
        if path not in self.parsed_toml:
            self.parsed_toml[path] = read_toml(path)
            problem = self.parsed_toml[path][1]
            if problem is not None:
                self.problems.append(problem)
        return self.parsed_toml[path][0]

    def document(self, path: Path) -> tuple[Any, Problem | None]:
        """The parsed YAML of ``path``, read once."""
        path = path.resolve()
        if path not in self.parsed:
            self.parsed[path] = specs.parse_yaml(path)
        return self.parsed[path]

    def spec_at(self, path: Path) -> Spec | None:
        """The spec in ``path``, or None when it is no Azure ML spec this tool knows."""
        document, problem = self.document(path)
        if problem is not None or not isinstance(document, dict):
            return None
        url = document.get("$schema")
        schema = specs.schema_file(url) if isinstance(url, str) else None
        kind = specs.kind_of_schema(url) if schema else None
        return Spec(path.resolve(), kind, schema, document) if kind else None

    def specs_named(self, kind_names: Iterable[str], name: str) -> list[Spec]:
        return [spec for kind in kind_names for spec in self.named.get(kind, {}).get(name, [])]

    def names_of(self, kind_name: str) -> list[str]:
        return sorted(self.named.get(kind_name, {}))

    def add(self, spec: Spec) -> None:
        if spec.name is not None:
            self.named.setdefault(spec.kind.name, {}).setdefault(spec.name, []).append(spec)


def catalog_of(root: Path, spec_paths: Iterable[Path]) -> Catalog:
    """The catalog of the project in ``root``: its specs, and those of ``spec_paths`` elsewhere."""
    catalog = Catalog(root.resolve())
    seen: set[Path] = set()
    for path in [*specs.find_specs([root]), *spec_paths]:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            spec = catalog.spec_at(path)
            if spec is not None:
                catalog.add(spec)
            elif (kind := specs.kind_of_file(path)) is not None:
                catalog.unreadable.add(kind.name)
    catalog.registered_models = registered_models(root)
    pyproject = root / PYPROJECT
    if pyproject.is_file():
        catalog.external = external_assets(catalog, pyproject)
    return catalog


def registered_models(root: Path) -> dict[str, str]:
    """The names ``mlops register`` gives the project's models: MODEL_NAME of each model.mk."""
    names = {}
    for model in model_names(root):
        folder = root / MODELS_DIR / model
        name = model_settings(folder).get(REGISTERED_MODEL_SETTING)
        if name:
            names[name] = display_path(folder / MODEL_MARKER)
    return names


def read_toml(path: Path) -> tuple[dict, Problem | None]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, Problem(display_path(path), "file", f"not valid TOML: {exc}")


def external_assets(catalog: Catalog, pyproject: Path) -> dict[str, set[str]]:
    """kind name -> the names listed in pyproject.toml's [tool.mlops.external-assets]."""
    table: Any = catalog.toml(pyproject)
    for key in EXTERNAL_ASSETS:
        table = table.get(key, {}) if isinstance(table, dict) else None
    shown = display_path(pyproject)
    if not isinstance(table, dict):
        catalog.problems.append(Problem(shown, EXTERNAL_ASSETS_FIELD, "a table of kind = [names]"))
        return {}
    external = {}
    for kind_name, names in table.items():
        where = f"{EXTERNAL_ASSETS_FIELD}.{kind_name}"
        if kind_name not in BY_NAME:
            known = ", ".join(BY_NAME)
            catalog.problems.append(Problem(shown, where, f"not a kind of spec (kinds: {known})"))
        elif not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            catalog.problems.append(Problem(shown, where, "a list of names"))
        else:
            external[kind_name] = set(names)
    return external
