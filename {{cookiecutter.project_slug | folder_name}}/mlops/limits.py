"""Azure ML's documented limits of spec fields: one table, each entry with its source.

azure-ai-ml checks the type of these fields, not their bounds: the service refuses a value out of
bounds when the spec is submitted, a compute cluster or a deployment already being created. An
entry applies to the specs of its kind (only those of ``schemas`` when given) that set the field;
a ``warning`` is a limit Azure lets one raise (a quota) or that makes work wait rather than fail.

Adding a kind's limits: entries here, with the URL of the page that documents each bound and what
it says (docs/adding-an-asset-kind.md). Names are checked by mlops.naming.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlops.catalog import Catalog, Spec
from mlops.links import linked_spec
from mlops.specs import Problem, values_at

LEARN = "https://learn.microsoft.com/azure/machine-learning/"
MANAGED_ONLINE_DEPLOYMENT = LEARN + "reference-yaml-deployment-managed-online"
QUOTAS = LEARN + "how-to-manage-quotas"
AML_COMPUTE = LEARN + "reference-yaml-compute-aml"
SWEEP_LIMITS = LEARN + "how-to-tune-hyperparameters"


@dataclass(frozen=True)
class Limit:
    """A documented bound of ``field`` (dotted) in the specs of ``kind``.

    ``minimum``/``maximum``: inclusive bounds; ``allowed``: the only values accepted;
    ``at_most``: another field of the same spec that bounds it; ``at_most_linked``: (a link field
    of the spec, a field of the spec it names) that bounds it, the value first multiplied by
    ``times`` (a field of the spec; 1 when it is not set). ``source``: the page that documents it,
    ``says``: what the page says.
    """

    kind: str
    field: str
    source: str
    says: str
    schemas: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    allowed: tuple[Any, ...] = ()
    at_most: str | None = None
    at_most_linked: tuple[str, str] | None = None
    times: str | None = None
    warning: bool = False


MANAGED = ("managedOnlineDeployment",)
PROBES = ("liveness_probe", "readiness_probe")
LIMITS = (
    Limit(
        "online_deployment",
        "request_settings.request_timeout_ms",
        MANAGED_ONLINE_DEPLOYMENT,
        "request_timeout_ms: the scoring timeout in milliseconds; the maximum value allowed is "
        "180000 milliseconds",
        schemas=MANAGED,
        maximum=180000,
    ),
    Limit(
        "online_deployment",
        "request_settings.request_timeout_ms",
        QUOTAS,
        "Max request time-out at endpoint level: 300 seconds (Kubernetes online endpoint)",
        schemas=("kubernetesOnlineDeployment",),
        maximum=300000,
    ),
    *(
        Limit(
            "online_deployment",
            f"{probe}.{setting}",
            MANAGED_ONLINE_DEPLOYMENT,
            f"ProbeSettings: {setting}: minimum value is 1",
            schemas=MANAGED,
            minimum=1,
        )
        for probe in PROBES
        for setting in ("initial_delay", "timeout", "failure_threshold")
    ),
    Limit(
        "online_deployment",
        "readiness_probe.success_threshold",
        MANAGED_ONLINE_DEPLOYMENT,
        "ProbeSettings: success_threshold: minimum value is 1 for readiness probe",
        schemas=MANAGED,
        minimum=1,
    ),
    Limit(
        "online_deployment",
        "liveness_probe.success_threshold",
        MANAGED_ONLINE_DEPLOYMENT,
        "ProbeSettings: success_threshold: the value for liveness probe is fixed as 1",
        schemas=MANAGED,
        allowed=(1,),
    ),
    Limit(
        "online_deployment",
        "scale_settings.type",
        MANAGED_ONLINE_DEPLOYMENT,
        "scale_settings.type: currently only the default scale type is supported",
        schemas=MANAGED,
        allowed=("default",),
    ),
    Limit(
        "online_deployment",
        "instance_count",
        QUOTAS,
        "Number of instances per deployment: 50, an exception can be requested (managed online "
        "endpoint)",
        schemas=MANAGED,
        maximum=50,
        warning=True,
    ),
    Limit(
        "compute",
        "min_instances",
        AML_COMPUTE,
        "min_instances: the minimum number of nodes to use on the cluster; max_instances: the "
        "maximum number of nodes",
        schemas=("amlCompute",),
        at_most="max_instances",
    ),
    Limit(
        "compute",
        "min_instances",
        AML_COMPUTE,
        "min_instances: setting the minimum number of nodes to 0 lets the cluster scale down to "
        "zero nodes when not in use",
        schemas=("amlCompute",),
        minimum=0,
    ),
    Limit(
        "compute",
        "idle_time_before_scale_down",
        AML_COMPUTE,
        "idle_time_before_scale_down: node idle time in seconds before scaling down the cluster",
        schemas=("amlCompute",),
        minimum=0,
    ),
    Limit(
        "compute",
        "max_instances",
        QUOTAS,
        "Nodes in a single AmlCompute cluster (not communication-enabled): 100 nodes, "
        "configurable up to 65,000 on request",
        schemas=("amlCompute",),
        maximum=100,
        warning=True,
    ),
    Limit(
        "job",
        "resources.instance_count",
        AML_COMPUTE,
        "max_instances: the maximum number of nodes to use on the cluster",
        schemas=("commandJob",),
        at_most_linked=("compute", "max_instances"),
        warning=True,
    ),
    *(
        Limit(
            "job",
            f"limits.{setting}",
            SWEEP_LIMITS,
            f"{setting}: must be an integer between 1 and 1000",
            schemas=("sweepJob",),
            minimum=1,
            maximum=1000,
        )
        for setting in ("max_total_trials", "max_concurrent_trials")
    ),
    Limit(
        "job",
        "early_termination.truncation_percentage",
        SWEEP_LIMITS,
        "truncation_percentage: the percentage of lowest performing jobs to terminate at each "
        "evaluation interval; an integer value between 1 and 99",
        schemas=("sweepJob",),
        minimum=1,
        maximum=99,
    ),
    Limit(
        "job",
        "limits.max_concurrent_trials",
        SWEEP_LIMITS,
        "the number of concurrent trial jobs is gated on the resources available in the "
        "specified compute target",
        schemas=("sweepJob",),
        at_most_linked=("compute", "max_instances"),
        times="trial.resources.instance_count",
        warning=True,
    ),
)


def limits_of(spec: Spec) -> Iterator[Limit]:
    for limit in LIMITS:
        if limit.kind == spec.kind.name and (not limit.schemas or spec.schema in limit.schemas):
            yield limit


def check_limits(spec: Spec, catalog: Catalog) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings) of the spec's values out of their documented bounds."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for limit in limits_of(spec):
        for field_name, value in values_at(spec.document, limit.field):
            message = limit_problem(limit, value, spec, catalog)
            if message:
                found = Problem(spec.shown, field_name, f"{message} ({limit.source})")
                (warnings if limit.warning else problems).append(found)
    return problems, warnings


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def limit_problem(limit: Limit, value: Any, spec: Spec, catalog: Catalog) -> str | None:
    """Why ``value`` is out of the limit's bounds, or None (also for a value of the wrong type,
    which the loader reports)."""
    if limit.allowed:
        if value in limit.allowed:
            return None
        accepted = ", ".join(map(repr, limit.allowed))
        return f"{value!r} is not allowed: Azure ML accepts only {accepted}"
    if not is_number(value):
        return None
    if limit.minimum is not None and value < limit.minimum:
        return f"{value} is below Azure ML's minimum of {limit.minimum}"
    if limit.maximum is not None and value > limit.maximum:
        return f"{value} is above Azure ML's maximum of {limit.maximum}"
    if limit.at_most is not None:
        return at_most_problem(value, limit.at_most, spec.document)
    if limit.at_most_linked is not None:
        return linked_problem(limit, value, spec, catalog)
    return None


def first_number(document: dict, field_name: str) -> int | float | None:
    return next((value for _, value in values_at(document, field_name) if is_number(value)), None)


def at_most_problem(value: Any, other_field: str, document: dict) -> str | None:
    bound = first_number(document, other_field)
    if bound is not None and value > bound:
        return f"{value} is above {other_field} {bound}"
    return None


def linked_problem(limit: Limit, value: Any, spec: Spec, catalog: Catalog) -> str | None:
    """``value`` (times ``limit.times``) against the field of the spec the link names."""
    link_field, linked_field = limit.at_most_linked
    link = spec.kind.links.get(link_field)
    linked_values = [linked for _, linked in values_at(spec.document, link_field)]
    if link is None or len(linked_values) != 1:
        return None
    target = linked_spec(spec, link, linked_values[0], catalog)
    bound = first_number(target.document, linked_field) if target else None
    factor = (first_number(spec.document, limit.times) if limit.times else None) or 1
    if bound is None or value * factor <= bound:
        return None
    each = f" of {factor} nodes each" if factor != 1 else ""
    return (
        f"{value}{each} need {value * factor} nodes, above the {linked_field} {bound} of "
        f"{target.name} ({target.shown})"
    )
