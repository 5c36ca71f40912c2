"""Render this model template into a project's models/ folder.

Used by the project template's post-generation step (for the first model) and by the project's
`mlops add-model` (for every later one), so both make a model folder the same way. Through
cookiecutter's generation functions rather than its main entry point, which would also read the
user's cookiecutter config and write a replay file into their home folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent


def render_model(output_dir: Path, answers: dict[str, str]) -> Path:
    """Render the model folder for ``answers`` (``model`` at least) into ``output_dir``.

    The template's pre-generation hook checks the answers; on a refusal cookiecutter raises
    FailedHookException and removes what it had created.
    """
    from cookiecutter.generate import generate_context, generate_files
    from cookiecutter.prompt import prompt_for_config

    # The template's Jinja extension (template_extensions.py) is imported from this folder.
    if str(TEMPLATE_DIR) not in sys.path:
        sys.path.insert(0, str(TEMPLATE_DIR))
    context = generate_context(
        context_file=str(TEMPLATE_DIR / "cookiecutter.json"), extra_context=answers
    )
    context["cookiecutter"] = prompt_for_config(context, no_input=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        generate_files(repo_dir=str(TEMPLATE_DIR), context=context, output_dir=str(output_dir))
    )
