"""The ``${...}`` expressions of jobs and components: each names an input, output or search-space
parameter that is declared, and each input is used.

Where a kind declares inputs and outputs is data: its ``scopes`` in mlops.kinds (a job, and each
step of a pipeline). Within a scope, ``inputs.x``, ``outputs.x`` and ``search_space.x`` name its
own; ``parent.inputs.x``, ``parent.outputs.x`` and ``parent.jobs.<step>.inputs|outputs.x`` those of
the pipeline around it. A step that runs a component declares what the component declares, and
binds only what it declares. Expressions the service fills in (``name``, ``default_datastore``,
``output_name``) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlops.catalog import Catalog, Spec
from mlops.links import linked_spec
from mlops.specs import Problem, values_at

EXPRESSION = re.compile(r"\$\{\{\s*(?P<path>[^{}]*?)\s*\}\}")
DECLARED = ("inputs", "outputs", "search_space")
BOUND = ("inputs", "outputs")
SINGULAR = {"inputs": "input", "outputs": "output", "search_space": "search_space parameter"}
COMPONENT = "component"
PARENT = "parent"
STEPS = "jobs"


def expression(path: str) -> str:
    """``path`` written as an expression. Built, not written out: a pair of braces in this file
    would be read by the project template as its own."""
    return "${" + "{" + path + "}" + "}"


@dataclass
class Scope:
    """A job, component or pipeline step: what it declares, and the expressions within it."""

    field: str
    node: dict
    title: str
    parent: Scope | None = None
    declared: dict[str, set[str]] = field(default_factory=dict)
    # The component a pipeline step runs, when this tool can read it.
    component: dict | None = None
    # A step running a component this tool cannot read (one in the workspace): anything goes.
    open: bool = False
    steps: dict[str, Scope] = field(default_factory=dict)
    # (field, expression path as parts) of every expression within the scope, nested scopes aside
    uses: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.field.rpartition(".")[2]

    def declares(self, group: str, name: str) -> bool:
        return self.open or name in self.declared.get(group, set())

    def runs_command(self) -> bool:
        trial = self.node.get("trial")
        trial_command = isinstance(trial, dict) and isinstance(trial.get("command"), str)
        return isinstance(self.node.get("command"), str) or trial_command


def declared_names(node: Any) -> dict[str, set[str]]:
    if not isinstance(node, dict):
        return {}
    return {
        group: {str(key) for key in node[group]}
        for group in DECLARED
        if isinstance(node.get(group), dict)
    }


def scopes_of(spec: Spec, catalog: Catalog) -> list[Scope]:
    scopes: list[Scope] = []
    for pattern in spec.kind.scopes:
        for field_name, node in values_at(spec.document, pattern):
            if isinstance(node, dict):
                scopes.append(new_scope(spec, pattern, field_name, node, scopes, catalog))
    nodes = {id(scope.node) for scope in scopes}
    for scope in scopes:
        found = expressions_in(scope.node, scope.field, nodes - {id(scope.node)})
        scope.uses = [(field_name, path.split(".")) for field_name, path in found]
    return scopes


def new_scope(
    spec: Spec, pattern: str, field_name: str, node: dict, outer: list[Scope], catalog: Catalog
) -> Scope:
    parent = next(
        (s for s in reversed(outer) if not s.field or field_name.startswith(s.field + ".")), None
    )
    title = f"step {field_name.rpartition('.')[2]}" if parent else f"this {spec.kind.title}"
    scope = Scope(field_name, node, title, parent, declared_names(node))
    if parent is not None:
        parent.steps[scope.name] = scope
    if COMPONENT in node:
        link = spec.kind.links.get(".".join(part for part in (pattern, COMPONENT) if part))
        add_component(scope, spec, link, catalog)
    return scope


def add_component(scope: Scope, spec: Spec, link: Any, catalog: Catalog) -> None:
    component = scope.node[COMPONENT]
    if not isinstance(component, dict):
        found = linked_spec(spec, link, component, catalog) if link else None
        component = found.document if found is not None else None
    if component is None:
        scope.open = True
        return
    scope.component = component
    for group, names in declared_names(component).items():
        scope.declared.setdefault(group, set()).update(names)


def expressions_in(node: Any, prefix: str, skipped: set[int]) -> Iterator[tuple[str, str]]:
    if id(node) in skipped:
        return
    if isinstance(node, str):
        for match in EXPRESSION.finditer(node):
            yield prefix, match["path"]
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from expressions_in(value, f"{prefix}.{key}" if prefix else str(key), skipped)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from expressions_in(item, f"{prefix}[{index}]", skipped)


def check_expressions(spec: Spec, catalog: Catalog) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings): expressions naming nothing declared, bindings the component does
    not declare; inputs nothing uses."""
    scopes = scopes_of(spec, catalog)
    problems = [
        Problem(spec.shown, field_name, message)
        for scope in scopes
        for field_name, parts in scope.uses
        if (message := reference_problem(scope, parts))
    ]
    problems += [problem for scope in scopes for problem in undeclared_bindings(spec, scope)]
    warnings = [warning for scope in scopes for warning in unused(spec, scope)]
    return problems, warnings


