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


def first_model_answers(answers: dict) -> dict[str, str]:
    return {"model": FIRST_MODEL, **{key: answers[key] for key in FIRST_MODEL_ANSWERS}}


def render_first_model(project_dir: Path, answers: dict) -> Path:
    """models/model1 from the project's own model template, as `make add-model` renders others."""
    sys.path.insert(0, str(project_dir / MODEL_TEMPLATE))
    from render_model import render_model

    return render_model(project_dir / MODELS_DIR, first_model_answers(answers))


def next_steps(project_slug: str) -> str:
    return "\n".join(
        [
            f"Created {project_slug}. Next steps:",
            f"  cd {project_slug}",
            "  python -m venv .venv && . .venv/bin/activate",
            "  make setup          # install the project with its dev tools",
            f"  make train-local    # train {FIRST_MODEL} on sample-data/, into outputs/",
            "  make score-local    # serve the model locally and score the sample request",
            "  make test           # the project's own tests",
            "  make add-model NAME=<name>   # a second model, beside the first",
            "Then read README.md for training on Azure ML, registering and deploying.",
        ]
    )


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project_dir = Path.cwd()
    remove_paths(project_dir, PATHS_REMOVED_BY_CI_PROVIDER[answers["ci_provider"]])
    render_first_model(project_dir, answers)
    print(next_steps(answers["project_slug"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
