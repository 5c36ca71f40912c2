"""Small pipeline, component and sweep specs for the tests of validate's rules, written into the
scratch project beside the model's own (under names of their own), so that each rule is tested on
a spec made for it whatever the model template holds."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.spec_files import expression, write_spec

MODEL_DIR = Path("models/model1")
PIPELINE = MODEL_DIR / "aml_config/small-pipeline.yml"
SWEEP = MODEL_DIR / "aml_config/small-sweep.yml"
COMPONENTS = MODEL_DIR / "components"
PREP_FILE = "small-prep.yml"
TRAIN_FILE = "small-train.yml"
# A curated environment: it exists in every workspace without a spec.
CURATED_ENVIRONMENT = "azureml:AzureML-sklearn-1.5@latest"


def spec_name(path: Path) -> str:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["name"]


def component(name: str, inputs: dict, outputs: dict, arguments: str) -> dict:
    return {
        "type": "command",
        "name": name,
        "version": 1,
        "inputs": inputs,
        "outputs": outputs,
        "code": "..",
        "environment": CURATED_ENVIRONMENT,
        "command": f"python train.py {arguments}",
    }


PREP = component(
    "small_prep",
    {"raw_data": {"type": "uri_folder"}, "seed": {"type": "integer"}},
    {"prepared": {"type": "uri_folder"}},
    f"--data-path {expression('inputs.raw_data')} --seed {expression('inputs.seed')} "
    f"--output-dir {expression('outputs.prepared')}",
)
TRAIN = component(
    "small_train",
    {"data": {"type": "uri_folder"}},
    {"model": {"type": "uri_folder"}},
    f"--data-path {expression('inputs.data')} --output-dir {expression('outputs.model')}",
)


def write_components() -> None:
    write_spec(COMPONENTS / PREP_FILE, "commandComponent", PREP)
    write_spec(COMPONENTS / TRAIN_FILE, "commandComponent", TRAIN)


def pipeline(data_name: str) -> dict:
    """prep -> train, each a component of COMPONENTS, bound to the pipeline's inputs and outputs."""
    return {
        "type": "pipeline",
        "settings": {"default_compute": "azureml:serverless"},
        "inputs": {
            "raw_data": {"type": "uri_folder", "path": f"azureml:{data_name}@latest"},
            "seed": 7,
        },
        "outputs": {"model": {"type": "uri_folder"}},
        "jobs": {
            "prep": {
                "type": "command",
                "component": f"../components/{PREP_FILE}",
                "inputs": {
                    "raw_data": expression("parent.inputs.raw_data"),
                    "seed": expression("parent.inputs.seed"),
                },
            },
            "train": {
                "type": "command",
                "component": f"../components/{TRAIN_FILE}",
                "inputs": {"data": expression("parent.jobs.prep.outputs.prepared")},
                "outputs": {"model": expression("parent.outputs.model")},
            },
        },
    }


def write_pipeline(data_name: str, change=None) -> Path:
    write_components()
    document = pipeline(data_name)
    if change is not None:
        change(document)
    return write_spec(PIPELINE, "pipelineJob", document)


def sweep(compute_name: str, data_name: str) -> dict:
    """A sweep of train.py over two parameters, stopping the lowest fifth of trials."""
    return {
        "type": "sweep",
        "inputs": {"training_data": {"type": "uri_folder", "path": f"azureml:{data_name}@latest"}},
        "outputs": {"model_output": {"type": "uri_folder"}},
        "trial": {
            "code": "..",
            "command": (
                f"python train.py --data-path {expression('inputs.training_data')} "
                f"--output-dir {expression('outputs.model_output')} "
                f"--n-estimators {expression('search_space.n_estimators')} "
                f"--max-depth {expression('search_space.max_depth')}"
            ),
            "environment": CURATED_ENVIRONMENT,
        },
        "compute": f"azureml:{compute_name}",
        "sampling_algorithm": "random",
        "search_space": {
            "n_estimators": {"type": "choice", "values": [50, 150]},
            "max_depth": {"type": "choice", "values": [2, 3]},
        },
        "objective": {"goal": "maximize", "primary_metric": "roc_auc"},
        "early_termination": {"type": "truncation_selection", "truncation_percentage": 20},
        "limits": {"max_total_trials": 4, "max_concurrent_trials": 1},
    }


def write_sweep(compute_name: str, data_name: str, change=None) -> Path:
    document = sweep(compute_name, data_name)
    if change is not None:
        change(document)
    return write_spec(SWEEP, "sweepJob", document)
