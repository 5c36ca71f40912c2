"""``mlops apply`` through the real azure-ai-ml client, against the scripted Azure ML service."""

from __future__ import annotations

import json

from mlops.apply import FINGERPRINT_TAG, fingerprint
from tests import azure_flows as flows


def names(paths):
    return {
        "compute": flows.spec(paths.compute)["name"],
        "environment": flows.spec(paths.environment)["name"],
        "data": flows.spec(paths.data)["name"],
    }


def test_the_first_apply_in_an_empty_workspace_creates_each_asset(azure, mlops, project, paths):
    name = names(paths)
    azure.serve("workspace/get.json")
    azure.serve("compute/create.json", compute_name=name["compute"])
    flows.new_environment(azure, name["environment"])
    flows.new_data(azure, name["data"])

    result = mlops("apply", paths.data, paths.environment, paths.compute)

    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)["applied"]
    assert [(item["kind"], item["name"], item["version"], item["result"]) for item in applied] == [
        ("compute", name["compute"], None, "applied"),
        ("environment", name["environment"], "1", "applied"),
        ("data", name["data"], "1", "applied"),
    ]
    (data_version,) = azure.requests("PUT", f"/data/{name['data']}/versions/1")
    properties = data_version.json()["properties"]
    assert properties["dataUri"].startswith("azureml://datastores/workspaceblobstore/paths/")
    assert properties["tags"][FINGERPRINT_TAG] == fingerprint(paths.data)
    uploaded = [sent.path for sent in azure.requests("PUT") if ".blob." in sent.url]
    assert any(path.endswith("/customers.csv") for path in uploaded)


def test_applying_again_updates_the_compute_and_leaves_unchanged_assets_alone(
    azure, mlops, project, paths
):
    name = names(paths)
    azure.serve("workspace/get.json")
    azure.serve("compute/update.json", compute_name=name["compute"])
    flows.latest_environment(azure, name["environment"], fingerprint(paths.environment))
    flows.latest_data(azure, name["data"], fingerprint(paths.data))

    result = mlops("apply", paths.compute, paths.environment, paths.data)

    assert result.exit_code == 0, result.output
    results = [item["result"] for item in json.loads(result.stdout)["applied"]]
    assert results == ["applied", "unchanged", "unchanged"]
    assert not azure.requests("PUT", "/environments/")
    assert not azure.requests("PUT", "/data/")


def test_a_changed_conda_file_makes_a_new_environment_version(azure, mlops, project, paths):
    environment = names(paths)["environment"]
    before = fingerprint(paths.environment)
    paths.train_conda.write_text(paths.train_conda.read_text() + "  - numpy\n")
    flows.latest_environment(azure, environment, before)
    azure.serve("environments/container.json", environment_name=environment)
    # azure-ai-ml tries the latest version first; the service refuses to change it.
    azure.serve("environments/conflict.json", environment_name=environment)
    azure.serve("environments/create.json", environment_name=environment, version="2")

    result = mlops("apply", paths.environment)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["applied"][0]["version"] == "2"
    (sent,) = azure.requests("PUT", f"/environments/{environment}/versions/2")
    assert "numpy" in sent.json()["properties"]["condaFile"]


def test_a_local_path_that_does_not_exist_is_bad_input_in_one_line(azure, mlops, project, paths):
    data = names(paths)["data"]
    document = flows.spec(paths.data)
    paths.data.write_text(
        paths.data.read_text().replace(f"path: {document['path']}", "path: ../no-such-folder")
    )
    azure.serve("data/missing.json", data_name=data)

    result = mlops("apply", paths.data)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    line = result.stderr.splitlines()[-1]
    assert line.startswith("mlops: aml/data.yml: File path does not match asset type uri_folder: ")
    assert line.endswith("no-such-folder")
    assert "\x1b" not in result.stderr


def test_a_failed_operation_is_one_line_naming_what_the_service_said(azure, mlops, project, paths):
    compute = names(paths)["compute"]
    azure.serve("workspace/get.json")
    azure.serve("compute/create-fails.json", compute_name=compute)

    result = mlops("apply", paths.compute)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "mlops: aml/compute.yml: Not enough quota available for Standard_DS3_v2 in eastus: "
        "0 of 8 cores left (QuotaExceeded)"
    )


def test_a_refused_sign_in_says_so_and_how_to_check(azure, mlops, project, paths):
    azure.serve("workspace/unauthorized.json")

    result = mlops("apply", paths.compute)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "mlops: aml/compute.yml: could not sign in to Azure: The access token is invalid. "
        "(InvalidAuthenticationToken, HTTP 401) "
        "(run `mlops doctor` to see which credentials are available)"
    )


def test_an_endpoint_update_keeps_its_live_traffic(azure, mlops, project, paths):
    endpoint = flows.spec(paths.endpoint)["name"]
    flows.endpoint_state(azure, endpoint, {"blue": 100, "green": 0})
    azure.serve("workspace/get.json")
    azure.serve("online-endpoints/update.json", endpoint_name=endpoint, auth_mode="Key", traffic={})

    result = mlops("apply", paths.endpoint)

    assert result.exit_code == 0, result.output
    (sent,) = azure.requests("PUT", f"/onlineEndpoints/{endpoint}")
    assert sent.json()["properties"]["traffic"] == {"blue": 100}
