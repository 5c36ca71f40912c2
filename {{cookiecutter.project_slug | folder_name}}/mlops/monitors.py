"""Model monitoring schedules (``create_monitor``) and the data tables they read.

A monitor schedule watches one online deployment, ``azureml:<endpoint>:<deployment>``. What
mlops checks beyond the links of mlops.kinds: the target names a deployment spec of that endpoint,
each signal's data asset is a table (``type: mltable``), and a local table folder holds its
``MLTable`` file. When applied, a monitor follows the rollout: the blue/green rollout of
``mlops deploy`` alternates deployment names, so the monitor is pointed at the deployment that
takes the endpoint's traffic (the spec's name when the endpoint is new or that one is live).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlops.catalog import Catalog, Spec
from mlops.naming import ASSET_PREFIX, quoted
from mlops.specs import Problem, is_local_path, values_at

MONITOR_FIELD = "create_monitor"
TARGET_FIELD = "create_monitor.monitoring_target.endpoint_deployment_id"
SIGNAL_DATA_FIELDS = (
    "create_monitor.monitoring_signals.*.reference_data.input_data",
    "create_monitor.monitoring_signals.*.production_data.input_data",
)
TABLE_TYPE = "mltable"
TABLE_FILE = "MLTable"


def is_monitor(document: Any) -> bool:
    return isinstance(document, Mapping) and MONITOR_FIELD in document


def target_parts(value: Any) -> tuple[str, str] | None:
    """(endpoint, deployment) of ``azureml:<endpoint>:<deployment>``, or None."""
    if not isinstance(value, str) or not value.startswith(ASSET_PREFIX):
        return None
    endpoint, colon, deployment = value.removeprefix(ASSET_PREFIX).partition(":")
    if not (endpoint and colon and deployment) or ":" in deployment:
        return None
    return endpoint, deployment


def check_monitor(spec: Spec, catalog: Catalog) -> Iterator[Problem]:
    """A monitor schedule's target and the tables its signals read."""
    if not is_monitor(spec.document):
        return
    for field_name, value in values_at(spec.document, TARGET_FIELD):
        yield from target_problems(spec, field_name, value, catalog)
    for pattern in SIGNAL_DATA_FIELDS:
        for field_name, value in values_at(spec.document, pattern):
            yield from table_input_problems(spec, field_name, value, catalog)


def target_problems(spec: Spec, field_name: str, value: Any, catalog: Catalog) -> Iterator[Problem]:
    parts = target_parts(value)
    if parts is None:
        yield Problem(
            spec.shown,
            field_name,
            f"{quoted(str(value))} must be azureml:<endpoint>:<deployment>, the online "
            "deployment the monitor watches",
        )
        return
    endpoint, deployment = parts
    if not catalog.specs_named(("online_endpoint",), endpoint):
        return  # the link check reports an endpoint the project does not define
    deployments = deployments_of(endpoint, catalog)
    if deployment not in deployments:
        known = ", ".join(sorted(deployments)) or "none"
        yield Problem(
            spec.shown,
            field_name,
            f"{quoted(deployment)} names no online deployment spec of endpoint {endpoint} "
            f"(its deployment specs are named: {known})",
        )


def deployments_of(endpoint: str, catalog: Catalog) -> dict[str, Spec]:
    """The project's online deployment specs of ``endpoint``, by deployment name."""
    return {
        name: spec
        for name, named in catalog.named.get("online_deployment", {}).items()
        for spec in named
        if spec.document.get("endpoint_name") == endpoint
    }


def table_input_problems(
    spec: Spec, field_name: str, value: Any, catalog: Catalog
) -> Iterator[Problem]:
    """A signal's data is a table: ``type: mltable``, naming a data asset that is one."""
    if not isinstance(value, Mapping):
        return
    declared = value.get("type")
    path = value.get("path")
    if declared != TABLE_TYPE:
        yield Problem(
            spec.shown,
            f"{field_name}.type",
            f"is {quoted(str(declared))}; model monitoring reads its data as a table: {TABLE_TYPE}",
        )
        return
    if not isinstance(path, str) or not path.startswith(ASSET_PREFIX):
        return
    name = path.removeprefix(ASSET_PREFIX).partition("@")[0].partition(":")[0]
    for data in catalog.specs_named(("data",), name):
        if data.document.get("type") != TABLE_TYPE:
            yield Problem(
                spec.shown,
                f"{field_name}.path",
                f"{quoted(name)} is a {data.document.get('type')} data asset ({data.shown}), "
                f"not a table: give it a {TABLE_TYPE} data asset (an {TABLE_FILE} file beside "
                "its data)",
            )


def check_table_folder(spec: Spec) -> Iterator[Problem]:
    """A local table (a data asset of type mltable) is a folder holding its MLTable file."""
    if spec.kind.name != "data" or spec.document.get("type") != TABLE_TYPE:
        return
    path = spec.document.get("path")
    if not isinstance(path, str) or not is_local_path(path):
        return
    folder = (spec.path.parent / path).resolve()
    if folder.is_dir() and not (folder / TABLE_FILE).is_file():
        yield Problem(
            spec.shown,
            "path",
            f"{path} holds no {TABLE_FILE} file: an {TABLE_TYPE} data asset is a folder with "
            f"its {TABLE_FILE} beside its data",
        )


def live_deployment(named: str, traffic: Mapping[str, int] | None) -> str:
    """The deployment a monitor of ``named`` should watch, given the endpoint's traffic: ``named``
    when it has traffic or no deployment has any, else the one with the largest share."""
    live = {name: share for name, share in (traffic or {}).items() if share and share > 0}
    if not live or named in live:
        return named
    return max(sorted(live), key=lambda name: live[name])


def follow_live_deployment(endpoints: Any, schedule: Any) -> str | None:
    """Point the monitor ``schedule`` at the deployment that takes its endpoint's traffic now;
    the deployment it watches, or None for a schedule without an online target."""
    from azure.core.exceptions import ResourceNotFoundError

    target = getattr(getattr(schedule, MONITOR_FIELD, None), "monitoring_target", None)
    parts = target_parts(getattr(target, "endpoint_deployment_id", None))
    if parts is None:
        return None
    endpoint, named = parts
    try:
        traffic = endpoints.get(name=endpoint).traffic
    except ResourceNotFoundError:
        return named
    watched = live_deployment(named, traffic)
    target.endpoint_deployment_id = f"{ASSET_PREFIX}{endpoint}:{watched}"
    return watched
