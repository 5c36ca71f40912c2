import sys

from conftest import run
from locations import REPO_ROOT, TEMPLATE_DIR
from tools.render_combinations import PAGE, render


def test_combinations_page_matches_the_matrix():
    assert PAGE.read_text(encoding="utf-8") == render(), "run: python tools/render_combinations.py"


def test_readme_quickstart_opens_with_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1]
    first_block = quickstart.split("```", 2)[1]
    commands = [line for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]
    ci_script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci_script.rstrip().splitlines()[-1] == commands[1]


def test_template_code_is_lint_clean():
    paths = ["hooks", "tests", "tools", "local_extensions.py", TEMPLATE_DIR / "model_template"]
    settings = ["--config", "pyproject.toml"]
    run([sys.executable, "-m", "ruff", "check", *settings, *paths], cwd=REPO_ROOT)
    run([sys.executable, "-m", "ruff", "format", "--check", *settings, *paths], cwd=REPO_ROOT)
