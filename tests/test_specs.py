"""Every Azure ML spec of a baked project loads with azure-ai-ml's loader for its kind and carries
the answers it was baked with; the training job's command runs the project's train.py as written;
the pipeline's steps, its components and the sweep's trial run the model's own scripts."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from azure.ai.ml import (
    load_component,
    load_compute,
    load_data,
    load_environment,
    load_job,
    load_online_deployment,
    load_online_endpoint,
    load_registry,
    load_workspace,
)
from azure.ai.ml.entities._load_functions import (
    load_batch_endpoint,
    load_model_batch_deployment,
    load_schedule,
)

from conftest import BakedProject, project_env, run
from expected_files import DEFAULT_DEPLOYMENT, MODEL_TEMPLATE, deploys_batch, deploys_online
from make_variables import model_variables
from matrix import SUPPORTED

SCHEMA_URL = re.compile(
    r"https://azuremlschemas\.azureedge\.net/latest/(?P<kind>\w+)\.schema\.json"
)

# A spec whose $schema names a kind missing here fails: add its loader and its checks below.
LOADERS_BY_KIND: dict[str, Callable] = {
    "workspace": load_workspace,
    "registry": load_registry,
    "amlCompute": load_compute,
    "environment": load_environment,
    "data": load_data,
    "commandJob": load_job,
    "pipelineJob": load_job,
    "sweepJob": load_job,
    "commandComponent": load_component,
    "managedOnlineEndpoint": load_online_endpoint,
    "managedOnlineDeployment": load_online_deployment,
    "batchEndpoint": load_batch_endpoint,
    "modelBatchDeployment": load_model_batch_deployment,
    "schedule": load_schedule,
}

# Folders that hold Azure ML YAML: each YAML file there is a spec, except the conda files.
MODEL = "model1"
MODEL_DIR = f"models/{MODEL}"
SPEC_FOLDERS = (
    "aml",
    f"{MODEL_DIR}/aml_config",
    f"{MODEL_DIR}/components",
    f"{MODEL_DIR}/deployment",
    f"{MODEL_DIR}/monitoring",
)
PIPELINE_STEPS = ("prep", "train", "evaluate", "register")
HYPERPARAMETERS = {"n_estimators", "max_depth", "learning_rate"}
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}")
PARENT_JOB_OUTPUT = re.compile(r"\$\{\{parent\.jobs\.(?P<step>\w+)\.outputs\.(?P<output>\w+)\}\}")
TRAINING_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
TRAINING_COMMAND_START = (
    "python train.py --data-path ${{inputs.training_data}} --output-dir ${{outputs.model_output}}"
)
COMMAND_BINDING = re.compile(r"\$\{\{(?P<side>inputs|outputs)\.(?P<name>\w+)\}\}")


@pytest.fixture(scope="module", params=[bake.id for bake in SUPPORTED])
def baked(request, baked_project) -> BakedProject:
    return baked_project(request.param)


def schema_kind(spec: Path) -> str | None:
    """The kind named by the spec's first line `$schema: <url>`, or None for a file without one."""
    first_line = spec.read_text(encoding="utf-8").partition("\n")[0].strip()
    if not first_line.startswith("$schema:"):
        return None
    match = SCHEMA_URL.fullmatch(first_line.removeprefix("$schema:").strip())
    if match is None:
        pytest.fail(f"{spec}: $schema is not an Azure ML schema URL: {first_line}")
    return match["kind"]


def yaml_files(project: Path) -> list[Path]:
    """The project's YAML files, but those of its model template (a template, not specs)."""
    template = project / MODEL_TEMPLATE
    return sorted(
        p
        for p in project.rglob("*")
        if p.suffix in (".yml", ".yaml") and p.is_file() and template not in p.parents
    )


def relative(path: Path, project: Path) -> str:
    return path.relative_to(project).as_posix()


def load_spec(spec: Path, project: Path):
    """Load the spec with the loader of the kind its $schema names; fail naming file and error."""
    kind = schema_kind(spec)
    if kind is None:
        pytest.fail(f"{relative(spec, project)}: does not start with its $schema line")
    if kind not in LOADERS_BY_KIND:
        pytest.fail(
            f"{relative(spec, project)}: $schema kind {kind!r} has no loader in LOADERS_BY_KIND"
        )
    loader = LOADERS_BY_KIND[kind]
    try:
        return loader(spec)
    except Exception as error:  # noqa: BLE001 - any loader error is the finding
        problem = f"{relative(spec, project)}: {loader.__name__} failed: {error}"
    pytest.fail(problem)


