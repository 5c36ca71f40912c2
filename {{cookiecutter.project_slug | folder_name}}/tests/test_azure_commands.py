"""The Azure commands' own logic (waiting, gating, idempotency) against a workspace held in memory.

The in-memory workspace answers the few MLClient calls the commands make, the way the service
does; the real service is exercised by the tests in ``tests/live``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ResourceNotFoundError

from mlops import apply, cli, deploy, register, train
from mlops.errors import AzureFailure, GateRefused
from mlops.metadata import ModelMetadata, RunMetadata

STUDIO = "https://ml.azure.com/runs/"


class Jobs:
    """Jobs of a workspace. ``statuses``: what each ``get`` reads, in turn (the last one stays).

    ``stream`` prints the log, then raises ``stream_error`` if given (a dropped connection), and
    raises as azure-ai-ml does when the job it streamed to its end Failed.
    """

    def __init__(self, final_status="Completed", metrics=None, statuses=None, stream_error=None):
        self.statuses = list(statuses or [final_status])
        self.stream_error = stream_error
        self.get_errors = []
        self.metrics = metrics or {"accuracy": 0.8, "roc_auc": 0.86}
        self.submitted = []
        self.reads = 0

    def create_or_update(self, job):
        self.submitted.append(job)
        name = f"job_{len(self.submitted)}"
        return SimpleNamespace(
            name=name, status="Starting", studio_url=STUDIO + name, experiment_name="churn"
        )

    def stream(self, name):
        print(f"log of {name}")
        if self.stream_error is not None:
            raise self.stream_error
        if self.statuses[0] == "Failed":
            raise RuntimeError(f"Job {name} failed")

    def get(self, name):
        if self.get_errors:
            raise self.get_errors.pop(0)
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        return SimpleNamespace(name=name, status=status, studio_url=STUDIO + name)

    def download(self, name, download_path, output_name):
        folder = Path(download_path) / "named-outputs" / output_name
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(self.metrics))


class Assets:
    """Versioned assets (models, environments, data): list, get, create_or_update."""

    def __init__(self, versions=()):
        self.versions = list(versions)

    def list(self, name):
        return [v for v in self.versions if v.name == name]

    def get(self, name, version=None, label=None):
        matching = [v for v in self.list(name) if version in (None, v.version)]
        if not matching:
            raise ResourceNotFoundError(f"{name} not found")
        return max(matching, key=lambda v: int(v.version))

    def create_or_update(self, asset):
        existing = [
            v for v in self.list(asset.name) if asset.version and v.version == asset.version
        ]
        if existing:
            existing[0].tags = dict(asset.tags or {})
            return existing[0]
        version = str(len(self.list(asset.name)) + 1)
        stored = SimpleNamespace(
            name=asset.name,
            version=version,
            tags=dict(asset.tags or {}),
            properties=asset.properties,
        )
        self.versions.append(stored)
        return stored


def workspace(**parts):
    defaults = {"jobs": Jobs(), "models": Assets(), "environments": Assets(), "data": Assets()}
    return SimpleNamespace(**{**defaults, **parts})


# train


def submit(client, paths, *, sets=(), experiment=None, wait=True, metadata_out=None):
    job = train.load_job(paths.train, sets, experiment)
    return train.submit(client, job, wait, metadata_out)


def test_train_waits_and_writes_run_metadata(project, paths, tmp_path, capsys):
    client = workspace()
    metadata_out = tmp_path / "run.json"

    result = submit(client, paths, sets=("inputs.n_estimators=50",), metadata_out=metadata_out)

    assert result["status"] == "Completed"
    written = json.loads(metadata_out.read_text())
    assert written == {
        "job_name": "job_1",
        "status": "Completed",
        "studio_url": STUDIO + "job_1",
        "experiment": "churn",
        "outputs": {"model_output": "azureml://jobs/job_1/outputs/model_output/paths/"},
    }
    assert client.jobs.submitted[0].inputs["n_estimators"]._data == 50
    captured = capsys.readouterr()
    assert "log of job_1" in captured.err
    assert captured.out == ""


def test_train_fails_unless_the_job_completed(project, paths, tmp_path):
    client = workspace(jobs=Jobs(final_status="Failed"))
    metadata_out = tmp_path / "run.json"

    with pytest.raises(AzureFailure, match="job job_1 ended Failed"):
        submit(client, paths, metadata_out=metadata_out)

    assert json.loads(metadata_out.read_text())["status"] == "Failed"


def test_train_without_wait_returns_at_once(project, paths):
    result = submit(workspace(), paths, experiment="nightly", wait=False)

    assert result["status"] == "Starting"


def wait(jobs: Jobs) -> tuple[RunMetadata, list[float]]:
    """Wait for job_1 with ``jobs``; the pauses it took, without taking them."""
    pauses: list[float] = []
    started = RunMetadata("job_1", "Starting", STUDIO + "job_1", "churn")
    return train.wait_for_job(workspace(jobs=jobs), started, 15, pauses.append), pauses


DROPPED = ConnectionResetError("Connection aborted: the log stream was reset")


@pytest.mark.parametrize("final", ["Completed", "Failed", "Canceled"])
def test_a_dropped_log_stream_is_followed_by_polling_until_the_job_ends(final, capsys):
    jobs = Jobs(statuses=["Running", "Running", "Finalizing", final], stream_error=DROPPED)

    ended, pauses = wait(jobs)

    assert ended.status == final
    assert pauses == [15, 15, 15]
    err = capsys.readouterr().err
    assert "the log stream of job job_1 stopped: Connection aborted" in err
    assert "job job_1 is Running: checking its status every 15s until it ends" in err
    progress = [line for line in err.splitlines() if line.startswith("job job_1: ")]
    assert [line.split()[2] for line in progress] == ["Running", "Finalizing", final]


@pytest.mark.parametrize(("final", "exit_code"), [("Completed", 0), ("Failed", 1)])
def test_train_wait_exits_on_the_final_status_after_a_dropped_stream(
    mlops, project, paths, monkeypatch, final, exit_code
):
    client = workspace(jobs=Jobs(statuses=["Running", "Running", final], stream_error=DROPPED))
    monkeypatch.setattr(cli, "client", lambda: client)
    monkeypatch.setattr(train, "wait_for_job", functools.partial(train.wait_for_job, interval=0))

    result = mlops("train", paths.train, "--wait", "--metadata-out", "outputs/run.json")

    assert result.exit_code == exit_code, result.output
    assert json.loads(Path("outputs/run.json").read_text())["status"] == final
    assert f"job job_1: {final} after" in result.stderr
    if exit_code:
        assert f"mlops: job job_1 ended Failed: {STUDIO}job_1" in result.stderr
    else:
        assert json.loads(result.stdout)["status"] == "Completed"


def test_a_stream_that_ends_while_the_job_finalizes_waits_for_its_end(capsys):
    ended, pauses = wait(Jobs(statuses=["Finalizing", "Completed"]))

    assert (ended.status, pauses) == ("Completed", [15])
    assert "stopped" not in capsys.readouterr().err


def test_a_failed_job_raising_from_its_stream_is_not_polled(capsys):
    ended, pauses = wait(Jobs(final_status="Failed"))

    assert (ended.status, pauses) == ("Failed", [])
    assert "job job_1: Job job_1 failed" in capsys.readouterr().err


def test_reading_the_status_is_tried_again_after_an_error(capsys):
    jobs = Jobs(statuses=["Running", "Completed"], stream_error=DROPPED)
    jobs.get_errors = [ConnectionError("network down"), ConnectionError("network down")]

    ended, pauses = wait(jobs)

    assert ended.status == "Completed"
    assert pauses == [15, 15, 15]
    assert capsys.readouterr().err.count("could not read the status of job job_1") == 2


def test_waiting_gives_up_when_the_status_cannot_be_read(project, paths, tmp_path, monkeypatch):
    jobs = Jobs(statuses=["Running"], stream_error=DROPPED)
    jobs.get_errors = [ConnectionError("network down")] * train.STATUS_TRIES
    monkeypatch.setattr(train, "wait_for_job", functools.partial(train.wait_for_job, interval=0))
    metadata_out = tmp_path / "run.json"

    with pytest.raises(AzureFailure, match=r"could not read the status of job job_1 \(5 tries"):
        submit(workspace(jobs=jobs), paths, metadata_out=metadata_out)

    assert json.loads(metadata_out.read_text())["job_name"] == "job_1"


# register


def registration(*, min_metrics=("roc_auc=0.75",), compare=None):
    run = RunMetadata(
        "job_1", "Completed", None, "churn", {"model_output": "azureml://jobs/job_1/outputs/o/"}
    )
    return register.build_registration(
        run, "churn-model", "model_output", ("team=ds",), (), min_metrics, compare
    )


def production(version: str, roc_auc: str) -> SimpleNamespace:
    return SimpleNamespace(
        name="churn-model",
        version=version,
        tags={"stage": "production"},
        properties={"metric.roc_auc": roc_auc},
    )


def test_register_reads_the_jobs_metrics_and_records_them(tmp_path):
    client = workspace()
    metadata_out = tmp_path / "model.json"

    result = register.register(client, registration(), None, metadata_out)

    (model,) = client.models.versions
    assert (model.name, model.version, model.tags) == ("churn-model", "1", {"team": "ds"})
    assert model.properties["metric.roc_auc"] == "0.86"
    assert json.loads(metadata_out.read_text()) == {
        "name": "churn-model",
        "version": "1",
        "job_name": "job_1",
        "metrics": {"accuracy": 0.8, "roc_auc": 0.86},
    }
    assert result["gate"][0]["passed"] is True


def test_register_refuses_below_the_minimum_and_registers_nothing(tmp_path):
    client = workspace(jobs=Jobs(metrics={"roc_auc": 0.6}))

    with pytest.raises(GateRefused, match="roc_auc 0.6 is below the minimum 0.75"):
        register.register(client, registration(), None, tmp_path / "model.json")

    assert client.models.versions == []
    assert not (tmp_path / "model.json").exists()


@pytest.mark.parametrize(("production_auc", "registered"), [("0.80", True), ("0.90", False)])
def test_register_compares_with_production(production_auc, registered):
    client = workspace(models=Assets([production("3", production_auc)]))

    if registered:
        register.register(client, registration(compare="roc_auc"), None, None)
    else:
        with pytest.raises(GateRefused, match="not better than production churn-model:3"):
            register.register(client, registration(compare="roc_auc"), None, None)

    assert len(client.models.versions) == (2 if registered else 1)


def test_register_only_a_completed_job():
    client = workspace(jobs=Jobs(final_status="Running"))

    with pytest.raises(AzureFailure, match="job job_1 is Running"):
        register.register(client, registration(), None, None)


# apply


def test_apply_creates_a_version_once_per_content(project, paths, capsys):
    client = workspace()

    first = apply.apply(client, [paths.environment, paths.data])
    second = apply.apply(client, [paths.environment, paths.data])

    assert [r["result"] for r in first["applied"]] == ["applied", "applied"]
    assert [r["result"] for r in second["applied"]] == ["unchanged", "unchanged"]
    assert len(client.environments.versions) == 1
    assert len(client.data.versions) == 1

    conda_file = paths.train_conda
    conda_file.write_text(conda_file.read_text() + "  - numpy\n")
    third = apply.apply(client, [paths.environment])
    assert third["applied"][0] == {**third["applied"][0], "result": "applied", "version": "2"}


def test_apply_keeps_the_live_traffic_of_an_endpoint(project, paths):
    updated = []
    endpoints = SimpleNamespace(
        get=lambda name: SimpleNamespace(traffic={"blue": 100}),
        begin_create_or_update=lambda endpoint: updated.append(endpoint) or Done(endpoint),
    )
    client = workspace(online_endpoints=endpoints)

    apply.apply(client, [paths.endpoint])

    assert updated[0].traffic == {"blue": 100}


class Done:
    """A finished long-running operation."""

    def __init__(self, result):
        self._result = result

    def done(self):
        return True

    def result(self):
        return self._result


# deploy


class OnlineService:
    """Online endpoints and deployments of a workspace: the calls the rollout makes."""

    def __init__(self, traffic=None, smoke_answer='{"predictions": [0]}'):
        self.endpoint = SimpleNamespace(traffic=dict(traffic)) if traffic is not None else None
        self.deployments = {name: SimpleNamespace(name=name) for name in (traffic or {})}
        self.smoke_answer = smoke_answer
        self.calls = []

    # online_endpoints
    def get(self, name):
        if self.endpoint is None:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return SimpleNamespace(name=name, traffic=dict(self.endpoint.traffic))

    def begin_create_or_update(self, entity):
        if hasattr(entity, "instance_type"):
            self.calls.append(("create deployment", entity.name, entity.model))
            self.deployments[entity.name] = entity
        else:
            self.calls.append(("put endpoint", dict(entity.traffic or {})))
            self.endpoint = SimpleNamespace(traffic=dict(entity.traffic or {}))
        return Done(entity)

    def invoke(self, endpoint_name, request_file, deployment_name):
        self.calls.append(("invoke", deployment_name))
        return self.smoke_answer

    # online_deployments
    def list(self, endpoint_name):
        return list(self.deployments.values())

    def begin_delete(self, name, endpoint_name):
        self.calls.append(("delete", name))
        del self.deployments[name]
        return Done(None)


DEPLOYED_MODEL = ModelMetadata("churn-model", "4")


def rollout_target(paths, model=DEPLOYED_MODEL):
    return deploy.load_target(
        paths.endpoint, paths.deployment, "churn-stg-x1", model, paths.sample_request
    )


def test_deploy_rolls_out_blue_to_green(project, paths):
    service = OnlineService(traffic={"blue": 100})
    client = workspace(online_endpoints=service, online_deployments=service)

    result = deploy.deploy(client, rollout_target(paths), (100,), 0, None)

    assert result["deployment"] == "green"
    assert service.calls == [
        ("create deployment", "green", "azureml:churn-model:4"),
        ("invoke", "green"),
        ("put endpoint", {"green": 100, "blue": 0}),
        ("delete", "blue"),
    ]
    assert set(service.deployments) == {"green"}


def test_deploy_creates_a_missing_endpoint(project, paths):
    service = OnlineService()
    client = workspace(online_endpoints=service, online_deployments=service)

    deploy.deploy(client, rollout_target(paths), (100,), 0, None)

    assert service.calls[0] == ("put endpoint", {})
    assert service.endpoint.traffic == {"blue": 100}


def test_deploy_with_failing_smoke_test_leaves_traffic_alone(project, paths):
    service = OnlineService(traffic={"blue": 100}, smoke_answer='{"error": "no model"}')
    client = workspace(online_endpoints=service, online_deployments=service)

    with pytest.raises(AzureFailure, match="answered with an error: no model"):
        deploy.deploy(client, rollout_target(paths), (100,), 0, None)

    assert service.endpoint.traffic == {"blue": 100}
    assert set(service.deployments) == {"blue"}


def test_deploy_tags_the_model_with_its_stage(project, paths):
    models = Assets([production("3", "0.8"), production("4", "0.9")])
    models.versions[1].tags = {}
    service = OnlineService(traffic={"blue": 100})
    client = workspace(online_endpoints=service, online_deployments=service, models=models)

    deploy.deploy(client, rollout_target(paths), (100,), 0, "production")

    assert [v.tags.get("stage") for v in models.versions] == [None, "production"]
