"""Which workspace the commands talk to, and the client that talks to it.

Each setting comes from its environment variable; any that is unset comes from a ``config.json``
found the way the Azure ML tools find it: in ``.azureml/``, ``aml_config/`` or the directory itself,
from the current directory upwards. Credentials come from ``DefaultAzureCredential``.

With an environment chosen (``mlops --env NAME``), its table in pyproject.toml comes first::

    [tool.mlops.environments.prod]
    subscription-id = ""          # empty: from AZURE_SUBSCRIPTION_ID, else config.json
    resource-group = "rg-churn-prod"
    workspace-name = "mlw-churn-prod"

A variable set to another value than a field the table gives is refused: a shell or pipeline set
up for one workspace never acts on another by accident.
"""

from __future__ import annotations

import json
import os
import tomllib
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
from mlops.specs import display_path, import_azure_ml

SETTING_VARIABLES = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
}
# The field of an environment's table in pyproject.toml for each setting.
ENVIRONMENT_FIELDS = {key: key.replace("_", "-") for key in SETTING_VARIABLES}
PYPROJECT = "pyproject.toml"
ENVIRONMENTS_TABLE = ("tool", "mlops", "environments")
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
class ProjectEnvironment:
    """One table of [tool.mlops.environments]: the settings it gives (empty fields left out)."""

    name: str
    values: Mapping[str, str]
    where: str


@dataclass(frozen=True)
class WorkspaceSettings:
    subscription_id: str | None
    resource_group: str | None
    workspace_name: str | None
    sources: Mapping[str, str]
    environment: ProjectEnvironment | None = None

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


def environment_tables(pyproject: Path) -> tuple[dict[str, Any], str]:
    """The tables of [tool.mlops.environments] in ``pyproject``, and where they are."""
    where = f"{display_path(pyproject)} [{'.'.join(ENVIRONMENTS_TABLE)}]"
    try:
        table: Any = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{display_path(pyproject)}: not readable TOML: {exc}") from exc
    for key in ENVIRONMENTS_TABLE:
        table = table.get(key) if isinstance(table, dict) else None
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise InvalidInput(f"{where}: expected one table per environment, such as [...dev]")
    return table, where


def read_environment(name: str, pyproject: Path) -> ProjectEnvironment:
    """Environment ``name`` of ``pyproject``; InvalidInput naming the file and field when it is
    not there or a field is not a string."""
    tables, where = environment_tables(pyproject)
    if name not in tables:
        known = ", ".join(tables) or "none"
        raise InvalidInput(f"--env {name}: no such environment in {where} (environments: {known})")
    where = f"{display_path(pyproject)} [{'.'.join(ENVIRONMENTS_TABLE)}.{name}]"
    fields = tables[name]
    unknown = sorted(set(fields) - set(ENVIRONMENT_FIELDS.values()))
    if unknown:
        expected = ", ".join(ENVIRONMENT_FIELDS.values())
        raise InvalidInput(f"{where}: unknown field {unknown[0]} (fields: {expected})")
    values = {}
    for key, field_name in ENVIRONMENT_FIELDS.items():
        value = fields.get(field_name, "")
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: {field_name}: expected a string")
        if value.strip():
            values[key] = value.strip()
    return ProjectEnvironment(name, values, where)


# The environment `mlops --env` chose for this process: its name and the pyproject.toml to read it
# from when a command first needs the workspace (commands that do not, never read it).
_chosen: tuple[str, Path] | None = None
# The chosen environment once read: a dry run resolves the workspace for every resource id.
_read: ProjectEnvironment | None = None


def choose_environment(name: str | None, pyproject: Path) -> None:
    global _chosen, _read
    _chosen = (name, pyproject) if name else None
    _read = None


def chosen_environment() -> ProjectEnvironment | None:
    global _read
    if _chosen and _read is None:
        _read = read_environment(*_chosen)
    return _read


def setting_from_environment(
    environment: ProjectEnvironment, key: str, variable: str, value: str
) -> tuple[str, str]:
    """The environment's value of a setting and its source; a variable that says otherwise is
    refused, one that fills a field the environment leaves empty is taken."""
    given = environment.values.get(key)
    if given is None:
        return value, variable
    if value and value != given:
        raise InvalidInput(
            f"{variable}={value} contradicts environment {environment.name}: "
            f"{ENVIRONMENT_FIELDS[key]} = {given} in {environment.where}; unset {variable} "
            "or choose the environment it belongs to"
        )
    return given, environment.where


def resolve_settings(
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
    environment: ProjectEnvironment | None = None,
) -> WorkspaceSettings:
    """Settings from the chosen environment and the variables, completed from config.json when
    one is found."""
    environ = os.environ if environ is None else environ
    environment = environment or chosen_environment()
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key, variable in SETTING_VARIABLES.items():
        value, source = environ.get(variable, "").strip(), variable
        if environment is not None:
            value, source = setting_from_environment(environment, key, variable, value)
        values[key] = value or None
        if value:
            sources[key] = source
    if not all(values.values()):
        config_path = find_config_file(start or Path.cwd())
        if config_path is not None:
            for key, value in read_config_file(config_path).items():
                if not values[key]:
                    values[key] = value
                    sources[key] = str(config_path)
    return WorkspaceSettings(sources=sources, environment=environment, **values)


def require_settings(settings: WorkspaceSettings) -> WorkspaceSettings:
    if settings.missing:
        environment = settings.environment
        where = f"environment {environment.name} of {environment.where}" if environment else ""
        raise InvalidInput(
            "no Azure ML workspace configured"
            + (f" in {where}" if where else "")
            + ": set "
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
