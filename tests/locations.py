from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs"
TEST_DATA_DIR = REPO_ROOT / "tests" / "data"
# The folder cookiecutter renders into the project: the only folder whose name is a template.
TEMPLATE_DIR = next(path for path in REPO_ROOT.iterdir() if path.is_dir() and "{{" in path.name)
