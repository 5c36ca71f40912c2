"""Workspace settings, credentials, ``mlops doctor``, and the errors a person sees without a
workspace. The GitHub Actions OIDC token is fetched from a real HTTP server on 127.0.0.1 that
answers the way GitHub's token service does; nothing here signs in to Azure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.identity import ClientAssertionCredential, DefaultAzureCredential

from mlops import doctor
from mlops.errors import AzureFailure, InvalidInput
from mlops.output import configure_logging
from mlops.workspace import (
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_VARIABLES,
    SETTING_VARIABLES,
    GitHubIdToken,
    azure_credential,
    credential_choice,
    find_config_file,
    github_id_token,
    ml_client,
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
REQUEST_TOKEN = "request-token-from-github"
# GitHub's token URL carries a query of its own; the audience is added to it.
TOKEN_PATH = "/_apis/distributedtask/hubs/Actions/plans/p/jobs/j/idtoken?api-version=2.0"
GITHUB_ACTIONS = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example" + TOKEN_PATH,
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000c1d0",
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000aa",
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
        [
            "invoke",
            "--endpoint",
            "churn-x",
            "--request",
            "models/model1/deployment/sample-request.json",
        ],
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


# --- credentials -------------------------------------------------------------------------------


class TokenService(BaseHTTPRequestHandler):
    """GitHub's ID token service: a JSON ``value`` for the right bearer token and audience."""

    def do_GET(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        state.requests.append(
            {"path": url.path, "query": query, "authorization": self.headers["Authorization"]}
        )
        time.sleep(state.delay)
        if state.status != 200:
            self.answer(state.status, {"message": "Bad credentials"})
        elif self.headers["Authorization"] != f"bearer {REQUEST_TOKEN}":
            self.answer(401, {"message": "wrong bearer token"})
        elif query.get("audience") != [GITHUB_OIDC_AUDIENCE] or "api-version" not in query:
            self.answer(400, {"message": f"unexpected query {url.query}"})
        else:
            self.answer(200, state.answer or {"value": f"github-id-token-{len(state.requests)}"})

    def answer(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def token_service() -> Iterator[SimpleNamespace]:
    """The token service on a free port of 127.0.0.1; change ``status``, ``answer``, ``delay``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenService)
    server.daemon_threads = True
    state = SimpleNamespace(status=200, answer=None, delay=0.0, requests=[])
    server.state = state
    state.url = f"http://127.0.0.1:{server.server_address[1]}{TOKEN_PATH}"
    # A short poll interval: shutdown() waits for one.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def github_environment(url: str) -> dict[str, str]:
    return {**GITHUB_ACTIONS, "ACTIONS_ID_TOKEN_REQUEST_URL": url}


def test_github_actions_oidc_when_all_four_variables_are_set():
    credential = azure_credential(GITHUB_ACTIONS)

    assert isinstance(credential, ClientAssertionCredential)
    assert credential_choice(GITHUB_ACTIONS).startswith("ClientAssertionCredential ")


@pytest.mark.parametrize("missing", GITHUB_OIDC_VARIABLES)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_default_credential_when_any_variable_is_missing(missing, how):
    environ = dict(GITHUB_ACTIONS)
    if how == "unset":
        del environ[missing]
    else:
        environ[missing] = " "

    assert isinstance(azure_credential(environ), DefaultAzureCredential)
    assert github_id_token(environ) is None
    assert credential_choice(environ) == (
        f"DefaultAzureCredential (GitHub Actions OIDC would also need {missing})"
    )


def test_default_credential_outside_github_actions():
    assert isinstance(azure_credential({}), DefaultAzureCredential)
    assert credential_choice({}) == "DefaultAzureCredential"


def test_each_call_fetches_a_fresh_github_token(token_service):
    fetch = github_id_token(github_environment(token_service.url))

    assert fetch() == "github-id-token-1"
    assert fetch() == "github-id-token-2"
    for request in token_service.requests:
        assert request["path"] == urlsplit(TOKEN_PATH).path
        assert request["query"] == {"api-version": ["2.0"], "audience": [GITHUB_OIDC_AUDIENCE]}
        assert request["authorization"] == f"bearer {REQUEST_TOKEN}"


def test_token_url_without_a_query_gets_one():
    fetch = GitHubIdToken("https://token.example/idtoken", REQUEST_TOKEN)

    assert fetch.url() == "https://token.example/idtoken?audience=api%3A%2F%2FAzureADTokenExchange"


def test_an_error_answer_is_a_clear_error(token_service):
    token_service.status = 401
    fetch = github_id_token(github_environment(token_service.url))

    with pytest.raises(AzureFailure) as error:
        fetch()

    message = str(error.value)
    assert message.startswith(
        "could not get a GitHub Actions OIDC token from ACTIONS_ID_TOKEN_REQUEST_URL: "
        "HTTP 401 Unauthorized: "
    )
    assert "Bad credentials" in message
    assert "permissions: id-token: write" in message
    assert REQUEST_TOKEN not in message


def test_an_answer_without_a_token_is_a_clear_error(token_service):
    token_service.answer = {"count": 0}

    with pytest.raises(AzureFailure, match="OIDC token .*: the answer has no field `value`"):
        GitHubIdToken(token_service.url, REQUEST_TOKEN)()


def test_a_slow_token_service_times_out(token_service):
    token_service.delay = 1.0

    with pytest.raises(AzureFailure, match="^could not get a GitHub Actions OIDC token.*timed out"):
        GitHubIdToken(token_service.url, REQUEST_TOKEN, timeout=0.2)()


def test_an_unreachable_token_service_is_a_clear_error():
    with socket.socket() as bound_only:  # bound but not listening: connections are refused
        bound_only.bind(("127.0.0.1", 0))
        port = bound_only.getsockname()[1]

        with pytest.raises(AzureFailure, match="^could not get a GitHub Actions OIDC token from "):
            GitHubIdToken(f"http://127.0.0.1:{port}{TOKEN_PATH}", REQUEST_TOKEN)()


def test_a_token_url_that_is_not_http_is_refused():
    with pytest.raises(InvalidInput, match="ACTIONS_ID_TOKEN_REQUEST_URL: not an http"):
        azure_credential(github_environment("file:///etc/passwd"))


def test_verbose_names_the_credential_and_each_token_fetch(token_service, capsys):
    environ = {**ENVIRONMENT, **github_environment(token_service.url)}
    configure_logging(True)
    try:
        client = ml_client(environ=environ)
        github_id_token(environ)()
    finally:
        configure_logging(False)

    assert client.workspace_name == ENVIRONMENT["AZUREML_WORKSPACE_NAME"]
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("credential:")]
    assert len(ours) == 2
    assert ours[0].startswith("credential: ClientAssertionCredential with a fresh GitHub")
    assert ours[1] == "credential: fetched a new GitHub Actions OIDC token"


def test_quiet_without_verbose(capsys):
    ml_client(environ=ENVIRONMENT)

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("environ", "github_oidc", "signs_in_with"),
    [
        (GITHUB_ACTIONS, "ok", "ClientAssertionCredential with a fresh GitHub Actions OIDC token"),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_URL": "u", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"},
            "missing AZURE_CLIENT_ID, AZURE_TENANT_ID",
            "DefaultAzureCredential (GitHub Actions OIDC would also need AZURE_CLIENT_ID",
        ),
        ({}, "-", "DefaultAzureCredential"),
    ],
)
def test_doctor_shows_which_credential_mlops_uses(tmp_path, environ, github_oidc, signs_in_with):
    found = {f.name: f for f in doctor.findings({**ENVIRONMENT, **environ}, tmp_path)}

    assert found["mlops signs in with"].detail.startswith(signs_in_with)
    line = found["GitHub Actions OIDC"].line()
    if github_oidc == "ok":
        assert line.startswith("ok ")
    elif github_oidc == "-":
        assert line.startswith("- ")
    else:
        assert line.startswith("- ") and line.endswith(github_oidc)


def test_doctor_command_prints_the_credential(mlops, project, monkeypatch):
    for name, value in GITHUB_ACTIONS.items():
        monkeypatch.setenv(name, value)

    result = mlops("doctor")

    assert any(
        line.startswith("ok ")
        and "mlops signs in with" in line
        and "ClientAssertionCredential" in line
        for line in result.stdout.splitlines()
    )


# live tests


def live_test_outcomes(paths, **environ: str) -> str:
    """The summary of ``pytest -m live`` in this environment, with fixtures set up but no test
    run (--setup-only): whatever the gate decides, nothing is sent to Azure."""
    gate_variables = {*SETTING_VARIABLES.values(), "MLOPS_LIVE_TESTS"}
    env = {k: v for k, v in os.environ.items() if k not in gate_variables}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "live", "--setup-only", "-q", "-rs"]
        + ["-p", "no:cacheprovider", "tests/live"],
        cwd=paths.root,
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_live_tests_are_skipped_without_the_opt_in_even_with_a_workspace(paths):
    summary = live_test_outcomes(paths, **ENVIRONMENT)

    assert "passed" not in summary
    assert "3 skipped" in summary
    assert (
        "live tests are opt-in, they create billable Azure resources: run them with "
        "`make test-live` (MLOPS_LIVE_TESTS=1 python -m pytest -m live)"
    ) in summary


def test_live_tests_opted_in_without_a_workspace_are_skipped(paths):
    if find_config_file(paths.root) is not None:
        pytest.skip("a config.json configures a workspace here")

    summary = live_test_outcomes(paths, MLOPS_LIVE_TESTS="1")

    assert "passed" not in summary
    assert "3 skipped" in summary
    assert "MLOPS_LIVE_TESTS=1 but no Azure ML workspace: set AZURE_SUBSCRIPTION_ID" in summary
