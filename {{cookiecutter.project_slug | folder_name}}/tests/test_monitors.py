"""Model monitoring: the monitor schedule of each model's production online deployment (its
dry run, what validate checks in it, the deployment it watches when applied) and the table of
the training data it compares production with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops import cli
from mlops.monitors import follow_live_deployment, live_deployment
from mlops.specs import load_spec
from tests import azure_flows as flows
from tests.spec_files import assert_validate_names, edit, problem_lines, set_field

WORKSPACE = (
    "/subscriptions/<AZURE_SUBSCRIPTION_ID>/resourceGroups/<AZURE_RESOURCE_GROUP>"
    "/providers/Microsoft.MachineLearningServices/workspaces/<AZUREML_WORKSPACE_NAME>"
)
TARGET = "create_monitor.monitoring_target.endpoint_deployment_id"
SIGNALS = ("data_drift", "prediction_drift", "data_quality")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def target_of(monitor: dict) -> tuple[str, str]:
    endpoint, _, deployment = (
        monitor["create_monitor"]["monitoring_target"]["endpoint_deployment_id"]
        .removeprefix("azureml:")
        .partition(":")
    )
    return endpoint, deployment


def test_the_monitor_watches_the_production_deployment_of_the_model(paths):
    monitor = load(paths.root / paths.monitor)
    endpoint, deployment = target_of(monitor)
    assert endpoint == load(paths.root / paths.endpoint)["name"]
    assert deployment == load(paths.root / paths.deployment)["name"]
    signals = monitor["create_monitor"]["monitoring_signals"]
    assert {name: signal["type"] for name, signal in signals.items()} == {s: s for s in SIGNALS}
    table = load(paths.root / paths.table)
    for signal in signals.values():
        reference = signal["reference_data"]
        assert reference["input_data"] == {
            "path": f"azureml:{table['name']}@latest",
            "type": "mltable",
        }
        assert reference["data_context"] == "training"
        assert signal["alert_enabled"] is True


def test_apply_dry_run_shows_the_monitor_with_its_target_signals_and_alerts(
    dry_run, project, paths
):
    monitor, table = load(paths.monitor), load(paths.table)
    endpoint, deployment = target_of(monitor)

    (request,) = dry_run("apply", paths.monitor)["requests"]

    assert (request["method"], request["resource"]) == ("PUT", f"schedules/{monitor['name']}")
    properties = request["body"]["properties"]
    assert properties["trigger"] == {
        "triggerType": "Cron",
        "expression": monitor["trigger"]["expression"],
        "timeZone": "UTC",
    }
    definition = properties["action"]["monitorDefinition"]
    assert definition["monitoringTarget"] == {
        "taskType": "classification",
        "deploymentId": f"{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/{deployment}",
    }
    assert definition["computeConfiguration"]["computeType"] == "ServerlessSpark"
    signals = definition["signals"]
    assert {name: signal["signalType"] for name, signal in signals.items()} == {
        "data_drift": "DataDrift",
        "prediction_drift": "PredictionDrift",
        "data_quality": "DataQuality",
    }
    table_id = f"{WORKSPACE}/data/{table['name']}/versions/<latest version, resolved when sent>"
    for name, signal in signals.items():
        assert signal["mode"] == "Enabled"
        assert signal["referenceData"]["uri"] == table_id, name
        assert signal["referenceData"]["jobInputType"] == "mltable"
        assert signal["referenceData"]["columns"] == {"target_column": "churned"}
        spec_thresholds = monitor["create_monitor"]["monitoring_signals"][name]["metric_thresholds"]
        thresholds = signal["metricThresholds"]
        sent = {(t["dataType"].lower(), t["threshold"]["value"]) for t in thresholds}
        assert sent == {
            (data_type, value)
            for data_type, metrics in spec_thresholds.items()
            for value in metrics.values()
        }
    alerts = definition["alertNotificationSetting"]
    assert alerts["alertNotificationType"] == "Email"
    emails = monitor["create_monitor"]["alert_notification"]["emails"]
    assert alerts["emailNotificationSetting"]["emails"] == emails


def test_apply_dry_run_of_the_table_uploads_the_sample_data_folder(dry_run, project, paths):
    (request,) = dry_run("apply", paths.table)["requests"]

    assert request["body"]["properties"]["dataType"] == "mltable"
    assert request["uploads"] == [{"field": "properties.dataUri", "local_path": "sample-data"}]


def test_the_tables_mltable_file_reads_every_csv_file_of_its_folder(paths):
    import pandas as pd
    from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

    folder = ((paths.root / paths.table).parent / load(paths.root / paths.table)["path"]).resolve()
    mltable_file = folder / "MLTable"
    metadata = MLTableMetadata._load(load(mltable_file), mltable_file)
    (pattern,) = metadata.referenced_uris()
    files = sorted(folder.glob(pattern.removeprefix("./")))
    assert files == sorted(folder.glob("*.csv")) and files
    (read,) = metadata.transformations
    options = read["read_delimited"]
    frame = pd.concat([pd.read_csv(path, sep=options["delimiter"]) for path in files])
    assert "churned" in frame.columns and len(frame) > 0


def spec_target(spec: dict) -> str:
    return spec["create_monitor"]["monitoring_target"]["endpoint_deployment_id"]


def reference(spec: dict) -> dict:
    """The reference data of the data drift signal."""
    signal = spec["create_monitor"]["monitoring_signals"]["data_drift"]
    return signal["reference_data"]["input_data"]


# The data asset of the training data as files (aml/data.yml), which is no table.
FOLDER_ASSET = load(Path(__file__).resolve().parents[1] / "aml" / "data.yml")["name"]
REFERENCE_FIELD = "create_monitor.monitoring_signals.data_drift.reference_data.input_data"

BROKEN_MONITORS = {
    "a deployment the endpoint has no spec of": (
        "monitor",
        lambda spec: set_field(spec, TARGET, spec_target(spec).replace(":blue", ":purple")),
        f'{TARGET}: "purple" names no online deployment spec of endpoint',
    ),
    "no deployment": (
        "monitor",
        lambda spec: set_field(spec, TARGET, spec_target(spec).rpartition(":")[0]),
        f"{TARGET}: ",
    ),
    "an endpoint the project does not define": (
        "monitor",
        lambda spec: set_field(spec, TARGET, "azureml:elsewhere-endpoint:blue"),
        f'{TARGET}: "elsewhere-endpoint" names no online endpoint of this project',
    ),
    "a folder asset as the reference": (
        "monitor",
        lambda spec: reference(spec).update(path=f"azureml:{FOLDER_ASSET}@latest"),
        f'{REFERENCE_FIELD}.path: "{FOLDER_ASSET}" is a uri_folder data asset',
    ),
    "a reference typed as a folder": (
        "monitor",
        lambda spec: reference(spec).update(type="uri_folder"),
        f'{REFERENCE_FIELD}.type: is "uri_folder"',
    ),
    "a table folder without its MLTable": (
        "table",
        lambda spec: spec.update(path="../aml"),
        "path: ../aml holds no MLTable file",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MONITORS))
def test_validate_names_the_field_of_a_broken_monitor(mlops, project, paths, case):
    spec_name, change, expected = BROKEN_MONITORS[case]
    spec = getattr(paths, spec_name)
    edit(spec, change)

    assert_validate_names(mlops, spec, expected)


def test_a_target_without_a_deployment_says_what_it_must_be(mlops, project, paths):
    edit(paths.monitor, lambda spec: set_field(spec, TARGET, spec_target(spec).rpartition(":")[0]))

    lines = problem_lines(mlops("validate"))

    assert any("must be azureml:<endpoint>:<deployment>" in line for line in lines), lines


@pytest.mark.parametrize(
    ("named", "traffic", "watched"),
    [
        ("blue", None, "blue"),
        ("blue", {}, "blue"),
        ("blue", {"blue": 100}, "blue"),
        ("blue", {"blue": 0, "green": 100}, "green"),
        ("blue", {"blue": 10, "green": 90}, "blue"),
        ("blue", {"green": 30, "red": 70}, "red"),
        ("blue", {"green": 50, "red": 50}, "green"),
    ],
)
def test_the_monitor_follows_the_deployment_with_the_traffic(named, traffic, watched):
    assert live_deployment(named, traffic) == watched


def monitor_entity(paths):
    _, schedule = load_spec(paths.root / paths.monitor, expected=["schedule"])
    return schedule


def test_applied_after_a_rollout_to_green_the_monitor_watches_green(azure, mlops, project, paths):
    monitor, table = load(paths.monitor), load(paths.table)
    endpoint, _ = target_of(monitor)
    flows.endpoint_state(azure, endpoint, {"blue": 0, "green": 100})
    azure.serve(
        "monitors/collecting-deployment.json", endpoint_name=endpoint, deployment_name="green"
    )
    azure.serve("monitors/signal-data.json", table_name=table["name"])
    azure.serve("monitors/create.json", schedule_name=monitor["name"])

    result = mlops("apply", paths.monitor)

    assert result.exit_code == 0, result.output
    assert f"schedule {monitor['name']}: watches deployment green" in result.stderr
    (sent,) = azure.requests("PUT", f"/schedules/{monitor['name']}")
    definition = sent.json()["properties"]["action"]["monitorDefinition"]
    target = definition["monitoringTarget"]["deploymentId"]
    assert target.endswith(f"/onlineEndpoints/{endpoint}/deployments/green")
    signals = definition["signals"]
    assert {name: signal["productionData"]["dataContext"] for name, signal in signals.items()} == {
        "data_drift": "model_inputs",
        "prediction_drift": "model_outputs",
        "data_quality": "model_inputs",
    }
    for signal in signals.values():
        assert signal["referenceData"]["uri"].endswith(f"/data/{table['name']}/versions/2")
    emails = definition["alertNotificationSetting"]["emailNotificationSetting"]["emails"]
    assert emails == monitor["create_monitor"]["alert_notification"]["emails"]


def test_before_the_first_rollout_the_monitor_keeps_the_deployment_of_its_spec(azure, paths):
    schedule = monitor_entity(paths)
    endpoint, deployment = target_of(load(paths.root / paths.monitor))
    azure.serve("online-endpoints/missing.json", endpoint_name=endpoint)

    assert follow_live_deployment(cli.client().online_endpoints, schedule) == deployment
    target = schedule.create_monitor.monitoring_target.endpoint_deployment_id
    assert target == f"azureml:{endpoint}:{deployment}"
