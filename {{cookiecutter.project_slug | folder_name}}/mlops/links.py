"""Links between specs: each field a kind's ``links`` (mlops.kinds) name resolves to a spec of the
project, a registry or curated asset, a model ``mlops register`` makes, or an external asset."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.catalog import EXTERNAL_ASSETS_FIELD, PYPROJECT, Catalog, Spec
from mlops.kinds import BY_NAME, Link
from mlops.naming import ASSET_PREFIX, quoted
from mlops.specs import Problem, display_path, values_at

# After the name of an `azureml:` reference: `:<version>` or `@<label>`.
VERSION_OR_LABEL = re.compile(r"[:@]")


@dataclass(frozen=True)
class Reference:
    """A name (``spec_file`` False) or a spec file a link field gives."""

    target: str
    spec_file: bool = False


def reference(value: Any, link: Link) -> Reference | None:
    """What ``value`` names; None for what it does not resolve here: an inline definition, a
    binding, a registry or datastore URI, a local path that the path checks look at."""
    if not isinstance(value, str) or not value.strip() or "${" in value:
        return None
    text = value.strip()
    if text.startswith(ASSET_PREFIX):
        rest = text.removeprefix(ASSET_PREFIX)
        # azureml://registries/..., azureml://datastores/...; azureml:/subscriptions/... (an id)
        return None if rest.startswith("/") else Reference(VERSION_OR_LABEL.split(rest, 1)[0])
    if "://" in text:
        return None
    if link.bare_names:
        return Reference(text)
    return Reference(text, spec_file=True) if link.spec_files else None


def check_links(spec: Spec, catalog: Catalog) -> Iterator[Problem]:
    for pattern, link in spec.kind.links.items():
        for field_name, value in values_at(spec.document, pattern):
            found = reference(value, link)
            if found is None:
                continue
            if found.spec_file:
                message = spec_file_problem(spec.path.parent / found.target, link, catalog)
            else:
                message = name_problem(found.target, link, catalog)
            if message:
                yield Problem(spec.shown, field_name, message)


def linked_spec(spec: Spec, link: Link, value: Any, catalog: Catalog) -> Spec | None:
    """The one spec of the project that ``value`` (of a field of ``spec`` linked by ``link``)
    names, if there is one."""
    found = reference(value, link)
    if found is None:
        return None
    if found.spec_file:
        return catalog.spec_at(spec.path.parent / found.target)
    named = catalog.specs_named(link.kinds, found.target)
    return named[0] if len(named) == 1 else None


def titles(kind_names: tuple[str, ...], article: bool = True) -> str:
    """``an environment``, ``a data asset or model``; without ``article``: ``environment``."""
    text = " or ".join(BY_NAME[name].title for name in kind_names)
    if not article:
        return text
    return f"{'an' if text[0] in 'aeiou' else 'a'} {text}"


def spec_file_problem(path: Path, link: Link, catalog: Catalog) -> str | None:
    if not path.is_file():
        return None  # the path checks report it
    target = catalog.spec_at(path)
    if target is None:
        return f"{display_path(path)} is not an Azure ML spec; expected {titles(link.kinds)}"
    if target.kind.name not in link.kinds:
        return f"{target.shown} is {titles((target.kind.name,))} spec, not {titles(link.kinds)}"
    return None


def name_problem(name: str, link: Link, catalog: Catalog) -> str | None:
    """Why ``name`` resolves to nothing the link may name, or None."""
    if any(fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in link.builtin):
        return None
    if catalog.specs_named(link.kinds, name) or catalog.unreadable.intersection(link.kinds):
        return None  # (a spec that does not parse is reported itself)
    if "model" in link.kinds and name in catalog.registered_models:
        return None
    if any(name in catalog.external.get(kind, ()) for kind in link.kinds):
        return None
    other = next((s for named in catalog.named.values() for s in named.get(name, [])), None)
    if other is not None:
        found = titles((other.kind.name,))
        return f"{quoted(name)} is {found} ({other.shown}), not {titles(link.kinds)}"
    wanted = titles(link.kinds, article=False)
    return f"{quoted(name)} names no {wanted} of this project: {known_names(link, catalog)}"


def known_names(link: Link, catalog: Catalog) -> str:
    """What the project declares for ``link``, and how to declare a name that exists elsewhere."""
    declared = {name for kind in link.kinds for name in catalog.names_of(kind)}
    declaring = "its specs define"
    if "model" in link.kinds:
        declared |= set(catalog.registered_models)
        declaring = "its specs and the MODEL_NAME of models/*/model.mk (mlops register) define"
    external = " or ".join(link.kinds)
    return (
        f"{declaring} {', '.join(sorted(declared)) or 'none'}; if it exists in the workspace, "
        f"list it under [{EXTERNAL_ASSETS_FIELD}] {external} in {PYPROJECT}"
    )
