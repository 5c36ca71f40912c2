"""Workspace settings, ``mlops doctor``, and the errors a person sees without a workspace."""

from __future__ import annotations

import json

import pytest

from mlops import doctor
from mlops.errors import InvalidInput
from mlops.workspace import (
    SETTING_VARIABLES,
    find_config_file,
    require_settings,
    resolve_settings,
)

ENVIRONMENT = {
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000001",
    "AZURE_RESOURCE_GROUP": "rg-churn",
    "AZUREML_WORKSPACE_NAME": "mlw-churn",
}
CONFIG = {
    "subscription_id": "sub-from-file",
    "resource_group": "rg-file",
    "workspace_name": "ws-file",
}


def test_settings_from_the_environment(tmp_path):
    settings = resolve_settings(ENVIRONMENT, tmp_path)

    assert settings.scope() == {
        "subscription_id": ENVIRONMENT["AZURE_SUBSCRIPTION_ID"],
        "resource_group": "rg-churn",
        "workspace_name": "mlw-churn",
    }
    assert settings.missing == []
    assert settings.sources["resource_group"] == "AZURE_RESOURCE_GROUP"


@pytest.mark.parametrize("folder", [".azureml", "aml_config", ""])
def test_settings_from_config_json_found_upwards(tmp_path, folder):
    config = tmp_path / folder / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps(CONFIG))
    start = tmp_path / "models" / "model1"
    start.mkdir(parents=True)

    settings = resolve_settings({}, start)

    assert find_config_file(start) == config
    assert settings.scope() == CONFIG
    assert settings.sources["workspace_name"] == str(config)


def test_environment_wins_over_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))

    settings = resolve_settings({"AZUREML_WORKSPACE_NAME": "ws-env"}, tmp_path)

    assert settings.workspace_name == "ws-env"
    assert settings.resource_group == "rg-file"


def test_config_json_with_a_scope(tmp_path):
    scope = (
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws-1"
    )
    (tmp_path / "config.json").write_text(json.dumps({"Scope": scope}))

    assert resolve_settings({}, tmp_path).scope() == {
        "subscription_id": "sub-1",
        "resource_group": "rg-1",
        "workspace_name": "ws-1",
    }


def test_unreadable_config_json(tmp_path):
    (tmp_path / "config.json").write_text("{")

    with pytest.raises(InvalidInput, match="config.json: not a readable JSON workspace config"):
        resolve_settings({}, tmp_path)


def test_missing_settings_are_named(tmp_path):
    settings = resolve_settings({"AZURE_SUBSCRIPTION_ID": "sub"}, tmp_path)

    with pytest.raises(InvalidInput) as error:
        require_settings(settings)
    assert str(error.value).startswith(
        "no Azure ML workspace configured: set AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["apply", "aml/compute.yml"],
        ["train", "models/model1/aml_config/train-amlcompute.yml"],
        ["invoke", "--endpoint", "e", "--request", "models/model1/deployment/sample-request.json"],
    ],
)
def test_azure_commands_without_a_workspace_name_the_settings(mlops, project, command):
    result = mlops(*command)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("mlops: no Azure ML workspace configured: set ")
    for variable in SETTING_VARIABLES.values():
        assert variable in result.stderr
    assert "Traceback" not in result.output


def test_doctor_reports_missing_settings(mlops, project, monkeypatch):
    result = mlops("doctor")

    assert result.exit_code == 2
    for variable in SETTING_VARIABLES.values():
        assert any(
            line.startswith("MISSING") and variable in line for line in result.stdout.splitlines()
        )
    assert result.stdout.rstrip().endswith("not ready: see MISSING above")


def test_doctor_with_settings_and_workload_identity(tmp_path):
    environ = {
        **ENVIRONMENT,
        "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c",
        "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token",
    }

    found = doctor.findings(environ, tmp_path)
    lines, ready = doctor.report(found)

    assert ready
    assert lines[-1] == "ready for the Azure commands"
    by_name = {finding.name: finding for finding in found}
    assert by_name["workload identity (OIDC)"].present
    assert not by_name["environment (service principal)"].present
    assert by_name["AZUREML_WORKSPACE_NAME"].detail == "mlw-churn (from AZUREML_WORKSPACE_NAME)"


def test_doctor_without_any_credential_is_not_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))

    lines, ready = doctor.report(doctor.findings(ENVIRONMENT, tmp_path))

    assert not ready
    assert "MISSING credential: none of the DefaultAzureCredential sources is available" in lines
