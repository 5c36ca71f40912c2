"""Validate the model's answers before cookiecutter writes its folder under models/.

Self-contained (cookiecutter runs hooks from a temporary copy). The project's `mlops add-model`
checks the same rule before it renders (mlops/naming.py; a test keeps the two in agreement).
"""

from __future__ import annotations

import json
import re
import sys

# Long enough for a name that says what the model predicts; short enough that the endpoint names
# derived from it (<project>-<model>-stg-<5 letters>) keep a part of the project's name within
# Azure's 32 characters.
MODEL_MAX_LENGTH = 16
MODEL_PATTERN = "(?=.{1," + str(MODEL_MAX_LENGTH) + "}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*"


def check_model(value: str) -> str | None:
    if re.fullmatch(MODEL_PATTERN, value, flags=re.ASCII):
        return None
    return (
        f"must be 1-{MODEL_MAX_LENGTH} lowercase letters, digits and single '-', "
        "starting with a letter and not ending with '-'"
    )


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    problem = check_model(str(answers["model"]))
    if problem:
        print(
            f"error: model: {json.dumps(answers['model'], ensure_ascii=False)} {problem}",
            file=sys.stderr,
        )
        print("No model was added; answer again with the name corrected.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
