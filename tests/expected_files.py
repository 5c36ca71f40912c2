"""The exact files a bake produces: the shared ones, the model template, the first model, and the
CI/CD files of the chosen provider, each as far as the `deployment` answer selects them."""

from __future__ import annotations

from ci_providers import CI_FILES_BY_PROVIDER
from matrix import TEMPLATE_CONTEXT

# What every model folder holds, relative to models/<name>/: the project template renders model1
# from model_template/, and `make add-model` renders every other one from the same template.
MODEL_FILES = frozenset(
    """
    .amlignore
    README.md
    model.mk
    train.py
    score.py
    aml_config/environment.yml
    aml_config/retrain-schedule.yml
    aml_config/sweep.yml
    aml_config/train-amlcompute.yml
    aml_config/train-conda.yml
    aml_config/train-local.yml
    aml_config/train-pipeline.yml
    components/__init__.py
    components/evaluate.py
    components/evaluate.yml
    components/prep.py
    components/prep.yml
    components/register.py
    components/register.yml
    components/train.yml
    deployment/sample-request.json
    tests/conftest.py
    tests/test_pipeline.py
    tests/test_score.py
    tests/test_score_collection.py
    tests/test_score_properties.py
    tests/test_train.py
    """.split()
)
# The production online deployment's model monitoring (monitoring/monitor.yml) goes with it.
ONLINE_MODEL_FILES = frozenset(
    {
        "deployment/deployment.yml",
        "deployment/endpoint.yml",
        "aml_config/inference-conda.yml",
        "monitoring/monitor.yml",
    }
)
BATCH_MODEL_FILES = frozenset(
    """
    batch_score.py
    aml_config/batch-conda.yml
    aml_config/mlops-conda.yml
    deployment/batch-deployment.yml
    deployment/batch-endpoint.yml
    deployment/batch-schedule.yml
    deployment/nightly-batch-job.yml
    tests/test_batch_score.py
    """.split()
)
DEFAULT_DEPLOYMENT = TEMPLATE_CONTEXT["deployment"]
MODEL_TEMPLATE = "model_template"
MODEL_TEMPLATE_FILES = frozenset(
    {
        f"{MODEL_TEMPLATE}/cookiecutter.json",
        f"{MODEL_TEMPLATE}/hooks/pre_gen_project.py",
        f"{MODEL_TEMPLATE}/hooks/post_gen_project.py",
        f"{MODEL_TEMPLATE}/render_model.py",
        f"{MODEL_TEMPLATE}/template_extensions.py",
    }
    | {
        f"{MODEL_TEMPLATE}/{{{{cookiecutter.model}}}}/{name}"
        for name in MODEL_FILES | ONLINE_MODEL_FILES | BATCH_MODEL_FILES
    }
)


def deploys_online(deployment: str) -> bool:
    return deployment in ("online", "both")


def deploys_batch(deployment: str) -> bool:
    return deployment in ("batch", "both")


def model_files(model: str, deployment: str = DEFAULT_DEPLOYMENT) -> set[str]:
    names = set(MODEL_FILES)
    names |= ONLINE_MODEL_FILES if deploys_online(deployment) else set()
    names |= BATCH_MODEL_FILES if deploys_batch(deployment) else set()
    return {f"models/{model}/{name}" for name in names}


