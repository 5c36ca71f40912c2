"""Remove the model's files of the deployment kinds the project does not use.

Self-contained (cookiecutter runs hooks from a temporary copy); runs inside the new model folder.
The project's answer ``deployment`` (online, batch, both or none) is in ``_project``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# deployment/sample-request.json stays: `make score-local` and the tests of score.py send it.
ONLINE_FILES = (
    "deployment/endpoint.yml",
    "deployment/deployment.yml",
    "aml_config/inference-conda.yml",
    "monitoring/monitor.yml",
)
BATCH_FILES = (
    "batch_score.py",
    "aml_config/batch-conda.yml",
    "aml_config/mlops-conda.yml",
    "deployment/batch-endpoint.yml",
    "deployment/batch-deployment.yml",
    "deployment/batch-schedule.yml",
    "deployment/nightly-batch-job.yml",
    "tests/test_batch_score.py",
)
FILES_REMOVED_BY_DEPLOYMENT = {
    "online": BATCH_FILES,
    "batch": ONLINE_FILES,
    "both": (),
    "none": ONLINE_FILES + BATCH_FILES,
}


def remove_files(model_dir: Path, relative_paths: tuple[str, ...]) -> None:
    """Remove the files, and a folder they leave empty."""
    for relative_path in relative_paths:
        path = model_dir / relative_path
        path.unlink(missing_ok=True)
        if path.parent != model_dir and not any(path.parent.iterdir()):
            path.parent.rmdir()


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    remove_files(Path.cwd(), FILES_REMOVED_BY_DEPLOYMENT[answers["_project"]["deployment"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
