"""The generated project's operations CLI (`mlops`): validate and the dry runs work offline in
every baked project. (The project's own mlops tests run in test_generated_project.py.)"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

from conftest import project_env, run
from hook_modules import model_pre_gen, pre_gen
from locations import TEMPLATE_DIR
from make_variables import model_variables
from matrix import SUPPORTED, SUPPORTED_BY_ID

# Runs mlops commands in the project environment, each in its project folder, through click as the
# console script runs it: all of them in one interpreter, since azure-ai-ml takes seconds to import.
# The mlops of the first project runs them all, which is every bake's own: mlops/ is the same in
# every bake (test_every_bake_has_the_templates_mlops).
COMMANDS_DRIVER = """
import json, os, sys
from click.testing import CliRunner
from mlops.cli import main
results = []
for folder, args in json.loads(sys.argv[1]):
    os.chdir(folder)
    run = CliRunner().invoke(main, args)
    results.append({"exit_code": run.exit_code, "stdout": run.stdout, "stderr": run.stderr})
print(json.dumps(results))
"""
RETRAIN_DRY_RUN = ("apply", "models/model1/aml_config/retrain-schedule.yml", "--dry-run")
REGISTRY_DRY_RUN = ("--env", "prod", "apply", "aml/registry.yml", "--dry-run")
# As `make promote` runs it, for a version of the model's registered name ({MODEL_NAME}, from its
# model.mk) into the registry of the answers ({REGISTRY}).
PROMOTE_DRY_RUN = (
    "--env",
    "dev",
    "promote",
    "--model",
    "{MODEL_NAME}:1",
    "--registry",
    "{REGISTRY}",
    "--min-metric",
    "{GATE}",
    "--dry-run",
)
# In the bakes with an online deployment, which its model monitor watches.
MONITOR_DRY_RUN = ("--env", "prod", "apply", "models/model1/monitoring/monitor.yml", "--dry-run")
DRY_RUNS = (
    ("validate",),
    ("apply", "aml/compute.yml", "--dry-run"),
    ("train", "models/model1/aml_config/train-amlcompute.yml", "--dry-run"),
    RETRAIN_DRY_RUN,
    ("train", "models/model1/aml_config/train-pipeline.yml", "--dry-run"),
    ("train", "models/model1/aml_config/sweep.yml", "--dry-run"),
    REGISTRY_DRY_RUN,
    PROMOTE_DRY_RUN,
)
WORKSPACE = (
    "/subscriptions/<AZURE_SUBSCRIPTION_ID>/resourceGroups/<AZURE_RESOURCE_GROUP>/providers/"
    "Microsoft.MachineLearningServices/workspaces/<AZUREML_WORKSPACE_NAME>"
)


def mlops_commands(runs: list[tuple[Path, tuple[str, ...]]], project_python: Path) -> list[dict]:
    """The result of each (project folder, mlops arguments)."""
    first_project = runs[0][0]
    result = run(
        [
            project_python,
            "-c",
            COMMANDS_DRIVER,
            json.dumps([[str(folder), list(args)] for folder, args in runs]),
        ],
        cwd=first_project,
        env=project_env(project_python),
    )
    return json.loads(result.stdout)


def commands_of(bake_id: str, names: dict[str, str]) -> list[tuple[str, ...]]:
    """The commands run in a bake: DRY_RUNS, and those of its deployment kinds."""
    deployment = SUPPORTED_BY_ID[bake_id].answers.get("deployment", "online")
    kinds = DEPLOYMENT_KINDS.get(deployment, [])
    deployments = [args for kind in kinds for args in DEPLOYMENT_DRY_RUNS[kind]]
    return [with_names(args, names) for args in [*DRY_RUNS, *deployments]]


def with_names(args: tuple[str, ...], names: dict[str, str]) -> tuple[str, ...]:
    return tuple(arg.format(**names) for arg in args)


@pytest.fixture(scope="session")
def offline_commands(baked_project, project_python, tmp_path_factory, worker_id):
    """bake id -> {"answers", "names" (of models/model1/model.mk), "results" (command -> result)}:
    every command of every bake run once per test session, by the first worker that asks, and
    read by the others."""
    shared = tmp_path_factory.getbasetemp()
    cache = (shared.parent if worker_id != "master" else shared) / "offline-mlops-commands.json"
    with FileLock(str(cache) + ".lock"):
        if not cache.exists():
            cache.write_text(json.dumps(run_offline_commands(baked_project, project_python)))
    return json.loads(cache.read_text(encoding="utf-8"))


def run_offline_commands(baked_project, project_python) -> dict:
    bakes = {}
    runs = []
    for bake_case in SUPPORTED:
        project = baked_project(bake_case.id)
        names = {**model_variables(project.path), "REGISTRY": project.answers["registry_name"]}
        commands = commands_of(bake_case.id, names)
        bakes[bake_case.id] = {"answers": project.answers, "names": names, "commands": commands}
        runs.extend((project.path, command) for command in commands)
    results = iter(mlops_commands(runs, project_python))
    for bake in bakes.values():
        bake["results"] = {" ".join(command): next(results) for command in bake.pop("commands")}
    return bakes


def results_of(offline_commands, bake_id: str) -> tuple[dict, list[dict]]:
    """(answers, the results of DRY_RUNS) in a bake."""
    bake = offline_commands[bake_id]
    commands = [with_names(command, bake["names"]) for command in DRY_RUNS]
    return bake["answers"], [bake["results"][" ".join(command)] for command in commands]


def test_every_bake_has_the_templates_mlops(bake):
    template = sorted((TEMPLATE_DIR / "mlops").glob("*.py"))
    for bake_case in SUPPORTED:
        project = bake(bake_case.id)
        for module in template:
            assert (project / "mlops" / module.name).read_bytes() == module.read_bytes()
        assert len(list((project / "mlops").glob("*.py"))) == len(template)


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_validate_passes_on_a_fresh_bake(offline_commands, bake_case):
    _, (validated, *_) = results_of(offline_commands, bake_case.id)

    assert validated["exit_code"] == 0, validated
    assert validated["stdout"] == ""
    assert "no problems" in validated["stderr"]


def training_environment(answers: dict) -> str:
    return (
        f"{WORKSPACE}/environments/{answers['project_slug']}-model1-train-env/versions/"
        "<latest version, resolved when sent>"
    )


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_dry_runs_carry_the_answers(offline_commands, bake_case):
    answers, (_, applied, trained, *_) = results_of(offline_commands, bake_case.id)
    compute_name = answers["compute_name"]
    assert applied["exit_code"] == trained["exit_code"] == 0, (applied, trained)

    applied = json.loads(applied["stdout"])
    (compute,) = applied["requests"]
    assert compute["resource"] == f"computes/{compute_name}"
    assert compute["body"]["properties"]["properties"]["vmSize"] == answers["vm_size"]
    scale = compute["body"]["properties"]["properties"]["scaleSettings"]
    assert scale["maxNodeCount"] == int(answers["max_nodes"])
    assert applied["workspace"] == {
        "subscription_id": None,
        "resource_group": None,
        "workspace_name": None,
    }

    job = json.loads(trained["stdout"])["requests"][0]["body"]["properties"]
    assert job["computeId"] == f"{WORKSPACE}/computes/{compute_name}"
    assert job["experimentName"] == answers["experiment_name"]
    assert job["environmentId"] == training_environment(answers)


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_pipeline_and_sweep_dry_runs_carry_the_answers(offline_commands, bake_case):
    answers, (*_, pipeline, sweep, _, _) = results_of(offline_commands, bake_case.id)
    assert pipeline["exit_code"] == sweep["exit_code"] == 0, (pipeline, sweep)
    compute = f"{WORKSPACE}/computes/{answers['compute_name']}"

    *components, submitted = json.loads(pipeline["stdout"])["requests"]
    job = submitted["body"]["properties"]
    assert job["settings"]["default_compute"] == compute
    assert job["experimentName"] == answers["experiment_name"]
    assert job["inputs"]["model_name"]["value"] == answers["model_name"]
    assert len(components) == len(job["jobs"]) == 4
    for component in components:
        # A component refers to its environment as azureml:<resource id>.
        assert component["body"]["properties"]["componentSpec"]["environment"] == (
            f"azureml:{training_environment(answers)}"
        )
        assert component["uploads"] == [
            {"field": "properties.componentSpec.code", "local_path": "models/model1"}
        ]

    (submitted,) = json.loads(sweep["stdout"])["requests"]
    job = submitted["body"]["properties"]
    assert job["computeId"] == compute
    assert job["experimentName"] == answers["experiment_name"]
    assert job["trial"]["environmentId"] == training_environment(answers)
    assert job["limits"]["maxConcurrentTrials"] == int(answers["max_nodes"])
    assert submitted["uploads"] == [
        {"field": "properties.trial.codeId", "local_path": "models/model1"}
    ]


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_the_retraining_schedule_runs_the_pipeline_on_the_answered_cron(
    offline_commands, bake_case
):
    bake = offline_commands[bake_case.id]
    answers, applied = bake["answers"], bake["results"][" ".join(RETRAIN_DRY_RUN)]
    assert applied["exit_code"] == 0, applied

    *components, schedule = json.loads(applied["stdout"])["requests"]
    assert schedule["resource"] == f"schedules/{answers['project_slug']}-model1-retraining"
    properties = schedule["body"]["properties"]
    assert properties["trigger"] == {
        "triggerType": "Cron",
        "expression": answers["retrain_cron"],
        "timeZone": "UTC",
    }
    job = properties["action"]["jobDefinition"]
    assert job["jobType"] == "Pipeline"
    assert job["settings"]["default_compute"] == f"{WORKSPACE}/computes/{answers['compute_name']}"
    assert list(job["jobs"]) == ["prep", "train", "evaluate", "register"]
    assert len(components) == len(job["jobs"])


@pytest.mark.parametrize("bake_case", SUPPORTED, ids=lambda b: b.id)
def test_the_registry_and_the_promotion_carry_the_answers(offline_commands, bake_case):
    bake = offline_commands[bake_case.id]
    answers, results = bake["answers"], bake["results"]
    registry = answers["registry_name"]
    created = results[" ".join(REGISTRY_DRY_RUN)]
    promoted = results[" ".join(with_names(PROMOTE_DRY_RUN, bake["names"]))]
    assert created["exit_code"] == promoted["exit_code"] == 0, (created, promoted)

    created = json.loads(created["stdout"])
    assert created["environment"] == "prod"
    assert created["workspace"]["resource_group"] == answers["prod_resource_group"]
    assert created["workspace"]["workspace_name"] == answers["prod_workspace_name"]
    (put,) = created["requests"]
    assert put["resource"].endswith(
        f"/resourceGroups/{answers['prod_resource_group']}"
        f"/providers/Microsoft.MachineLearningServices/registries/{registry}"
    )
    assert put["body"]["location"] == answers["azure_location"]
    regions = put["body"]["properties"]["regionDetails"]
    assert [region["location"] for region in regions] == [answers["azure_location"]]

    promoted = json.loads(promoted["stdout"])
    model = answers["model_name"]
    assert promoted["environment"] == "dev"
    assert promoted["workspace"]["workspace_name"] == answers["workspace_name"]
    assert promoted["model_id"] == f"azureml://registries/{registry}/models/{model}/versions/1"
    metric, minimum = bake["names"]["GATE"].split("=")
    assert promoted["checked_when_sent"][0] == f"{metric} >= {float(minimum):g}"
    assert promoted["requests"][-1]["resource"].endswith(f"/registries/{registry}/import")


ONLINE_BAKES = [b for b in SUPPORTED if b.answers.get("deployment", "online") in ("online", "both")]


@pytest.mark.parametrize("bake_case", ONLINE_BAKES, ids=lambda b: b.id)
def test_the_monitor_dry_run_carries_the_alert_address_target_and_signals(
    offline_commands, bake_case
):
    bake = offline_commands[bake_case.id]
    answers, names = bake["answers"], bake["names"]
    applied = bake["results"][" ".join(MONITOR_DRY_RUN)]
    assert applied["exit_code"] == 0, applied

    (monitor,) = json.loads(applied["stdout"])["requests"]
    assert monitor["resource"] == f"schedules/{answers['project_slug']}-model1-monitoring"
    definition = monitor["body"]["properties"]["action"]["monitorDefinition"]
    production = (
        f"/subscriptions/<AZURE_SUBSCRIPTION_ID>/resourceGroups/{answers['prod_resource_group']}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{answers['prod_workspace_name']}"
    )
    assert definition["monitoringTarget"]["deploymentId"] == (
        f"{production}/onlineEndpoints/{names['PRODUCTION_ENDPOINT']}/deployments/blue"
    )
    signals = definition["signals"]
    assert {name: signal["signalType"] for name, signal in signals.items()} == {
        "data_drift": "DataDrift",
        "prediction_drift": "PredictionDrift",
        "data_quality": "DataQuality",
    }
    table = f"{answers['project_slug']}-sample-data-table"
    for signal in signals.values():
        assert f"/data/{table}/versions/" in signal["referenceData"]["uri"]
    alerts = definition["alertNotificationSetting"]["emailNotificationSetting"]
    assert alerts["emails"] == [answers["alert_email"]]


def name_rules_of_mlops(project: Path) -> dict[str, str]:
    """NAME_RULES of the generated mlops/naming.py: rule name -> regex source, read without
    importing the module."""
    tree = ast.parse((project / "mlops" / "naming.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NAME_RULES":
            sources = [value.elts[0].args[0] for value in node.value.values]
            return ast.literal_eval(ast.Dict(keys=node.value.keys, values=sources))
    raise AssertionError("mlops/naming.py has no NAME_RULES")


def test_mlops_checks_names_by_the_same_rules_as_the_hooks(default_project):
    assert name_rules_of_mlops(default_project) == {
        "compute": pre_gen.COMPUTE_PATTERN,
        "endpoint": pre_gen.ENDPOINT_PATTERN,
        "asset": pre_gen.ASSET_PATTERN,
        "experiment": pre_gen.EXPERIMENT_PATTERN,
        "registry": pre_gen.REGISTRY_PATTERN,
        "model": model_pre_gen.MODEL_PATTERN,
    }


def first_bake_deploying(deployment: str) -> str:
    return next(b.id for b in SUPPORTED if b.answers.get("deployment", "online") == deployment)


# The dry runs of each deployment kind, as make's deploy targets run them in production: a version
# of the model's registered name ({MODEL_NAME}, from its model.mk) from the registry ({REGISTRY}).
DEPLOYMENT_DRY_RUNS = {
    "online": [
        (
            "--env",
            "prod",
            "deploy",
            "--endpoint",
            "models/model1/deployment/endpoint.yml",
            "--deployment",
            "models/model1/deployment/deployment.yml",
            "--model",
            "{MODEL_NAME}:1",
            "--registry",
            "{REGISTRY}",
            "--dry-run",
        ),
        MONITOR_DRY_RUN,
    ],
    "batch": [
        (
            "--env",
            "prod",
            "deploy-batch",
            "--endpoint",
            "models/model1/deployment/batch-endpoint.yml",
            "--deployment",
            "models/model1/deployment/batch-deployment.yml",
            "--model",
            "{MODEL_NAME}:1",
            "--registry",
            "{REGISTRY}",
            "--smoke-input",
            "sample-data",
            "--dry-run",
        ),
        ("--env", "prod", "apply", "models/model1/deployment/batch-schedule.yml", "--dry-run"),
    ],
}
DEPLOYMENT_KINDS = {"online": ["online"], "batch": ["batch"], "both": ["online", "batch"]}


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENT_KINDS))
def test_deployment_dry_runs_carry_the_answers(offline_commands, deployment):
    bake = offline_commands[first_bake_deploying(deployment)]
    answers, names = bake["answers"], bake["names"]
    compute = f"/computes/{answers['compute_name']}"
    kinds = DEPLOYMENT_KINDS[deployment]
    in_registry = f"azureml://registries/{answers['registry_name']}/models/{names['MODEL_NAME']}"
    for args in (args for kind in kinds for args in DEPLOYMENT_DRY_RUNS[kind]):
        args = with_names(args, names)
        result = bake["results"][" ".join(args)]
        assert result["exit_code"] == 0, (args, result)
        document = json.loads(result["stdout"])
        assert document["workspace"]["workspace_name"] == answers["prod_workspace_name"]
        bodies = json.dumps([request["body"] for request in document["requests"]])
        if args == MONITOR_DRY_RUN:
            continue  # test_the_monitor_dry_run_carries_the_alert_address_target_and_signals
        if args[2].startswith("deploy"):
            assert f'"{in_registry}/versions/1"' in bodies
        if args[2] == "deploy":
            assert document["plan"]["endpoint"] == names["PRODUCTION_ENDPOINT"]
        elif args[2] == "deploy-batch":
            assert document["plan"]["endpoint"] == names["PRODUCTION_BATCH_ENDPOINT"]
            assert compute in bodies
        else:
            (schedule,) = [
                r for r in document["requests"] if r["resource"].startswith("schedules/")
            ]
            assert names["PRODUCTION_BATCH_ENDPOINT"] in bodies and compute in bodies
            assert schedule["resource"].endswith(
                f"{answers['project_slug']}-model1-nightly-scoring"
            )


def test_a_project_that_deploys_nothing_has_no_deployment_target(baked_project):
    project = baked_project(first_bake_deploying("none")).path
    for target in (
        "deploy-staging",
        "promote",
        "deploy-online-staging",
        "deploy-batch-staging",
        "invoke-batch",
    ):
        result = subprocess.run(
            ["make", "--dry-run", target], cwd=project, capture_output=True, text=True, check=False
        )
        assert result.returncode != 0, target
        assert "No rule to make target" in result.stderr
