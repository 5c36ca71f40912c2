"""``mlops apply``: create or update workspace-level assets from their specs, in dependency order.

Idempotent: compute and endpoints are updated in place (an online endpoint keeps its live traffic);
an environment, data asset or model without a version in its spec gets a new version only when its
content changed, which a fingerprint tag on each version records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops import payloads, specs
from mlops.errors import InvalidInput
from mlops.output import say, wait_for
from mlops.validate import local_references

APPLY_ORDER = (
    "compute",
    "environment",
    "data",
    "model",
    "online_endpoint",
    "batch_endpoint",
    "batch_deployment",
)
OTHER_COMMANDS = {
    "job": "submit jobs with `mlops train`",
    "online_deployment": "roll out online deployments with `mlops deploy`",
    "workspace": "create the workspace once with `az ml workspace create --file aml/workspace.yml`",
}
VERSIONED_ASSETS = {"environment", "data", "model"}
FINGERPRINT_TAG = "mlops_fingerprint"


@dataclass(frozen=True)
class Asset:
    path: Path
    kind: str
    entity: Any


def load_assets(files: Iterable[Path]) -> list[Asset]:
    assets = []
    for path in files:
        spec_kind = specs.kind_of_file(path)
        if spec_kind in OTHER_COMMANDS:
            raise InvalidInput(
                f"{specs.display_path(path)}: apply does not handle {specs.KIND_TITLES[spec_kind]}"
                f" specs; {OTHER_COMMANDS[spec_kind]}"
            )
        kind, entity = specs.load_spec(path, expected=APPLY_ORDER)
        assets.append(Asset(path, kind, entity))
    return sorted(assets, key=lambda asset: APPLY_ORDER.index(asset.kind))


def files_of(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(child for child in path.rglob("*") if child.is_file())
    elif path.is_file():
        yield path


def fingerprint(spec: Path) -> str:
    """A digest of the spec and every local file it names: equal digests, equal assets."""
    digest = hashlib.sha256(spec.read_bytes())
    document, _ = specs.parse_yaml(spec)
    for _field, _value, referenced in local_references(document, spec.resolve().parent):
        for file in files_of(referenced):
            digest.update(file.relative_to(referenced.parent).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def prepare(asset: Asset) -> Asset:
    """Tag unversioned assets with their fingerprint, which is how apply recognises them later."""
    if asset.kind in VERSIONED_ASSETS and not asset.entity.version:
        asset.entity.tags = {**(asset.entity.tags or {}), FINGERPRINT_TAG: fingerprint(asset.path)}
    return asset


def dry_run(files: Iterable[Path]) -> dict[str, Any]:
    requests = []
    for asset in map(prepare, load_assets(files)):
        requests.extend(payloads.requests_for(asset.kind, asset.entity))
    return payloads.dry_run_document("apply", requests)


def apply(client: Any, files: Iterable[Path]) -> dict[str, Any]:
    results = [apply_asset(client, prepare(asset)) for asset in load_assets(files)]
    return {"command": "apply", "applied": results}


def latest_version(operations: Any, name: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return operations.get(name=name, label="latest")
    except ResourceNotFoundError:
        return None


def apply_versioned(operations: Any, asset: Asset) -> dict[str, Any]:
    entity = asset.entity
    if not entity.version:
        latest = latest_version(operations, entity.name)
        wanted = entity.tags[FINGERPRINT_TAG]
        if latest is not None and (latest.tags or {}).get(FINGERPRINT_TAG) == wanted:
            say(f"{asset.kind} {entity.name}: unchanged (version {latest.version})")
            return result(asset, "unchanged", latest.version)
    say(f"{asset.kind} {entity.name}: creating a version ...")
    created = operations.create_or_update(entity)
    say(f"{asset.kind} {entity.name}: version {created.version}")
    return result(asset, "applied", created.version)


def apply_asset(client: Any, asset: Asset) -> dict[str, Any]:
    entity = asset.entity
    label = f"{specs.KIND_TITLES[asset.kind]} {entity.name}"
    if asset.kind == "compute":
        wait_for(client.compute.begin_create_or_update(entity), f"applying {label}")
    elif asset.kind == "environment":
        return apply_versioned(client.environments, asset)
    elif asset.kind == "data":
        return apply_versioned(client.data, asset)
    elif asset.kind == "model":
        return apply_versioned(client.models, asset)
    elif asset.kind == "online_endpoint":
        keep_live_traffic(client, entity)
        wait_for(client.online_endpoints.begin_create_or_update(entity), f"applying {label}")
    elif asset.kind == "batch_endpoint":
        wait_for(client.batch_endpoints.begin_create_or_update(entity), f"applying {label}")
    elif asset.kind == "batch_deployment":
        wait_for(client.batch_deployments.begin_create_or_update(entity), f"applying {label}")
    return result(asset, "applied", None)


def keep_live_traffic(client: Any, endpoint: Any) -> None:
    """Updating an endpoint from a spec without traffic must not take live traffic away."""
    from azure.core.exceptions import ResourceNotFoundError

    if endpoint.traffic:
        return
    try:
        current = client.online_endpoints.get(name=endpoint.name)
    except ResourceNotFoundError:
        return
    endpoint.traffic = dict(current.traffic or {})


def result(asset: Asset, outcome: str, version: str | None) -> dict[str, Any]:
    return {
        "spec": specs.display_path(asset.path),
        "kind": asset.kind,
        "name": asset.entity.name,
        "version": version,
        "result": outcome,
    }