def reference_problem(scope: Scope, parts: list[str]) -> str | None:
    """Why the expression ``parts`` within ``scope`` names nothing declared, or None."""
    path = ".".join(parts)
    if parts[0] in DECLARED and len(parts) >= 2:
        return undeclared(scope, parts[0], parts[1], path)
    if parts[0] != PARENT or len(parts) < 3:
        return None
    parent = scope.parent
    if parent is None:
        return f"{expression(path)}: only a step of a pipeline has a parent"
    if parts[1] in DECLARED:
        return undeclared(parent, parts[1], parts[2], path)
    if parts[1] != STEPS:
        return None
    step = parent.steps.get(parts[2])
    if step is None:
        steps = ", ".join(sorted(parent.steps)) or "none"
        return f"{expression(path)} names no step of the pipeline (steps: {steps})"
    if len(parts) >= 5 and parts[3] in BOUND:
        return undeclared(step, parts[3], parts[4], path)
    return None


def undeclared(scope: Scope, group: str, name: str, path: str) -> str | None:
    if scope.declares(group, name):
        return None
    names = ", ".join(sorted(scope.declared.get(group, set()))) or "none"
    return f"{expression(path)} names no {SINGULAR[group]} of {scope.title} ({group}: {names})"


def undeclared_bindings(spec: Spec, scope: Scope) -> Iterator[Problem]:
    """The inputs and outputs a step binds that its component does not declare."""
    if scope.component is None:
        return
    declared = declared_names(scope.component)
    for group in BOUND:
        bound = scope.node.get(group)
        for name in bound if isinstance(bound, dict) else ():
            if str(name) not in declared.get(group, set()):
                names = ", ".join(sorted(declared.get(group, set()))) or "none"
                message = f"the step's component declares no {SINGULAR[group]} {name}"
                yield Problem(
                    spec.shown, f"{scope.field}.{group}.{name}", f"{message} ({group}: {names})"
                )


def unused(spec: Spec, scope: Scope) -> Iterator[Problem]:
    """Inputs (and search-space parameters) of a command that no expression uses; inputs of a
    pipeline that no step binds."""
    if scope.runs_command():
        used = {(parts[0], parts[1]) for _, parts in scope.uses if len(parts) >= 2}
        groups, prefix, hint = ("inputs", "search_space"), "", "no command uses it"
    elif scope.steps:
        used = {
            (parts[1], parts[2])
            for step in scope.steps.values()
            for _, parts in step.uses
            if len(parts) >= 3 and parts[0] == PARENT
        }
        groups, prefix, hint = ("inputs",), f"{PARENT}.", "no step binds it"
    else:
        return
    for group in groups:
        declared = scope.node.get(group)
        for name in sorted(map(str, declared)) if isinstance(declared, dict) else ():
            if (group, name) not in used:
                where = ".".join(part for part in (scope.field, group, name) if part)
                shown = expression(f"{prefix}{group}.{name}")
                yield Problem(spec.shown, where, f"{hint}: {shown} appears nowhere")
