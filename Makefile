# The two commands of the README's Quickstart, and what they need.
# The newest Python of this machine that the template's tools support (3.11 to 3.14).
PYTHON ?= $(or $(shell for python in python3.14 python3.13 python3.12; do \
	$$python -c '' 2>/dev/null && echo $$python && break; done),python3)
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
UV := $(VENV)/bin/uv
DEMO_DIR := build/demo
DEMO_PROJECT := $(DEMO_DIR)/customer-churn

.PHONY: venv demo test test-fast lint clean

$(VENV_PYTHON): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade "pip>=25.1"
	$(VENV_PYTHON) -m pip install --quiet --group bootstrap
	$(UV) pip install --quiet --compile-bytecode --python $(VENV_PYTHON) --group dev
	touch $(VENV_PYTHON)

venv: $(VENV_PYTHON)

# Bake a project with the default answers, then train it locally and score the sample request
# through a real local inference server.
# The project's `make setup` uses the uv of the template's environment (on the PATH here).
demo: $(VENV_PYTHON)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(UV) venv --quiet --python "$$(cat $(DEMO_PROJECT)/.python-version)" $(DEMO_PROJECT)/.venv
	PATH="$(abspath $(VENV))/bin:$$PATH" $(MAKE) -C $(DEMO_PROJECT) setup train-local score-local \
		PYTHON=.venv/bin/python

# One test at a time to whichever core is free, the longest first (tests/conftest.py).
test: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pytest -n auto --dist load --maxschedchunk 1

# For inner loops: no installs, no registry, no run of a generated project's whole suite.
test-fast: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pytest -n auto --dist load --maxschedchunk 1 -m "not slow"

# The model template's support files and hooks are the template's own code; the model files in it
# are linted again in every bake, by the generated project's rules.
LINTED := hooks tests tools local_extensions.py "{{cookiecutter.project_slug | folder_name}}/model_template"

lint: $(VENV_PYTHON)
	$(VENV_PYTHON) -m ruff check --config pyproject.toml $(LINTED)
	$(VENV_PYTHON) -m ruff format --check --config pyproject.toml $(LINTED)

clean:
	rm -rf $(VENV) build .pytest_cache
