"""``mlops validate``: Azure ML's documented limits (mlops/limits.py). Every entry of the table is
tested twice, from the table itself: a value just past its bound is named with the bound and the
source, the bound itself passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.limits import LIMITS, Limit
from mlops.specs import values_at
from tests.job_specs import spec_name, write_sweep
from tests.spec_files import edit, problem_lines, set_field, warning_lines, write_spec


def spec_of_schema(limit: Limit, paths) -> Path:
    """A valid spec of the project of the (first) $schema of the limit."""
    schema = limit.schemas[0] if limit.schemas else None
    if schema == "managedOnlineDeployment":
        return paths.deployment
    if schema == "kubernetesOnlineDeployment":
        document = yaml.safe_load(paths.deployment.read_text(encoding="utf-8"))
        document.pop("$schema")
        return write_spec(paths.deployment.with_name("kubernetes.yml"), schema, document)
    if schema == "amlCompute":
        return paths.compute
    if schema == "commandJob":
        return paths.train
    if schema == "sweepJob":
        return write_sweep(spec_name(paths.compute), spec_name(paths.data))
    raise AssertionError(f"add a spec of {schema or limit.kind} for the limit of {limit.field}")


def bound_of(limit: Limit, spec: Path, paths) -> tuple[object, object]:
    """(a value past the limit, the bound itself)."""
    if limit.minimum is not None:
        return limit.minimum - 1, limit.minimum
    if limit.maximum is not None:
        return limit.maximum + 1, limit.maximum
    if limit.allowed:
        allowed = limit.allowed[0]
        return (allowed + 1 if isinstance(allowed, int) else f"not-{allowed}"), allowed
    if limit.at_most is not None:
        document = yaml.safe_load(spec.read_text(encoding="utf-8"))
        bound = next(value for _, value in values_at(document, limit.at_most))
        return bound + 1, bound
    _, linked_field = limit.at_most_linked
    bound = yaml.safe_load(paths.compute.read_text(encoding="utf-8"))[linked_field]
    return bound + 1, bound


def limit_id(limit: Limit) -> str:
    bound = next(
        name
        for name in ("minimum", "maximum", "allowed", "at_most", "at_most_linked")
        if getattr(limit, name) not in (None, ())
    )
    return f"{'/'.join(limit.schemas) or limit.kind}:{limit.field}:{bound}"


def lines_of(limit: Limit, result) -> list[str]:
    return warning_lines(result) if limit.warning else problem_lines(result)


@pytest.mark.parametrize("limit", LIMITS, ids=limit_id)
def test_a_value_past_a_limit_is_named_with_its_bound(mlops, project, paths, limit):
    spec = spec_of_schema(limit, paths)
    past, bound = bound_of(limit, spec, paths)
    edit(spec, lambda document: set_field(document, limit.field, past))

    result = mlops("validate", spec)

    assert result.exit_code == (0 if limit.warning else 2), result.output
    prefix = "warning: " if limit.warning else ""
    (line,) = [
        line
        for line in lines_of(limit, result)
        if line.startswith(f"{prefix}{spec.as_posix()}: {limit.field}: ")
        and line.endswith(f"({limit.source})")
    ]
    assert repr(past) in line or str(past) in line
    assert repr(bound) in line or str(bound) in line


@pytest.mark.parametrize("limit", LIMITS, ids=limit_id)
def test_the_bound_of_a_limit_passes(mlops, project, paths, limit):
    spec = spec_of_schema(limit, paths)
    _, bound = bound_of(limit, spec, paths)
    edit(spec, lambda document: set_field(document, limit.field, bound))

    result = mlops("validate", spec)

    assert not [
        line
        for line in lines_of(limit, result)
        if line.endswith(f"({limit.source})") and f" {limit.field}: " in line
    ], result.output


def test_concurrent_trials_count_every_node_of_a_trial(mlops, project, paths):
    max_nodes = yaml.safe_load(paths.compute.read_text(encoding="utf-8"))["max_instances"]

    def two_nodes_a_trial(sweep: dict) -> None:
        sweep["limits"]["max_concurrent_trials"] = max_nodes
        sweep["trial"]["resources"] = {"instance_count": 2}

    spec = write_sweep(spec_name(paths.compute), spec_name(paths.data), two_nodes_a_trial)

    result = mlops("validate", spec)

    assert result.exit_code == 0, result.output
    assert any(
        line.startswith(
            f"warning: {spec.as_posix()}: limits.max_concurrent_trials: {max_nodes} of 2 nodes "
            f"each need {2 * max_nodes} nodes, above the max_instances {max_nodes} of "
            f"{spec_name(paths.compute)} ({paths.compute.as_posix()})"
        )
        for line in warning_lines(result)
    ), result.stderr
