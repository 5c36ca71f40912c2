"""The live tests' steps (tests/live/steps.py) against the scripted Azure ML service: what they
read from the commands' output is what the commands print."""

from __future__ import annotations

import pytest

from mlops.apply import fingerprint
from tests import azure_flows as flows
from tests.azure_flows import JOB
from tests.conftest import PROJECT_ROOT
from tests.live import steps

ENDPOINT = "churn-stg-x1"
# The live flow deploys online.
pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / steps.ENDPOINT_SPEC).is_file(),
    reason=f"{steps.ENDPOINT_SPEC} is not in this project: it deploys no online endpoint",
)


@pytest.fixture
def run(mlops):
    def run_checked(*args):
        result = mlops(*args)
        assert result.exit_code == 0, result.output
        return result

    return run_checked


def test_apply_twice(azure, run, project, paths):
    compute, environment, data = (
        flows.spec(spec)["name"] for spec in (paths.compute, paths.environment, paths.data)
    )
    azure.serve("workspace/get.json")
    azure.serve("compute/create.json", compute_name=compute)
    flows.new_environment(azure, environment)
    flows.new_data(azure, data)
    azure.serve("workspace/get.json")
    azure.serve("compute/update.json", compute_name=compute)
    flows.latest_environment(azure, environment, fingerprint(paths.environment))
    flows.latest_data(azure, data, fingerprint(paths.data))

    steps.apply_twice_changes_nothing_the_second_time(run)


def test_train_register_deploy_invoke(azure, run, project, paths):
    experiment = flows.spec(paths.train)["experiment_name"]
    name = steps.model_name(project)
    flows.submit_job(azure, paths.train)
    flows.stream_job(azure, "Completed", experiment=experiment)
    flows.job_status(azure, "Completed", experiment)
    flows.job_status(azure, "Completed", experiment)
    flows.job_metrics(azure, {"roc_auc": 0.86, "accuracy": 0.81})
    flows.register_model(azure, name)
    azure.serve("online-endpoints/missing.json", endpoint_name=ENDPOINT)
    flows.create_endpoint(azure, ENDPOINT)
    flows.create_deployment(azure, ENDPOINT, "blue")
    flows.smoke_test(azure, ENDPOINT, {"blue": 0})
    flows.set_traffic(azure, ENDPOINT, {"blue": 0}, {"blue": 100})
    flows.smoke_test(azure, ENDPOINT, {"blue": 100})
    run_metadata, model_metadata = project / "run.json", project / "model.json"

    steps.train_and_wait(run, run_metadata, "--set", f"name={JOB}")
    registered = steps.register_behind_the_gate(
        run, run_metadata, name, ("roc_auc", 0.75), model_metadata
    )
    steps.deploy_the_registered_model(run, ENDPOINT, model_metadata, registered)
    steps.invoke_scores_every_row(run, project, ENDPOINT)