def resolved(spec: Path, path: str) -> Path:
    """A path written in a spec, which azure-ai-ml resolves against the spec's folder."""
    return (spec.parent / path).resolve()


def registered(loaded: str, spec: Path, *keys: str) -> str:
    """The name of the registered asset or compute a spec refers to at ``keys``. The spec writes
    the azureml: prefix (without it a path is read as local); the loader keeps it on some fields
    only."""
    written = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for key in keys:
        written = written[key]
    assert written.startswith("azureml:"), f"{'.'.join(keys)}: {written!r} lacks azureml:"
    assert loaded.removeprefix("azureml:") == written.removeprefix("azureml:")
    return written.removeprefix("azureml:")


def conda_file(project: BakedProject, name: str) -> dict:
    path = project.path / MODEL_DIR / "aml_config" / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def inference_image(python_version: str) -> str:
    return f"mcr.microsoft.com/azureml/minimal-py{python_version.replace('.', '')}-inference:latest"


def check_workspace(workspace, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert workspace.name == answers["workspace_name"]
    assert workspace.resource_group == answers["resource_group"]
    assert workspace.location == answers["azure_location"]
    assert workspace.display_name == answers["project_name"]
    assert workspace.description == answers["description"]
    assert workspace.tags == {"project": answers["project_slug"], "owner": answers["author"]}


def check_registry(registry, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert registry.name == answers["registry_name"]
    assert registry.location == answers["azure_location"]
    assert [region.location for region in registry.replication_locations] == [
        answers["azure_location"]
    ]
    assert answers["project_name"] in registry.description
    assert registry.tags == {"project": answers["project_slug"], "owner": answers["author"]}


def check_compute(compute, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert compute.type == "amlcompute"
    assert compute.name == answers["compute_name"]
    assert compute.size == answers["vm_size"]
    assert compute.min_instances == 0
    assert compute.max_instances == int(answers["max_nodes"])
    assert compute.idle_time_before_scale_down > 0
    assert answers["project_name"] in compute.description


def training_environment_name(project: BakedProject) -> str:
    return f"{project.answers['project_slug']}-{MODEL}-train-env"


def check_training_environment(environment, spec: Path, project: BakedProject) -> None:
    assert environment.name == training_environment_name(project)
    assert environment.tags == {"project": project.answers["project_slug"], "model": MODEL}
    assert environment.image == TRAINING_IMAGE
    assert environment.conda_file == conda_file(project, "train-conda.yml")
    assert project.answers["project_name"] in environment.description


def check_data(data, spec: Path, project: BakedProject) -> None:
    assert data.name == f"{project.answers['project_slug']}-sample-data"
    assert data.type == "uri_folder"
    assert Path(data.path).resolve() == project.path / "sample-data"
    assert list(Path(data.path).glob("*.csv")), f"{data.path} holds no CSV file"
    assert project.answers["project_name"] in data.description


def check_sample_data_table(data, spec: Path, project: BakedProject) -> None:
    """The sample data as a table: the folder of aml/data.yml, read by its MLTable file."""
    assert data.name == f"{project.answers['project_slug']}-sample-data-table"
    assert data.type == "mltable"
    folder = Path(data.path).resolve()
    assert folder == project.path / "sample-data"
    table = yaml.safe_load((folder / "MLTable").read_text(encoding="utf-8"))
    (path,) = table["paths"]
    assert sorted(folder.glob(path["pattern"].removeprefix("./"))) == sorted(folder.glob("*.csv"))
    (read,) = table["transformations"]
    assert read["read_delimited"]["header"] == "all_files_same_headers"


def check_training_job(job, spec: Path, project: BakedProject) -> None:
    """What both training jobs share: the script, its bindings, the answers they carry."""
    answers = project.answers
    assert job.type == "command"
    assert job.experiment_name == answers["experiment_name"]
    assert job.description == answers["description"]
    assert answers["project_name"] in job.display_name
    assert resolved(spec, job.code) == project.path / MODEL_DIR
    assert job.command.startswith(TRAINING_COMMAND_START)
    bindings = {(m["side"], m["name"]) for m in COMMAND_BINDING.finditer(job.command)}
    declared = {("inputs", name) for name in job.inputs} | {
        ("outputs", name) for name in job.outputs
    }
    assert bindings == declared, "every input and output is passed to train.py, and only those"
    assert job.inputs["training_data"].type == "uri_folder"
    assert job.outputs["model_output"].type == "uri_folder"


def check_local_training_job(job, spec: Path, project: BakedProject) -> None:
    check_training_job(job, spec, project)
    assert job.compute == "local"
    assert resolved(spec, job.inputs["training_data"].path) == project.path / "sample-data"
    assert job.environment.image == TRAINING_IMAGE
    assert job.environment.conda_file == conda_file(project, "train-conda.yml")


def check_cluster_training_job(job, spec: Path, project: BakedProject) -> None:
    check_training_job(job, spec, project)
    slug = project.answers["project_slug"]
    data = registered(job.inputs["training_data"].path, spec, "inputs", "training_data", "path")
    assert data == f"{slug}-sample-data@latest"
    environment = registered(job.environment, spec, "environment")
    assert environment == f"{training_environment_name(project)}@latest"
    assert registered(job.compute, spec, "compute") == project.answers["compute_name"]


def bindings_of(command: str) -> set[tuple[str, str]]:
    return {(m["side"], m["name"]) for m in COMMAND_BINDING.finditer(command)}


def script_of(command: str, code: Path) -> Path:
    """The file `python <script>` or `python -m <module>` runs, in the code folder."""
    program, first, second, *_ = shlex.split(command)
    assert program == "python"
    return code / (f"{second.replace('.', '/')}.py" if first == "-m" else first)


def check_component(component, spec: Path, project: BakedProject) -> None:
    """A pipeline step: named by the model, in its training environment, running its own script
    with every input and output it declares."""
    slug, step = project.answers["project_slug"], spec.stem
    assert component.type == "command"
    assert component.name == f"{slug}_{MODEL}_{step}".replace("-", "_")
    assert COMPONENT_NAME.fullmatch(component.name)
    environment = registered(component.environment, spec, "environment")
    assert environment == f"{training_environment_name(project)}@latest"
    code = resolved(spec, component.code)
    assert code == project.path / MODEL_DIR
    assert script_of(component.command, code).is_file()
    declared = {("inputs", name) for name in component.inputs}
    declared |= {("outputs", name) for name in component.outputs}
    assert bindings_of(component.command) == declared, "every input and output is used"


def check_training_pipeline(pipeline, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert pipeline.type == "pipeline"
    assert pipeline.experiment_name == answers["experiment_name"]
    assert pipeline.description == answers["description"]
    assert answers["project_name"] in pipeline.display_name
    default_compute = registered(
        pipeline.settings.default_compute, spec, "settings", "default_compute"
    )
    assert default_compute == answers["compute_name"]
    assert pipeline.settings.continue_on_step_failure is False
    assert list(pipeline.jobs) == list(PIPELINE_STEPS)
    written = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for step, job in written["jobs"].items():
        assert (
            resolved(spec, job["component"]) == project.path / MODEL_DIR / f"components/{step}.yml"
        )
        for binding in job.get("inputs", {}).values():
            reference = PARENT_JOB_OUTPUT.fullmatch(str(binding))
            if reference:
                assert reference["step"] in written["jobs"]
                assert reference["output"] in pipeline.jobs[reference["step"]].component.outputs
    inputs = {name: value.result() for name, value in pipeline.inputs.items()}
    data = registered(inputs["raw_data"].path, spec, "inputs", "raw_data", "path")
    assert data == f"{answers['project_slug']}-sample-data@latest"
    assert inputs["model_name"] == answers["model_name"]
    assert written["jobs"]["train"]["outputs"]["model_output"] == "${{parent.outputs.model_output}}"
    assert pipeline.outputs["model_output"].type == "uri_folder"
    command_job = load_job(spec.parent / "train-amlcompute.yml")
    assert {name: inputs[name] for name in HYPERPARAMETERS} == hyperparameters(command_job)


def check_sweep(sweep, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert sweep.type == "sweep"
    assert sweep.experiment_name == answers["experiment_name"]
    assert answers["project_name"] in sweep.display_name
    assert registered(sweep.compute, spec, "compute") == answers["compute_name"]
    environment = registered(sweep.trial.environment, spec, "trial", "environment")
    assert environment == f"{training_environment_name(project)}@latest"
    assert sweep.trial.command.startswith(TRAINING_COMMAND_START)
    assert script_of(sweep.trial.command, resolved(spec, sweep.trial.code)).is_file()
    assert set(sweep.search_space) == HYPERPARAMETERS
    for name in HYPERPARAMETERS:
        flag = "--" + name.replace("_", "-")
        assert f"{flag} ${{{{search_space.{name}}}}}" in sweep.trial.command
    assert (sweep.objective.goal, sweep.objective.primary_metric) == ("maximize", "roc_auc")
    assert sweep.sampling_algorithm in ("random", "bayesian")
    assert sweep.early_termination.type in ("bandit", "median_stopping")
    assert sweep.limits.max_concurrent_trials == int(answers["max_nodes"])
    assert sweep.limits.max_total_trials >= sweep.limits.max_concurrent_trials
    assert sweep.limits.timeout > 0
    assert sweep.outputs["model_output"].type == "uri_folder"


def check_online_endpoint(endpoint, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert endpoint.name == answers["online_endpoint_name"]
    assert endpoint.auth_mode == "key"
    assert answers["project_name"] in endpoint.description
    assert answers["description"] in endpoint.description


def check_online_deployment(deployment, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert deployment.name == "blue"
    assert deployment.endpoint_name == answers["online_endpoint_name"]
    assert registered(deployment.model, spec, "model") == f"{answers['model_name']}@latest"
    code = resolved(spec, deployment.code_configuration.code)
    assert code == project.path / MODEL_DIR
    assert (code / deployment.code_configuration.scoring_script).is_file()
    assert deployment.environment.image == inference_image(answers["python_version"])
    assert deployment.environment.conda_file == conda_file(project, "inference-conda.yml")
    assert deployment.instance_type == "Standard_DS3_v2"
    assert deployment.instance_count == 1
    assert deployment.request_settings.request_timeout_ms > 0
    assert deployment.liveness_probe.initial_delay > 0
    assert deployment.readiness_probe.failure_threshold > 0
    assert deployment.app_insights_enabled is True
    collections = deployment.data_collector.collections
    assert {name: str(c.enabled).lower() for name, c in collections.items()} == {
        "model_inputs": "true",
        "model_outputs": "true",
    }


def check_batch_endpoint(endpoint, spec: Path, project: BakedProject) -> None:
    assert endpoint.name == model_variables(project.path)["PRODUCTION_BATCH_ENDPOINT"]
    assert endpoint.auth_mode == "aad_token"
    assert project.answers["project_name"] in endpoint.description
    assert endpoint.tags == {"project": project.answers["project_slug"], "model": MODEL}


def check_batch_deployment(deployment, spec: Path, project: BakedProject) -> None:
    answers = project.answers
    assert deployment.name == "blue"
    assert deployment.endpoint_name == model_variables(project.path)["PRODUCTION_BATCH_ENDPOINT"]
    assert registered(deployment.model, spec, "model") == f"{answers['model_name']}@latest"
    code = resolved(spec, deployment.code_configuration.code)
    assert code == project.path / MODEL_DIR
    assert deployment.code_configuration.scoring_script == "batch_score.py"
    assert (code / "batch_score.py").is_file()
    assert deployment.environment.image == TRAINING_IMAGE
    assert deployment.environment.conda_file == conda_file(project, "batch-conda.yml")
    assert registered(deployment.compute, spec, "compute") == answers["compute_name"]
    settings = deployment.settings
    assert (settings.output_action, settings.output_file_name) == ("append_row", "predictions.csv")
    assert settings.mini_batch_size >= 1 and settings.max_concurrency_per_instance >= 1
    assert settings.retry_settings.max_retries >= 1 and settings.retry_settings.timeout > 0
    assert settings.error_threshold == 0
    assert settings.logging_level == "info"


def check_batch_schedule(schedule, spec: Path, project: BakedProject) -> None:
    assert str(schedule.trigger.type.value).lower() == "cron"
    assert schedule.trigger.expression == "0 2 * * *"
    job = schedule.create_job
    assert job.type == "pipeline"
    assert job.settings.force_rerun is True
    (step,) = job.jobs.values()
    endpoint = model_variables(project.path)["PRODUCTION_BATCH_ENDPOINT"]
    assert f"--endpoint {endpoint}" in step.command
    assert "mlops invoke-batch" in step.command
    assert resolved(spec, step.component.code) == project.path


def check_retrain_schedule(schedule, spec: Path, project: BakedProject) -> None:
    assert str(schedule.trigger.type.value).lower() == "cron"
    assert schedule.trigger.expression == project.answers["retrain_cron"]
    assert schedule.trigger.time_zone == "UTC"
    job = schedule.create_job
    assert job.type == "pipeline"
    assert list(job.jobs) == ["prep", "train", "evaluate", "register"]
    assert job.settings.continue_on_step_failure is False


def check_monitor_schedule(schedule, spec: Path, project: BakedProject) -> None:
    """The model monitor of the production online deployment, alerting the answered address."""
    assert type(schedule).__name__ == "MonitorSchedule"
    assert str(schedule.trigger.type.value).lower() == "cron"
    assert schedule.trigger.time_zone == "UTC"
    monitor = schedule.create_monitor
    deployment = load_spec(project.path / MODEL_DIR / "deployment" / "deployment.yml", project.path)
    assert monitor.monitoring_target.endpoint_deployment_id == (
        f"azureml:{project.answers['online_endpoint_name']}:{deployment.name}"
    )
    assert monitor.monitoring_target.ml_task == "classification"
    assert monitor.compute.instance_type and monitor.compute.runtime_version
    signals = monitor.monitoring_signals
    assert {name: signal.type for name, signal in signals.items()} == {
        "data_drift": "data_drift",
        "prediction_drift": "prediction_drift",
        "data_quality": "data_quality",
    }
    table = f"{project.answers['project_slug']}-sample-data-table@latest"
    for signal in signals.values():
        assert signal.reference_data.input_data.path.removeprefix("azureml:") == table
        assert signal.reference_data.input_data.type == "mltable"
        assert signal.reference_data.data_column_names == {"target_column": "churned"}
        assert signal.alert_enabled is True
    assert monitor.alert_notification.emails == [project.answers["alert_email"]]


def check_nightly_batch_job(job, spec: Path, project: BakedProject) -> None:
    assert job.type == "pipeline"
    assert job.experiment_name == project.answers["experiment_name"]
    assert job.inputs["scoring_data"]._data == (
        f"azureml:{project.answers['project_slug']}-sample-data@latest"
    )
    assert (
        str(job.settings.default_compute).removeprefix("azureml:")
        == (project.answers["compute_name"])
    )


CHECKS_BY_SPEC: dict[str, Callable] = {
    "aml/workspace.yml": check_workspace,
    "aml/registry.yml": check_registry,
    "aml/compute.yml": check_compute,
    f"{MODEL_DIR}/aml_config/environment.yml": check_training_environment,
    "aml/data.yml": check_data,
    "aml/sample-data-table.yml": check_sample_data_table,
    f"{MODEL_DIR}/aml_config/train-local.yml": check_local_training_job,
    f"{MODEL_DIR}/aml_config/train-amlcompute.yml": check_cluster_training_job,
    f"{MODEL_DIR}/aml_config/train-pipeline.yml": check_training_pipeline,
    f"{MODEL_DIR}/aml_config/sweep.yml": check_sweep,
    f"{MODEL_DIR}/aml_config/retrain-schedule.yml": check_retrain_schedule,
    **{f"{MODEL_DIR}/components/{step}.yml": check_component for step in PIPELINE_STEPS},
    f"{MODEL_DIR}/deployment/endpoint.yml": check_online_endpoint,
    f"{MODEL_DIR}/deployment/deployment.yml": check_online_deployment,
    f"{MODEL_DIR}/deployment/batch-endpoint.yml": check_batch_endpoint,
    f"{MODEL_DIR}/deployment/batch-deployment.yml": check_batch_deployment,
    f"{MODEL_DIR}/deployment/batch-schedule.yml": check_batch_schedule,
    f"{MODEL_DIR}/deployment/nightly-batch-job.yml": check_nightly_batch_job,
    f"{MODEL_DIR}/monitoring/monitor.yml": check_monitor_schedule,
}
ONLINE_SPECS = {
    f"{MODEL_DIR}/deployment/endpoint.yml",
    f"{MODEL_DIR}/deployment/deployment.yml",
    f"{MODEL_DIR}/monitoring/monitor.yml",
}
BATCH_SPECS = {
    f"{MODEL_DIR}/deployment/{name}"
    for name in ("batch-endpoint.yml", "batch-deployment.yml", "batch-schedule.yml")
} | {f"{MODEL_DIR}/deployment/nightly-batch-job.yml"}


def specs_of(project: BakedProject) -> set[str]:
    """The specs CHECKS_BY_SPEC has for the bake: those of the deployment kinds it selects."""
    deployment = project.answers.get("deployment", DEFAULT_DEPLOYMENT)
    unselected = (set() if deploys_online(deployment) else ONLINE_SPECS) | (
        set() if deploys_batch(deployment) else BATCH_SPECS
    )
    return set(CHECKS_BY_SPEC) - unselected


def test_every_azure_ml_spec_is_known_and_starts_with_its_schema(baked):
    for path in yaml_files(baked.path):
        if path.parent.relative_to(baked.path).as_posix() in SPEC_FOLDERS:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            is_conda_file = isinstance(document, dict) and "dependencies" in document
            assert is_conda_file or schema_kind(path), f"{relative(path, baked.path)}: no $schema"
    specs = {relative(path, baked.path) for path in yaml_files(baked.path) if schema_kind(path)}
    assert specs == specs_of(baked), "each spec needs its checks in CHECKS_BY_SPEC"


@pytest.mark.parametrize("spec", sorted(CHECKS_BY_SPEC))
def test_spec_loads_and_carries_the_answers(baked, spec):
    if spec not in specs_of(baked):
        pytest.skip("a spec of a deployment kind this bake does not select")
    path = baked.path / spec
    entity = load_spec(path, baked.path)
    CHECKS_BY_SPEC[spec](entity, path, baked)


def test_schema_of_an_unknown_kind_is_refused(tmp_path):
    spec = tmp_path / "feature-store.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/featureStore.schema.json\n"
        "name: churn-features\n",
        encoding="utf-8",
    )
    with pytest.raises(pytest.fail.Exception, match="'featureStore' has no loader"):
        load_spec(spec, tmp_path)


def test_both_training_jobs_run_the_same_command_with_the_same_hyperparameters(baked):
    config = baked.path / MODEL_DIR / "aml_config"
    local_job = load_spec(config / "train-local.yml", baked.path)
    cluster_job = load_spec(config / "train-amlcompute.yml", baked.path)
    assert local_job.command == cluster_job.command
    assert hyperparameters(local_job) == hyperparameters(cluster_job)


def hyperparameters(job) -> dict:
    return {
        name: value.default
        for name, value in job.component.inputs.items()
        if name != "training_data"
    }


def test_local_job_command_trains_a_model_with_train_py(default_project, project_python, tmp_path):
    """The job's command, its bindings replaced as Azure ML replaces them, runs train.py."""
    spec = default_project / MODEL_DIR / "aml_config" / "train-local.yml"
    job = load_spec(spec, default_project)
    output_dir = tmp_path / "model_output"
    values = {("outputs", "model_output"): str(output_dir)}
    values[("inputs", "training_data")] = str(resolved(spec, job.inputs["training_data"].path))
    values |= {("inputs", name): str(value) for name, value in hyperparameters(job).items()}
    program, *arguments = (
        COMMAND_BINDING.sub(lambda m: values[(m["side"], m["name"])], word)
        for word in shlex.split(job.command)
    )
    assert program == "python"
    run(
        [project_python, *arguments],
        cwd=resolved(spec, job.code),
        env=project_env(project_python),
    )
    metrics = json.loads((output_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == {"accuracy", "roc_auc", "f1"}
    assert (output_dir / "model.pkl").is_file()
