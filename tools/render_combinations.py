"""Write docs/combinations.md from tests/matrix.py: the supported and refused option combinations.

Run `python tools/render_combinations.py` after changing the matrix; a test fails while the page and
the matrix disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGE = REPO_ROOT / "docs" / "combinations.md"
sys.path.insert(0, str(REPO_ROOT / "tests"))

from matrix import REJECTED, SUPPORTED  # noqa: E402 (after the sys.path change)


def answers_cell(answers: dict) -> str:
    if not answers:
        return "(defaults)"
    shown = (f"`{key}`={json.dumps(value, ensure_ascii=False)}" for key, value in answers.items())
    return "<br>".join(shown).replace("|", "\\|")


def render() -> str:
    lines = [
        "# Supported and refused option combinations",
        "",
        "Generated from `tests/matrix.py` by `python tools/render_combinations.py`; the test suite",
        "bakes every row. Options not named keep their defaults. Every supported bake has its",
        "exact file set, its specs, its CI/CD, `mlops validate`, the dry runs and the project's",
        "lint checked; the generated project's own suite runs where the last column says so.",
        "",
        "## Supported",
        "",
        "| id | answers | runs the project's own tests |",
        "|---|---|---|",
    ]
    for bake in SUPPORTED:
        runs = "yes, with a second model added" if bake.runs_project_tests else "no"
        lines.append(f"| {bake.id} | {answers_cell(bake.answers)} | {runs} |")
    lines += [
        "",
        "## Refused",
        "",
        "| id | answers | the refusal names |",
        "|---|---|---|",
    ]
    for rejected in REJECTED:
        named = ", ".join(f"`{option}`" for option in rejected.named_options)
        lines.append(f"| {rejected.id} | {answers_cell(rejected.answers)} | {named} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPO_ROOT)}")
