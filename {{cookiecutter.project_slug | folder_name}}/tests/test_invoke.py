"""``mlops invoke`` through the real azure-ai-ml client, against the scripted Azure ML service and
the endpoint's scoring URI: each answer this project's scoring script gives, and a refused key."""

from __future__ import annotations

import json

import pytest

from tests import azure_flows as flows
from tests.azure_flows import SCORES

ENDPOINT = "churn-prod-x1"


def invoke(mlops, paths, *args):
    return mlops("invoke", "--endpoint", ENDPOINT, "--request", paths.sample_request, *args)


def test_the_answer_is_printed_as_json_and_nothing_else(azure, mlops, project, paths):
    flows.smoke_test(azure, ENDPOINT, {"blue": 100})

    result = invoke(mlops, paths)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SCORES
    (scored,) = azure.requests("POST", "/score")
    assert "azureml-model-deployment" not in scored.headers
    assert scored.headers["Authorization"] == "Bearer Sanitized"


def test_an_endpoint_with_token_auth_is_called_with_its_token(azure, mlops, project, paths):
    flows.smoke_test(azure, ENDPOINT, {"blue": 100}, auth_mode="AMLToken")

    result = invoke(mlops, paths)

    assert result.exit_code == 0, result.output
    assert azure.requests("POST", f"/onlineEndpoints/{ENDPOINT}/token")
    assert not azure.requests("POST", "/listKeys")


def test_a_named_deployment_is_called_whatever_the_traffic(azure, mlops, project, paths):
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0})

    result = invoke(mlops, paths, "--deployment", "green")

    assert result.exit_code == 0, result.output
    (scored,) = azure.requests("POST", "/score")
    assert scored.headers["azureml-model-deployment"] == "green"


def test_a_deployment_the_endpoint_does_not_have_is_named(azure, mlops, project, paths):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})

    result = invoke(mlops, paths, "--deployment", "green")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"mlops: endpoint {ENDPOINT} has no deployment green (deployments: blue)"
    )
    assert not azure.requests("POST", "/score")


@pytest.mark.parametrize(
    ("status", "answer", "code", "line"),
    [
        (
            400,
            {"error": 'data[0].tenure_months must be a number, got string "3"'},
            2,
            f"mlops: endpoint {ENDPOINT} refused the request in "
            "models/model1/deployment/sample-request.json: HTTP 400: "
            'data[0].tenure_months must be a number, got string "3"',
        ),
        (
            500,
            {"error": "scoring failed; the server log has the details"},
            1,
            f"mlops: endpoint {ENDPOINT} answered HTTP 500: "
            "scoring failed; the server log has the details",
        ),
        (
            401,
            "key_auth_access_denied",
            1,
            f"mlops: endpoint {ENDPOINT} answered HTTP 401, the endpoint refused its key or token: "
            "key_auth_access_denied",
        ),
    ],
    ids=["bad request", "scoring failed", "key refused"],
)
def test_an_error_answer_is_one_line_with_its_exit_code(
    azure, mlops, project, paths, status, answer, code, line
):
    flows.smoke_test(azure, ENDPOINT, {"blue": 100}, status=status, answer=answer)

    result = invoke(mlops, paths)

    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.splitlines() == [line]
    assert "could not sign in" not in result.stderr
