# The two commands of the README's Quickstart, and what they need.
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
DEMO_DIR := build/demo
DEMO_PROJECT := $(DEMO_DIR)/customer-churn

.PHONY: venv demo test lint clean

$(VENV_PYTHON): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade "pip>=25.1"
	$(VENV_PYTHON) -m pip install --quiet --group dev
	touch $(VENV_PYTHON)

venv: $(VENV_PYTHON)

# Bake a project with the default answers, then train it locally and score the sample request
# through a real local inference server.
demo: $(VENV_PYTHON)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(PYTHON) -m venv $(DEMO_PROJECT)/.venv
	$(MAKE) -C $(DEMO_PROJECT) setup train-local score-local PYTHON=.venv/bin/python

test: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pytest -n auto

# The model template's support files and hooks are the template's own code; the model files in it
# are linted again in every bake, by the generated project's rules.
LINTED := hooks tests tools local_extensions.py "{{cookiecutter.project_slug | folder_name}}/model_template"

lint: $(VENV_PYTHON)
	$(VENV_PYTHON) -m ruff check --config pyproject.toml $(LINTED)
	$(VENV_PYTHON) -m ruff format --check --config pyproject.toml $(LINTED)

clean:
	rm -rf $(VENV) build .pytest_cache