SHARED_FILES = frozenset(
    """
    .gitignore
    .python-version
    Makefile
    README.md
    pyproject.toml
    sample-data/MLTable
    sample-data/customers.csv
    aml/compute.yml
    aml/data.yml
    aml/registry.yml
    aml/sample-data-table.yml
    aml/workspace.yml
    docs/adding-a-model.md
    docs/adding-an-asset-kind.md
    docs/mlops.md
    docs/promotion.md
    docs/scoring.md
    docs/training-at-scale.md
    mlops/__init__.py
    mlops/__main__.py
    mlops/apply.py
    mlops/batch.py
    mlops/catalog.py
    mlops/cli.py
    mlops/deploy.py
    mlops/doctor.py
    mlops/errors.py
    mlops/expressions.py
    mlops/gate.py
    mlops/invoke.py
    mlops/kinds.py
    mlops/limits.py
    mlops/links.py
    mlops/metadata.py
    mlops/models.py
    mlops/monitors.py
    mlops/naming.py
    mlops/output.py
    mlops/payloads.py
    mlops/progress.py
    mlops/promote.py
    mlops/register.py
    mlops/rollout.py
    mlops/scripts.py
    mlops/specs.py
    mlops/train.py
    mlops/validate.py
    mlops/workspace.py
    tests/azure_flows.py
    tests/azure_responses/README.md
    tests/azure_responses/code/create.json
    tests/azure_responses/code/existing.json
    tests/azure_responses/code/start-upload.json
    tests/azure_responses/components/create.json
    tests/azure_responses/compute/create-fails.json
    tests/azure_responses/compute/create.json
    tests/azure_responses/compute/update.json
    tests/azure_responses/data/create.json
    tests/azure_responses/data/latest.json
    tests/azure_responses/data/missing.json
    tests/azure_responses/datastores/workspaceartifactstore.json
    tests/azure_responses/datastores/workspaceblobstore.json
    tests/azure_responses/environments/conflict.json
    tests/azure_responses/environments/container.json
    tests/azure_responses/environments/create.json
    tests/azure_responses/environments/latest.json
    tests/azure_responses/environments/missing.json
    tests/azure_responses/jobs/cancel.json
    tests/azure_responses/jobs/children.json
    tests/azure_responses/jobs/create.json
    tests/azure_responses/jobs/get-dropped.json
    tests/azure_responses/jobs/get.json
    tests/azure_responses/jobs/missing.json
    tests/azure_responses/jobs/pipeline-create.json
    tests/azure_responses/jobs/pipeline-get.json
    tests/azure_responses/jobs/run-details-ctrl-c.json
    tests/azure_responses/jobs/run-details-dropped.json
    tests/azure_responses/jobs/run-details.json
    tests/azure_responses/jobs/sweep-create.json
    tests/azure_responses/jobs/sweep-get.json
    tests/azure_responses/jobs/unknown-compute.json
    tests/azure_responses/models/container-missing.json
    tests/azure_responses/models/container.json
    tests/azure_responses/models/create-refused.json
    tests/azure_responses/models/create.json
    tests/azure_responses/models/get.json
    tests/azure_responses/models/list.json
    tests/azure_responses/models/missing.json
    tests/azure_responses/online-deployments/create-fails.json
    tests/azure_responses/online-deployments/create.json
    tests/azure_responses/online-deployments/delete.json
    tests/azure_responses/online-endpoints/create.json
    tests/azure_responses/online-endpoints/deployments.json
    tests/azure_responses/online-endpoints/get.json
    tests/azure_responses/online-endpoints/keys.json
    tests/azure_responses/online-endpoints/missing.json
    tests/azure_responses/online-endpoints/token.json
    tests/azure_responses/online-endpoints/update-conflict.json
    tests/azure_responses/online-endpoints/update.json
    tests/azure_responses/registries/discovery.json
    tests/azure_responses/registries/existing-model.json
    tests/azure_responses/registries/share-model.json
    tests/azure_responses/scoring/answer.json
    tests/azure_responses/storage/download-blob.json
    tests/azure_responses/storage/get-blob.json
    tests/azure_responses/storage/list-blobs.json
    tests/azure_responses/storage/list-no-blobs.json
    tests/azure_responses/storage/upload.json
    tests/azure_responses/workspace/discovery.json
    tests/azure_responses/workspace/get.json
    tests/azure_responses/workspace/unauthorized.json
    tests/conftest.py
    tests/job_specs.py
    tests/live/steps.py
    tests/live/test_workspace_flow.py
    tests/scripted_azure.py
    tests/spec_files.py
    tests/test_apply.py
    tests/test_bench_score.py
    tests/test_console_script.py
    tests/test_dry_run.py
    tests/test_environments.py
    tests/test_errors.py
    tests/test_expressions.py
    tests/test_gate_and_metadata.py
    tests/test_jobs.py
    tests/test_kinds.py
    tests/test_limits.py
    tests/test_links.py
    tests/test_models_cli.py
    tests/test_monitors.py
    tests/test_live_steps.py
    tests/test_output.py
    tests/test_pipeline_and_sweep_jobs.py
    tests/test_promote.py
    tests/test_register.py
    tests/test_rollout.py
    tests/test_scripted_azure.py
    tests/test_serve_local.py
    tests/test_validate.py
    tests/test_workspace.py
    tools/bench_score.py
    tools/bench_validate.py
    tools/noop_score.py
    tools/run_pipeline_local.py
    tools/serve_local.py
    """.split()
)
ONLINE_FILES = frozenset(
    """
    docs/monitoring.md
    tests/test_deploy.py
    tests/test_invoke.py
    tests/azure_responses/monitors/collecting-deployment.json
    tests/azure_responses/monitors/create.json
    tests/azure_responses/monitors/signal-data.json
    """.split()
)
BATCH_FILES = frozenset(
    """
    docs/batch-scoring.md
    tools/batch_local.py
    tests/test_batch.py
    tests/azure_responses/batch-deployments/create-fails.json
    tests/azure_responses/batch-deployments/create.json
    tests/azure_responses/batch-deployments/list.json
    tests/azure_responses/batch-endpoints/create.json
    tests/azure_responses/batch-endpoints/get.json
    tests/azure_responses/batch-endpoints/missing.json
    tests/azure_responses/batch-endpoints/update.json
    tests/azure_responses/batch-jobs/get.json
    tests/azure_responses/batch-jobs/invoke.json
    """.split()
)
# The CI/CD files that deploy, which a project that deploys nothing does not have.
DEPLOYING_CI_FILES = frozenset(
    {
        ".github/workflows/deploy.yml",
        ".github/workflows/rollout.yml",
        ".azure-pipelines/templates/deploy-job.yml",
    }
)


def expected_files(answers: dict) -> set[str]:
    deployment = answers.get("deployment", DEFAULT_DEPLOYMENT)
    files = set(SHARED_FILES | MODEL_TEMPLATE_FILES | model_files("model1", deployment))
    files |= ONLINE_FILES if deploys_online(deployment) else set()
    files |= BATCH_FILES if deploys_batch(deployment) else set()
    files |= CI_FILES_BY_PROVIDER[answers.get("ci_provider", TEMPLATE_CONTEXT["ci_provider"])]
    return files - DEPLOYING_CI_FILES if deployment == "none" else files
