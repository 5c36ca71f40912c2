"""Remove what the answers did not select, render the first model, then print the next steps."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

GITHUB_ACTIONS_PATHS = (".github", "docs/ci-cd-github.md")
AZURE_DEVOPS_PATHS = (".azure-pipelines", "docs/ci-cd-azure-devops.md")

PATHS_REMOVED_BY_CI_PROVIDER = {
    "github-actions": AZURE_DEVOPS_PATHS,
    "azure-devops": GITHUB_ACTIONS_PATHS,
    "both": (),
    "none": GITHUB_ACTIONS_PATHS + AZURE_DEVOPS_PATHS,
}
# What serves online and what scores in batch, beside the models' own files (which the model
# template's hook removes); CI/CD that deploys, for a project that deploys nothing.
ONLINE_PATHS = (
    "docs/monitoring.md",
    "tests/test_deploy.py",
    "tests/test_invoke.py",
    "tests/azure_responses/monitors",
)
BATCH_PATHS = (
    "docs/batch-scoring.md",
    "tools/batch_local.py",
    "tests/test_batch.py",
    "tests/azure_responses/batch-deployments",
    "tests/azure_responses/batch-endpoints",
    "tests/azure_responses/batch-jobs",
    "tests/azure_responses/schedules",
)
DEPLOYING_CI_PATHS = (
    ".github/workflows/deploy.yml",
    ".github/workflows/rollout.yml",
    ".azure-pipelines/templates/deploy-job.yml",
)
PATHS_REMOVED_BY_DEPLOYMENT = {
    "online": BATCH_PATHS,
    "batch": ONLINE_PATHS,
    "both": (),
    "none": ONLINE_PATHS + BATCH_PATHS + DEPLOYING_CI_PATHS,
}
# CI/CD files whose last part deploys (from this line on): a project that deploys nothing ends them
# before it.
DEPLOYING_TAILS = {
    ".github/workflows/train.yml": "  deploy:\n",
    ".azure-pipelines/templates/model-stages.yml": "  - stage: DeployStaging_",
}
MODEL_TEMPLATE = "model_template"
MODELS_DIR = "models"
FIRST_MODEL = "model1"
# Answers of the project that name the first model's own things in Azure ML.
FIRST_MODEL_ANSWERS = (
    "model_name",
    "experiment_name",
    "online_endpoint_name",
    "staging_endpoint_name",
)


def remove_paths(project_dir: Path, relative_paths: tuple[str, ...]) -> None:
    for relative_path in relative_paths:
        path = project_dir / relative_path
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def cut_deploying_tails(project_dir: Path) -> None:
    for relative_path, first_line in DEPLOYING_TAILS.items():
        path = project_dir / relative_path
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        if text.count(first_line) != 1:
            raise ValueError(f"{relative_path}: expected one {first_line!r} to cut the file at")
        kept = text[: text.index(first_line)].rstrip() + "\n"
        path.write_text(kept, encoding="utf-8")


def first_model_answers(answers: dict) -> dict[str, str]:
    return {"model": FIRST_MODEL, **{key: answers[key] for key in FIRST_MODEL_ANSWERS}}


def render_first_model(project_dir: Path, answers: dict) -> Path:
    """models/model1 from the project's own model template, as `make add-model` renders others."""
    sys.path.insert(0, str(project_dir / MODEL_TEMPLATE))
    from render_model import render_model

    return render_model(project_dir / MODELS_DIR, first_model_answers(answers))


def next_steps(project_slug: str, deployment: str) -> str:
    batch = ["  make batch-local    # score sample-data/ in batch, as the batch endpoint would"]
    return "\n".join(
        [
            f"Created {project_slug}. Next steps:",
            f"  cd {project_slug}",
            "  python -m venv .venv && . .venv/bin/activate",
            "  make setup          # install the project with its dev tools",
            f"  make train-local    # train {FIRST_MODEL} on sample-data/, into outputs/",
            "  make score-local    # serve the model locally and score the sample request",
            *(batch if deployment in ("batch", "both") else []),
            "  make test           # the project's own tests",
            "  make add-model NAME=<name>   # a second model, beside the first",
            "Then read README.md for training on Azure ML, registering and deploying.",
        ]
    )


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project_dir = Path.cwd()
    remove_paths(project_dir, PATHS_REMOVED_BY_CI_PROVIDER[answers["ci_provider"]])
    remove_paths(project_dir, PATHS_REMOVED_BY_DEPLOYMENT[answers["deployment"]])
    if answers["deployment"] == "none":
        cut_deploying_tails(project_dir)
    render_first_model(project_dir, answers)
    print(next_steps(answers["project_slug"], answers["deployment"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
