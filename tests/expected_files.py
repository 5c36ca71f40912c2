"""The exact files a bake produces: the shared ones, the model template, the first model, and the
CI/CD files of the chosen provider."""

from __future__ import annotations

from ci_providers import CI_FILES_BY_PROVIDER
from matrix import TEMPLATE_CONTEXT

# What every model folder holds, relative to models/<name>/: the project template renders model1
# from model_template/, and `make add-model` renders every other one from the same template.
MODEL_FILES = frozenset(
    """
    .amlignore
    model.mk
    train.py
    score.py
    aml_config/environment.yml
    aml_config/inference-conda.yml
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
    deployment/deployment.yml
    deployment/endpoint.yml
    deployment/sample-request.json
    tests/conftest.py
    tests/test_pipeline.py
    tests/test_score.py
    tests/test_train.py
    """.split()
)
MODEL_TEMPLATE = "model_template"
MODEL_TEMPLATE_FILES = frozenset(
    {
        f"{MODEL_TEMPLATE}/cookiecutter.json",
        f"{MODEL_TEMPLATE}/hooks/pre_gen_project.py",
        f"{MODEL_TEMPLATE}/render_model.py",
        f"{MODEL_TEMPLATE}/template_extensions.py",
    }
    | {f"{MODEL_TEMPLATE}/{{{{cookiecutter.model}}}}/{name}" for name in MODEL_FILES}
)


def model_files(model: str) -> set[str]:
    return {f"models/{model}/{name}" for name in MODEL_FILES}


SHARED_FILES = frozenset(
    """
    .gitignore
    .python-version
    Makefile
    README.md
    pyproject.toml
    sample-data/customers.csv
    aml/compute.yml
    aml/data.yml
    aml/workspace.yml
    docs/adding-a-model.md
    docs/mlops.md
    docs/training-at-scale.md
    mlops/__init__.py
    mlops/__main__.py
    mlops/apply.py
    mlops/cli.py
    mlops/deploy.py
    mlops/doctor.py
    mlops/errors.py
    mlops/gate.py
    mlops/invoke.py
    mlops/metadata.py
    mlops/models.py
    mlops/output.py
    mlops/payloads.py
    mlops/register.py
    mlops/rollout.py
    mlops/specs.py
    mlops/train.py
    mlops/validate.py
    mlops/workspace.py
    tests/conftest.py
    tests/live/test_workspace_flow.py
    tests/test_azure_commands.py
    tests/test_console_script.py
    tests/test_dry_run.py
    tests/test_gate_and_metadata.py
    tests/test_rollout.py
    tests/test_validate.py
    tests/test_workspace.py
    tools/run_pipeline_local.py
    tools/serve_local.py
    """.split()
)
COMMON_FILES = SHARED_FILES | MODEL_TEMPLATE_FILES | model_files("model1")


def expected_files(ci_provider: str | None) -> set[str]:
    return set(COMMON_FILES | CI_FILES_BY_PROVIDER[ci_provider or TEMPLATE_CONTEXT["ci_provider"]])
