from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs"
TEST_DATA_DIR = REPO_ROOT / "tests" / "data"
# The folder cookiecutter renders into the project: the only folder whose name is a template.
TEMPLATE_DIR = next(path for path in REPO_ROOT.iterdir() if path.is_dir() and "{{" in path.name)
# The model sub-template, copied into every project, which renders each models/<name>.
MODEL_TEMPLATE_DIR = TEMPLATE_DIR / "model_template"
# Its folder that becomes models/<name>.
MODEL_DIR_TEMPLATE = MODEL_TEMPLATE_DIR / "{{cookiecutter.model}}"
