"""``mlops deploy`` through the real azure-ai-ml client, against the scripted Azure ML service:
the blue/green rollout on a new and on a live endpoint, the smoke test, and the rollbacks."""

from __future__ import annotations

import json

from tests import azure_flows as flows

ENDPOINT = "churn-stg-x1"
MODEL = f"{flows.DEPLOYED_MODEL}:4"


def deploy(mlops, paths, *args):
    return mlops(
        "deploy",
        "--endpoint",
        paths.endpoint,
        "--deployment",
        paths.deployment,
        "--endpoint-name",
        ENDPOINT,
        "--model",
        MODEL,
        "--smoke-request",
        paths.sample_request,
        *args,
    )


def test_the_first_deployment_creates_the_endpoint_and_gives_blue_all_traffic(
    azure, mlops, project, paths
):
    azure.serve("online-endpoints/missing.json", endpoint_name=ENDPOINT)
    flows.create_endpoint(azure, ENDPOINT)
    flows.create_deployment(azure, ENDPOINT, "blue")
    flows.smoke_test(azure, ENDPOINT, {"blue": 0})
    flows.set_traffic(azure, ENDPOINT, {"blue": 0}, {"blue": 100})

    result = deploy(mlops, paths)

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["deployment"], printed["model"]) == ("blue", MODEL)
    (created,) = azure.requests("PUT", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")
    properties = created.json()["properties"]
    assert properties["model"].endswith(f"/models/{flows.DEPLOYED_MODEL}/versions/4")
    (scored,) = azure.requests("POST", "/score")
    assert scored.headers["azureml-model-deployment"] == "blue"
    assert scored.headers["Authorization"] == "Bearer Sanitized"
    assert scored.json() == json.loads(paths.sample_request.read_text())
    traffic = [
        sent.json()["properties"]["traffic"]
        for sent in azure.requests("PUT")
        if sent.path.endswith(f"/onlineEndpoints/{ENDPOINT}")
    ]
    assert traffic == [{}, {"blue": 100}]


def test_a_live_blue_is_replaced_by_green_and_deleted(azure, mlops, project, paths):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green")
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0})
    flows.set_traffic(azure, ENDPOINT, {"blue": 100, "green": 0}, {"green": 100})
    flows.delete_deployment(azure, ENDPOINT, "blue")

    result = deploy(mlops, paths)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"]["steps"] == [
        "create deployment green",
        "smoke-test deployment green",
        "set traffic green=100, blue=0",
        "delete deployment blue",
    ]
    assert azure.requests("DELETE", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")


def test_stdout_carries_only_the_result_and_stderr_plain_lines(azure, mlops, project, paths):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green")
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0})
    flows.set_traffic(azure, ENDPOINT, {"blue": 100, "green": 0}, {"green": 100})
    flows.delete_deployment(azure, ENDPOINT, "blue")

    result = deploy(mlops, paths)

    assert json.loads(result.stdout)["command"] == "deploy"
    assert "." not in result.stdout.split("{", 1)[0]
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "create deployment green: done after" in result.stderr


def test_a_smoke_test_answered_with_an_error_rolls_back_and_names_it(azure, mlops, project, paths):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green")
    refused = {"error": 'data[0].tenure_months must be a number, got string "3"'}
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0}, status=400, answer=refused)
    flows.delete_deployment(azure, ENDPOINT, "green")

    result = deploy(mlops, paths)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "mlops: smoke-test deployment green failed: deployment green answered HTTP 400: "
        'data[0].tenure_months must be a number, got string "3"; traffic left as it was; '
        "recovered: delete deployment green"
    )
    assert not [sent for sent in azure.requests("PUT") if sent.path.endswith(ENDPOINT)]


def test_a_deployment_that_fails_to_start_is_deleted_and_traffic_stays(
    azure, mlops, project, paths
):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green", fails=True)
    flows.delete_deployment(azure, ENDPOINT, "green")

    result = deploy(mlops, paths)

    assert result.exit_code == 1
    line = result.stderr.splitlines()[-1]
    assert line.startswith("mlops: create deployment green failed: Resource provisioning failed")
    assert "(ResourceOperationFailure)" in line
    assert line.endswith("traffic left as it was; recovered: delete deployment green")


def test_the_stage_tag_moves_to_the_deployed_version(azure, mlops, project, paths):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green")
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0})
    flows.set_traffic(azure, ENDPOINT, {"blue": 100, "green": 0}, {"green": 100})
    flows.delete_deployment(azure, ENDPOINT, "blue")
    name = flows.DEPLOYED_MODEL
    staged = flows.model_version(name, "3", {"stage": "staging"}, {})
    azure.serve("models/list.json", model_name=name, versions=[staged])
    # Each model update reads the latest version first (azure-ai-ml checks its kind).
    azure.serve("models/list.json", model_name=name, versions=[staged])
    azure.serve("models/create.json", model_name=name, version="3")
    azure.serve("models/get.json", model_name=name, version="4")
    azure.serve("models/list.json", model_name=name, versions=[staged])
    azure.serve("models/create.json", model_name=name, version="4")

    result = deploy(mlops, paths, "--stage", "staging")

    assert result.exit_code == 0, result.output
    untagged, tagged = [
        sent.json()["properties"]["tags"] for sent in azure.requests("PUT", "/models/")
    ]
    assert "stage" not in untagged
    assert tagged["stage"] == "staging"


def test_a_refused_traffic_change_puts_traffic_back_and_deletes_the_new_deployment(
    azure, mlops, project, paths
):
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100})
    flows.create_deployment(azure, ENDPOINT, "green")
    flows.smoke_test(azure, ENDPOINT, {"blue": 100, "green": 0})
    flows.endpoint_state(azure, ENDPOINT, {"blue": 100, "green": 0})
    azure.serve("workspace/get.json")
    azure.serve("online-endpoints/update-conflict.json", endpoint_name=ENDPOINT)
    flows.set_traffic(azure, ENDPOINT, {"blue": 100, "green": 0}, {"blue": 100})
    flows.delete_deployment(azure, ENDPOINT, "green")

    result = deploy(mlops, paths)

    assert result.exit_code == 1
    line = result.stderr.splitlines()[-1]
    assert line.startswith("mlops: set traffic green=100, blue=0 failed: The endpoint ")
    assert "(Conflict, HTTP 409)" in line
    assert line.endswith("recovered: set traffic blue=100; recovered: delete deployment green")
    restored = [
        sent.json()["properties"]["traffic"]
        for sent in azure.requests("PUT")
        if sent.path.endswith(f"/onlineEndpoints/{ENDPOINT}")
    ]
    assert restored == [{"green": 100}, {"blue": 100}]
