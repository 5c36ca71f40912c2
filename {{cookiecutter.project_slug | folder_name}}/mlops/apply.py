"""``mlops apply``: create or update workspace-level assets from their specs, in dependency order.

Idempotent: compute and endpoints are updated in place (an online endpoint keeps its live traffic;
a model monitor watches the deployment that takes it);
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
from mlops.errors import InvalidInput, about, exception_chain
from mlops.kinds import APPLIED, Kind, apply_order
from mlops.monitors import follow_live_deployment
from mlops.output import say, wait_for
from mlops.validate import local_references

FINGERPRINT_TAG = "mlops_fingerprint"


@dataclass(frozen=True)
class Asset:
    path: Path
    kind: Kind
    entity: Any

    @property
    def label(self) -> str:
        return f"{self.kind.title} {self.entity.name}"


def load_assets(files: Iterable[Path]) -> list[Asset]:
    assets = []
    for path in files:
        spec_kind = specs.kind_of_file(path)
        if spec_kind is not None and not spec_kind.applied:
            raise InvalidInput(
                f"{specs.display_path(path)}: apply does not handle {spec_kind.title} specs; "
                + spec_kind.elsewhere()
            )
        kind, entity = specs.load_spec(path, expected=[kind.name for kind in APPLIED])
        assets.append(Asset(path, kind, entity))
    return sorted(assets, key=lambda asset: apply_order(asset.kind))


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
    if asset.kind.versioned and not asset.entity.version:
        asset.entity.tags = {**(asset.entity.tags or {}), FINGERPRINT_TAG: fingerprint(asset.path)}
    return asset


def dry_run(files: Iterable[Path]) -> dict[str, Any]:
    requests = []
    for asset in map(prepare, load_assets(files)):
        requests.extend(payloads.requests_for(asset.kind, asset.entity))
    return payloads.dry_run_document("apply", requests)


def apply(client: Any, files: Iterable[Path]) -> dict[str, Any]:
    results = []
    for asset in load_assets(files):
        try:
            results.append(apply_asset(client, prepare(asset)))
        except Exception as exc:
            raise about(specs.display_path(asset.path), exc) from exc
    return {"command": "apply", "applied": results}


def latest_version(operations: Any, name: str) -> Any:
    """The latest version of asset ``name``, or None when there is none yet.

    azure-ai-ml reports a missing asset as a validation error raised from the service's 404.
    """
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return operations.get(name=name, label="latest")
    except Exception as exc:
        if any(isinstance(link, ResourceNotFoundError) for link in exception_chain(exc)):
            return None
        raise


def apply_versioned(operations: Any, asset: Asset) -> dict[str, Any]:
    entity = asset.entity
    if not entity.version:
        latest = latest_version(operations, entity.name)
        wanted = entity.tags[FINGERPRINT_TAG]
        if latest is not None and (latest.tags or {}).get(FINGERPRINT_TAG) == wanted:
            say(f"{asset.label}: unchanged (version {latest.version})")
            return result(asset, "unchanged", latest.version)
    say(f"{asset.label}: creating a version ...")
    created = operations.create_or_update(entity)
    say(f"{asset.label}: version {created.version}")
    return result(asset, "applied", created.version)


def apply_asset(client: Any, asset: Asset) -> dict[str, Any]:
    operations = getattr(client, asset.kind.operations)
    if asset.kind.versioned:
        return apply_versioned(operations, asset)
    if asset.kind.keeps_live_traffic:
        keep_live_traffic(operations, asset.entity)
    if getattr(asset.entity, "create_monitor", None) is not None:
        watched = follow_live_deployment(client.online_endpoints, asset.entity)
        if watched is not None:
            say(f"{asset.label}: watches deployment {watched}")
    wait_for(getattr(operations, asset.kind.creator)(asset.entity), f"applying {asset.label}")
    return result(asset, "applied", None)


def keep_live_traffic(endpoints: Any, endpoint: Any) -> None:
    """Updating an endpoint from a spec without traffic must not take live traffic away: an online
    endpoint's traffic shares, a batch endpoint's default deployment."""
    from azure.core.exceptions import ResourceNotFoundError

    is_batch = hasattr(endpoint, "defaults")
    if endpoint.defaults if is_batch else endpoint.traffic:
        return
    try:
        current = endpoints.get(name=endpoint.name)
    except ResourceNotFoundError:
        return
    if is_batch:
        endpoint.defaults = current.defaults
    else:
        endpoint.traffic = {name: share for name, share in (current.traffic or {}).items() if share}


def result(asset: Asset, outcome: str, version: str | None) -> dict[str, Any]:
    return {
        "spec": specs.display_path(asset.path),
        "kind": asset.kind.name,
        "name": asset.entity.name,
        "version": version,
        "result": outcome,
    }
