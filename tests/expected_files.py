"""The exact files a bake produces, by CI/CD provider."""

from __future__ import annotations

COMMON_FILES = frozenset(
    """
    .gitignore
    .python-version
    Makefile
    README.md
    pyproject.toml
    sample-data/customers.csv
    aml/workspace.yml
    aml/compute.yml
    aml/environment.yml
    aml/data.yml
    models/model1/.amlignore
    models/model1/train.py
    models/model1/score.py
    models/model1/serve_local.py
    models/model1/aml_config/train-conda.yml
    models/model1/aml_config/inference-conda.yml
    models/model1/aml_config/train-local.yml
    models/model1/aml_config/train-amlcompute.yml
    models/model1/deployment/endpoint.yml
    models/model1/deployment/deployment.yml
    models/model1/deployment/sample-request.json
    """.split()
)

GITHUB_ACTIONS_FILES = frozenset()
AZURE_DEVOPS_FILES = frozenset()

CI_FILES_BY_PROVIDER = {
    "github-actions": GITHUB_ACTIONS_FILES,
    "azure-devops": AZURE_DEVOPS_FILES,
    "both": GITHUB_ACTIONS_FILES | AZURE_DEVOPS_FILES,
    "none": frozenset(),
}
DEFAULT_CI_PROVIDER = "github-actions"


def expected_files(ci_provider: str | None) -> set[str]:
    return set(COMMON_FILES | CI_FILES_BY_PROVIDER[ci_provider or DEFAULT_CI_PROVIDER])
