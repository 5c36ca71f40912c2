"""``mlops doctor``: which settings, credentials and tools this machine has for the Azure commands.

Offline: it looks at environment variables, config files and the PATH, and signs in to nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mlops.errors import InvalidInput
from mlops.workspace import (
    ENVIRONMENT_FIELDS,
    GITHUB_OIDC_VARIABLES,
    SETTING_VARIABLES,
    ProjectEnvironment,
    chosen_environment,
    credential_choice,
    find_config_file,
    github_oidc_missing,
    resolve_settings,
)

PACKAGES = ("azure-ai-ml", "azure-identity", "click", "pyyaml")
TOOLS = {
    "az": "Azure CLI (AzureCliCredential; az login or the pipeline's Azure login step)",
    "azd": "Azure Developer CLI (AzureDeveloperCliCredential)",
    "pwsh": "PowerShell (AzurePowerShellCredential with the Az module)",
    "docker": "Docker (jobs with compute: local)",
    "git": "git (job runs record the commit)",
}


@dataclass(frozen=True)
class Finding:
    area: str
    name: str
    present: bool
    detail: str
    required: bool = False

    def line(self) -> str:
        mark = "ok     " if self.present else ("MISSING" if self.required else "-      ")
        return f"{mark} {self.area:<11} {self.name:<32} {self.detail}"


def credential_findings(environ: Mapping[str, str]) -> list[Finding]:
    """GitHub Actions OIDC, then the DefaultAzureCredential sources in the order it tries them."""
    has = {name for name, value in environ.items() if value}
    github_missing = github_oidc_missing(environ)
    github_detail = ", ".join(GITHUB_OIDC_VARIABLES)
    if 0 < len(github_missing) < len(GITHUB_OIDC_VARIABLES):
        github_detail = "missing " + ", ".join(github_missing)
    service_principal = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID"} <= has and bool(
        {"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"} & has
    )
    workload_identity = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"} <= has
    managed_identity = bool({"IDENTITY_ENDPOINT", "MSI_ENDPOINT"} & has)
    return [
        Finding(
            "credential",
            "GitHub Actions OIDC",
            not github_missing,
            github_detail,
        ),
        Finding(
            "credential",
            "environment (service principal)",
            service_principal,
            "AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate",
        ),
        Finding(
            "credential",
            "workload identity (OIDC)",
            workload_identity,
            "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE",
        ),
        Finding(
            "credential",
            "managed identity",
            managed_identity,
            "IDENTITY_ENDPOINT or MSI_ENDPOINT (Azure-hosted agents and VMs)",
        ),
    ]


def workspace_findings(
    environ: Mapping[str, str], start: Path | None, environment: ProjectEnvironment | None
) -> list[Finding]:
    """Each setting and where it comes from; what is missing, and where it could be given."""
    result = []
    if environment is not None:
        result.append(Finding("workspace", "environment", True, environment.where))
    try:
        settings = resolve_settings(environ, start, environment)
    except InvalidInput as exc:
        return [*result, Finding("workspace", "settings", False, str(exc), required=True)]
    for key, variable in SETTING_VARIABLES.items():
        value = getattr(settings, key)
        if value:
            detail = f"{value} (from {settings.sources[key]})"
        elif environment is not None:
            detail = f"set {variable}, or {ENVIRONMENT_FIELDS[key]} in {environment.where}"
        else:
            detail = f"set {variable} or use config.json"
        result.append(Finding("workspace", variable, bool(value), detail, required=True))
    return result


def findings(
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
    environment: ProjectEnvironment | None = None,
) -> list[Finding]:
    """What this machine has for the Azure commands, in the environment given (default: the one
    `mlops --env` chose, if any)."""
    environ = os.environ if environ is None else environ
    environment = environment or chosen_environment()
    config = find_config_file(start or Path.cwd())
    result = workspace_findings(environ, start, environment)
    result.append(
        Finding("workspace", "config.json", config is not None, str(config or "not found"))
    )
    result.extend(credential_findings(environ))
    for tool, purpose in TOOLS.items():
        location = shutil.which(tool)
        result.append(Finding("tool", tool, location is not None, location or purpose))
    result.append(Finding("sign-in", "mlops signs in with", True, credential_choice(environ)))
    for package in PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            result.append(Finding("package", package, False, "pip install '.[ops]'", True))
        else:
            result.append(Finding("package", package, True, version, True))
    return result


def can_sign_in(found: list[Finding]) -> bool:
    credentials = [f for f in found if f.area == "credential" and f.present]
    cli_tools = [f for f in found if f.area == "tool" and f.name in {"az", "azd", "pwsh"}]
    return bool(credentials) or any(f.present for f in cli_tools)


def report(found: list[Finding]) -> tuple[list[str], bool]:
    """Report lines and whether the Azure commands can run here."""
    lines = [finding.line() for finding in found]
    missing = [f.name for f in found if f.required and not f.present]
    signs_in = can_sign_in(found)
    if not signs_in:
        lines.append("MISSING credential: none of the DefaultAzureCredential sources is available")
    ready = not missing and signs_in
    lines.append("ready for the Azure commands" if ready else "not ready: see MISSING above")
    return lines, ready
