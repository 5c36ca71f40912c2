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
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from mlops.errors import AzureFailure, InvalidInput
from mlops.output import is_verbose, say
from mlops.specs import import_azure_ml

SETTING_VARIABLES = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
}
CONFIG_DIRECTORIES = (".azureml", "aml_config", "")
CONFIG_FILE_NAMES = ("config.json", "project.json")
CONFIG_SEARCH_LEVELS = 20
# All four set: sign in with a GitHub Actions OIDC token fetched afresh for each Azure token.
GITHUB_OIDC_VARIABLES = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
)
GITHUB_OIDC_AUDIENCE = "api://AzureADTokenExchange"
GITHUB_OIDC_TIMEOUT_SECONDS = 30


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


class GitHubIdToken:
    """A callable that fetches a new GitHub Actions OIDC ID token for Microsoft Entra each call.

    GitHub gives the jobs that may request one the URL and the bearer token to ask with, in
    ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
    """

    what = "could not get a GitHub Actions OIDC token from ACTIONS_ID_TOKEN_REQUEST_URL"

    def __init__(
        self, request_url: str, request_token: str, timeout: float = GITHUB_OIDC_TIMEOUT_SECONDS
    ) -> None:
        if urlsplit(request_url).scheme not in ("https", "http"):
            raise InvalidInput(f"ACTIONS_ID_TOKEN_REQUEST_URL: not an http(s) URL: {request_url}")
        self.request_url = request_url
        self.request_token = request_token
        self.timeout = timeout

    def url(self) -> str:
        separator = "&" if urlsplit(self.request_url).query else "?"
        return self.request_url + separator + urlencode({"audience": GITHUB_OIDC_AUDIENCE})

    def __call__(self) -> str:
        request = Request(  # noqa: S310 (the scheme was checked to be http or https)
            self.url(),
            headers={
                "Authorization": f"bearer {self.request_token}",
                "Accept": "application/json",
            },
        )
        try:
            with urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (as above)
                body = response.read()
        except HTTPError as exc:
            answer = " ".join(exc.read(300).decode("utf-8", "replace").split())
            raise AzureFailure(
                f"{self.what}: HTTP {exc.code} {exc.reason}"
                + (f": {answer}" if answer else "")
                + " (does the job have `permissions: id-token: write`?)"
            ) from exc
        except (OSError, HTTPException) as exc:
            reason = exc.reason if isinstance(exc, URLError) else exc
            raise AzureFailure(f"{self.what}: {reason or type(exc).__name__}") from exc
        try:
            token = json.loads(body)["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AzureFailure(f"{self.what}: the answer has no field `value`") from exc
        if not isinstance(token, str) or not token:
            raise AzureFailure(f"{self.what}: the answer's field `value` is empty")
        if is_verbose():
            say("credential: fetched a new GitHub Actions OIDC token")
        return token


def github_oidc_missing(environ: Mapping[str, str]) -> list[str]:
    """The variables of GITHUB_OIDC_VARIABLES that are unset or empty."""
    return [name for name in GITHUB_OIDC_VARIABLES if not environ.get(name, "").strip()]


def credential_choice(environ: Mapping[str, str] | None = None) -> str:
    """Which credential ``azure_credential`` builds in this environment, and why, in one line."""
    missing = github_oidc_missing(os.environ if environ is None else environ)
    if not missing:
        return (
            "ClientAssertionCredential with a fresh GitHub Actions OIDC token at each sign-in "
            "(" + ", ".join(GITHUB_OIDC_VARIABLES) + " are set)"
        )
    if len(missing) == len(GITHUB_OIDC_VARIABLES):
        return "DefaultAzureCredential"
    return "DefaultAzureCredential (GitHub Actions OIDC would also need " + ", ".join(missing) + ")"


def github_id_token(environ: Mapping[str, str]) -> GitHubIdToken | None:
    """The GitHub ID token source when every GITHUB_OIDC_VARIABLES is set, else None."""
    if github_oidc_missing(environ):
        return None
    return GitHubIdToken(
        environ["ACTIONS_ID_TOKEN_REQUEST_URL"].strip(),
        environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"].strip(),
    )


def azure_credential(environ: Mapping[str, str] | None = None) -> Any:
    """GitHub Actions OIDC when every GITHUB_OIDC_VARIABLES is set, else DefaultAzureCredential."""
    environ = os.environ if environ is None else environ
    fetch_id_token = github_id_token(environ)
    if fetch_id_token is None:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    from azure.identity import ClientAssertionCredential

    return ClientAssertionCredential(
        tenant_id=environ["AZURE_TENANT_ID"].strip(),
        client_id=environ["AZURE_CLIENT_ID"].strip(),
        func=fetch_id_token,
    )


def ml_client(
    settings: WorkspaceSettings | None = None,
    environ: Mapping[str, str] | None = None,
    credential: Any = None,
    **client_options: Any,
) -> Any:
    """An MLClient for the configured workspace, signed in with ``azure_credential`` (or the
    ``credential`` given); ``client_options`` go to MLClient (a ``transport``, in tests)."""
    settings = require_settings(settings or resolve_settings(environ))
    if credential is None and is_verbose():
        say(f"credential: {credential_choice(environ)}")
    return import_azure_ml().MLClient(
        credential=credential or azure_credential(environ),
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace_name,
        # show_progress stays on: azure-ai-ml reports a failed file of a folder upload only while
        # it shows progress (without, it waits for the file forever). mlops.output makes the bars
        # plain lines where stderr is not a terminal.
        **client_options,
    )
