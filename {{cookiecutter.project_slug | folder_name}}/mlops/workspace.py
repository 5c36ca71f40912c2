"""Which workspace the commands talk to, and the client that talks to it.

Each setting comes from its environment variable; any that is unset comes from a ``config.json``
found the way the Azure ML tools find it: in ``.azureml/``, ``aml_config/`` or the directory itself,
from the current directory upwards. Credentials come from ``DefaultAzureCredential``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import InvalidInput
from mlops.output import import_azure_ml

SETTING_VARIABLES = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
}
CONFIG_DIRECTORIES = (".azureml", "aml_config", "")
CONFIG_FILE_NAMES = ("config.json", "project.json")
CONFIG_SEARCH_LEVELS = 20


@dataclass(frozen=True)
class WorkspaceSettings:
    subscription_id: str | None
    resource_group: str | None
    workspace_name: str | None
    sources: Mapping[str, str]

    @property
    def missing(self) -> list[str]:
        return [SETTING_VARIABLES[key] for key in SETTING_VARIABLES if not getattr(self, key)]

    def scope(self) -> dict[str, str | None]:
        return {key: getattr(self, key) for key in SETTING_VARIABLES}


def find_config_file(start: Path) -> Path | None:
    """The workspace config file the Azure ML tools would use when started in ``start``."""
    for directory in CONFIG_DIRECTORIES:
        for file_name in CONFIG_FILE_NAMES:
            folder = start.resolve()
            for _ in range(CONFIG_SEARCH_LEVELS):
                candidate = folder / directory / file_name if directory else folder / file_name
                if candidate.is_file():
                    return candidate
                if folder.parent == folder:
                    break
                folder = folder.parent
    return None


def read_config_file(path: Path) -> dict[str, str]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a readable JSON workspace config: {exc}") from exc
    if not isinstance(config, dict):
        raise InvalidInput(f"{path}: a workspace config must be a JSON object")
    scope = config.get("Scope")
    if isinstance(scope, str):
        # /subscriptions/<id>/resourceGroups/<group>/providers/<provider>/workspaces/<name>
        pieces = scope.split("/")
        if len(pieces) < 9:
            raise InvalidInput(f"{path}: Scope: not a workspace resource id: {scope}")
        return {
            "subscription_id": pieces[2],
            "resource_group": pieces[4],
            "workspace_name": pieces[8],
        }
    return {key: str(config[key]) for key in SETTING_VARIABLES if config.get(key)}


def resolve_settings(
    environ: Mapping[str, str] | None = None, start: Path | None = None
) -> WorkspaceSettings:
    """Settings from the environment, completed from config.json when one is found."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key, variable in SETTING_VARIABLES.items():
        value = environ.get(variable, "").strip()
        values[key] = value or None
        if value:
            sources[key] = variable
    if not all(values.values()):
        config_path = find_config_file(start or Path.cwd())
        if config_path is not None:
            for key, value in read_config_file(config_path).items():
                if not values[key]:
                    values[key] = value
                    sources[key] = str(config_path)
    return WorkspaceSettings(sources=sources, **values)


def require_settings(settings: WorkspaceSettings) -> WorkspaceSettings:
    if settings.missing:
        raise InvalidInput(
            "no Azure ML workspace configured: set "
            + ", ".join(settings.missing)
            + " (or put a config.json in .azureml/ of the project)"
        )
    return settings


def ml_client(settings: WorkspaceSettings | None = None) -> Any:
    """An MLClient for the configured workspace, signed in with DefaultAzureCredential."""
    settings = require_settings(settings or resolve_settings())
    from azure.identity import DefaultAzureCredential

    return import_azure_ml().MLClient(
        credential=DefaultAzureCredential(),
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace_name,
    )
