"""The CI/CD files a bake holds for each `ci_provider` choice, relative to the project root."""

from __future__ import annotations

GITHUB_ACTIONS_FILES = frozenset(
    {
        ".github/actions/setup/action.yml",
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/train.yml",
        ".github/workflows/deploy.yml",
        ".github/workflows/rollout.yml",
        "docs/ci-cd-github.md",
    }
)
AZURE_DEVOPS_FILES = frozenset(
    {
        ".azure-pipelines/ci.yml",
        ".azure-pipelines/train-deploy.yml",
        ".azure-pipelines/templates/azure-make.yml",
        ".azure-pipelines/templates/ci-job.yml",
        ".azure-pipelines/templates/deploy-job.yml",
        ".azure-pipelines/templates/model-stages.yml",
        ".azure-pipelines/templates/models-job.yml",
        ".azure-pipelines/templates/setup-steps.yml",
        ".azure-pipelines/templates/train-job.yml",
        "docs/ci-cd-azure-devops.md",
    }
)
CI_FILES_BY_PROVIDER = {
    "github-actions": GITHUB_ACTIONS_FILES,
    "azure-devops": AZURE_DEVOPS_FILES,
    "both": GITHUB_ACTIONS_FILES | AZURE_DEVOPS_FILES,
    "none": frozenset(),
}


def is_ci_file(relative_path: str) -> bool:
    """Whether a project file belongs to CI/CD (the pipelines and their setup pages)."""
    return relative_path.startswith((".github/", ".azure-pipelines/", "docs/ci-cd"))
