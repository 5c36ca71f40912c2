"""Remove what the answers did not select, then print the next steps."""

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


def remove_paths(project_dir: Path, relative_paths: tuple[str, ...]) -> None:
    for relative_path in relative_paths:
        path = project_dir / relative_path
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def next_steps(project_slug: str) -> str:
    return "\n".join(
        [
            f"Created {project_slug}. Next steps:",
            f"  cd {project_slug}",
            "  python -m venv .venv && . .venv/bin/activate",
            "  make setup          # install the project with its dev tools",
            "  make train-local    # train on sample-data/ into outputs/model1/",
            "  make score-local    # serve the model locally and score the sample request",
            "  make test           # the project's own tests",
            "Then read README.md for training on Azure ML, registering and deploying.",
        ]
    )


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project_dir = Path.cwd()
    remove_paths(project_dir, PATHS_REMOVED_BY_CI_PROVIDER[answers["ci_provider"]])
    print(next_steps(answers["project_slug"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
