"""The environments of pyproject.toml ([tool.mlops.environments]) and `mlops --env`: which
workspace each command talks to, what fills the fields an environment leaves empty, and what is
refused. Read from a copy of the project's own pyproject.toml, so the tests hold for any bake."""

from __future__ import annotations

import tomllib

import pytest

from mlops import doctor
from mlops.errors import InvalidInput
from mlops.workspace import PYPROJECT, read_environment, resolve_settings

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000e1"


def environment_table(project, name):
    document = tomllib.loads((project / PYPROJECT).read_text(encoding="utf-8"))
    return document["tool"]["mlops"]["environments"][name]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_each_environment_names_its_workspace_and_the_subscription_comes_from_the_variable(
    project, name
):
    table = environment_table(project, name)
    environment = read_environment(name, project / PYPROJECT)

    settings = resolve_settings({"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION}, project, environment)

    assert settings.scope() == {
        "subscription_id": SUBSCRIPTION,
        "resource_group": table["resource-group"],
        "workspace_name": table["workspace-name"],
    }
    assert settings.sources["subscription_id"] == "AZURE_SUBSCRIPTION_ID"
    where = f"pyproject.toml [tool.mlops.environments.{name}]"
    assert settings.sources["workspace_name"] == where


def test_a_variable_that_agrees_with_the_environment_is_accepted(project):
    table = environment_table(project, "prod")
    environment = read_environment("prod", project / PYPROJECT)
    environ = {"AZUREML_WORKSPACE_NAME": table["workspace-name"]}

    settings = resolve_settings(environ, project, environment)

    assert settings.workspace_name == table["workspace-name"]


def test_a_variable_that_contradicts_the_environment_is_refused(mlops, project, monkeypatch):
    table = environment_table(project, "prod")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg-somewhere-else")

    result = mlops("--env", "prod", "apply", "aml/compute.yml", "--dry-run")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "mlops: AZURE_RESOURCE_GROUP=rg-somewhere-else contradicts environment prod: "
        f"resource-group = {table['resource-group']} in pyproject.toml "
        "[tool.mlops.environments.prod]; unset AZURE_RESOURCE_GROUP or choose the environment "
        "it belongs to"
    )


def test_without_env_the_variables_alone_decide_as_before(dry_run, project, monkeypatch):
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg-somewhere-else")

    document = dry_run("apply", "aml/compute.yml")

    assert "environment" not in document
    assert document["workspace"]["resource_group"] == "rg-somewhere-else"


@pytest.mark.parametrize("how", ["option", "variable"])
def test_env_or_mlops_env_choose_the_workspace_of_a_dry_run(dry_run, project, monkeypatch, how):
    table = environment_table(project, "prod")
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    if how == "variable":
        monkeypatch.setenv("MLOPS_ENV", "prod")
    chosen = ("--env", "prod") if how == "option" else ()

    document = dry_run(*chosen, "apply", "aml/compute.yml")

    assert document["environment"] == "prod"
    assert document["workspace"] == {
        "subscription_id": SUBSCRIPTION,
        "resource_group": table["resource-group"],
        "workspace_name": table["workspace-name"],
    }


def test_an_unknown_environment_is_refused_with_the_ones_there_are(mlops, project):
    result = mlops("--env", "staging", "apply", "aml/compute.yml", "--dry-run")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "mlops: --env staging: no such environment in pyproject.toml "
        "[tool.mlops.environments] (environments: dev, prod)"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workspace": "mlw-x"}, "unknown field workspace (fields: subscription-id, "),
        ({"resource-group": 3}, "resource-group: expected a string"),
    ],
)
def test_a_wrong_field_names_the_file_and_the_field(project, fields, message):
    pyproject = project / PYPROJECT
    text = pyproject.read_text(encoding="utf-8")
    extra = "".join(
        f"{key} = {value!r}\n" if not isinstance(value, str) else f'{key} = "{value}"\n'
        for key, value in fields.items()
    )
    pyproject.write_text(text + "\n[tool.mlops.environments.test]\n" + extra, encoding="utf-8")

    with pytest.raises(InvalidInput) as error:
        read_environment("test", pyproject)

    assert str(error.value).startswith("pyproject.toml [tool.mlops.environments.test]: ")
    assert message in str(error.value)


def test_commands_that_need_no_workspace_do_not_read_the_environment(mlops, project):
    (project / PYPROJECT).write_text("not toml [", encoding="utf-8")

    result = mlops("--env", "prod", "models")

    assert result.exit_code == 0, result.output


def test_doctor_says_what_the_environment_lacks(mlops, project):
    result = mlops("--env", "prod", "doctor")

    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "environment" in lines[0] and "[tool.mlops.environments.prod]" in lines[0]
    (subscription,) = [line for line in lines if "AZURE_SUBSCRIPTION_ID" in line]
    assert subscription.startswith("MISSING")
    assert subscription.endswith(
        "set AZURE_SUBSCRIPTION_ID, or subscription-id in pyproject.toml "
        "[tool.mlops.environments.prod]"
    )
    workspace = environment_table(project, "prod")["workspace-name"]
    (name,) = [line for line in lines if "AZUREML_WORKSPACE_NAME" in line]
    assert name.startswith("ok") and workspace in name


def test_doctor_reports_a_contradicting_variable_as_missing_settings(project):
    environment = read_environment("prod", project / PYPROJECT)

    found = doctor.findings({"AZUREML_WORKSPACE_NAME": "mlw-elsewhere"}, project, environment)

    (settings,) = [finding for finding in found if finding.name == "settings"]
    assert not settings.present and settings.required
    assert "AZUREML_WORKSPACE_NAME=mlw-elsewhere contradicts environment prod" in settings.detail
    assert not doctor.report(found)[1]
