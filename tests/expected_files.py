"""The exact files a bake produces: the common ones, plus the CI/CD files of the chosen provider."""

from __future__ import annotations

from ci_providers import CI_FILES_BY_PROVIDER
from matrix import TEMPLATE_CONTEXT

COMMON_FILES = frozenset(
    """
    .gitignore
    .python-version
    Makefile
    README.md
    pyproject.toml
    sample-data/customers.csv
    aml/compute.yml
    aml/data.yml
    aml/environment.yml
    aml/workspace.yml
    docs/mlops.md
    docs/scoring.md
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
    mlops/output.py
    mlops/payloads.py
    mlops/register.py
    mlops/rollout.py
    mlops/specs.py
    mlops/train.py
    mlops/validate.py
    mlops/workspace.py
    models/model1/.amlignore
    models/model1/aml_config/inference-conda.yml
    models/model1/aml_config/train-amlcompute.yml
    models/model1/aml_config/train-conda.yml
    models/model1/aml_config/train-local.yml
    models/model1/deployment/deployment.yml
    models/model1/deployment/endpoint.yml
    models/model1/deployment/sample-request.json
    models/model1/score.py
    models/model1/serve_local.py
    models/model1/tests/conftest.py
    models/model1/tests/test_score.py
    models/model1/tests/test_score_properties.py
    models/model1/tests/test_train.py
    models/model1/train.py
    tests/conftest.py
    tests/live/test_workspace_flow.py
    tests/test_azure_commands.py
    tests/test_bench_score.py
    tests/test_console_script.py
    tests/test_dry_run.py
    tests/test_gate_and_metadata.py
    tests/test_rollout.py
    tests/test_validate.py
    tests/test_workspace.py
    tools/bench_score.py
    tools/noop_score.py
    """.split()
)


def expected_files(ci_provider: str | None) -> set[str]:
    return set(COMMON_FILES | CI_FILES_BY_PROVIDER[ci_provider or TEMPLATE_CONTEXT["ci_provider"]])
