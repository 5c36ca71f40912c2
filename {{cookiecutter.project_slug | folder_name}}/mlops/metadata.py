"""The JSON files the commands read, and those that hand one step's result to the next.

Run metadata (``mlops train --metadata-out``, ``mlops wait --metadata-out``)::

    {"job_name": ..., "status": ..., "studio_url": ..., "experiment": ...,
     "outputs": {"<output name>": "azureml://jobs/<job>/outputs/<output name>/paths/"},
     "error": <why the job failed, or null>,
     "job_type": "command" | "pipeline" | "sweep",
     "best_trial": <of a sweep: {"job_name": ..., "primary_metric": ..., "value": ...}, or null>}

The outputs are those of the job that holds the model: the job itself, or a sweep's best trial once
the sweep has one (a sweep job's own outputs are not its best trial's: azure-ai-ml too downloads a
sweep's named outputs from the trial the sweep records as its ``best_child_run_id``).

Model metadata (``mlops register --metadata-out``)::

    {"name": ..., "version": ..., "job_name": ..., "metrics": {"<metric>": <number>}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops.errors import InvalidInput
from mlops.naming import require_valid_name, require_valid_version

JOB_OUTPUT_URI = "azureml://jobs/{job}/outputs/{output}/paths/{path}"
# Job statuses (azure.ai.ml.operations._run_history_constants.JobStatus). A job in a terminal
# status does not change any more; any other status is on its way to one.
COMPLETED = "Completed"
TERMINAL_STATUSES = frozenset({COMPLETED, "Failed", "Canceled", "NotResponding", "Paused"})
# The status of run metadata written without one.
UNKNOWN_STATUS = "Unknown"
# Outputs every job has (its logs), which hold no model.
DEFAULT_OUTPUT = "default"
# Job types as azure-ai-ml names them (azure.ai.ml.constants.JobType).
PIPELINE, SWEEP = "pipeline", "sweep"
# What HyperDrive records on a sweep job about its best trial so far: the trial's name and its
# primary metric (azure.ai.ml.constants._common.SWEEP_JOB_BEST_CHILD_RUN_ID_PROPERTY_NAME).
BEST_TRIAL_PROPERTY = "best_child_run_id"
BEST_SCORE_PROPERTY = "score"


def status_text(status: Any) -> str:
    """A job status as the service words it: azure-ai-ml gives an enum whose str() is
    "JobStatus.COMPLETED"; its value is "Completed"."""
    if status is None:
        return UNKNOWN_STATUS
    return str(getattr(status, "value", status))


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def job_output_uri(job_name: str, output_name: str, path: str = "") -> str:
    return JOB_OUTPUT_URI.format(job=job_name, output=output_name, path=path)


def as_number(value: Any) -> float | None:
    """A number the service wrote as text ("0.873"), or None."""
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BestTrial:
    job_name: str
    primary_metric: str | None
    value: float | None


def best_trial_of(job: Any) -> BestTrial | None:
    """The best trial a sweep job records so far, or None (another kind of job, or no trial yet)."""
    if getattr(job, "type", None) != SWEEP:
        return None
    properties = job.properties or {}
    name = properties.get(BEST_TRIAL_PROPERTY)
    if not name:
        return None
    objective = getattr(job, "objective", None)
    return BestTrial(
        job_name=str(name),
        primary_metric=getattr(objective, "primary_metric", None),
        value=as_number(properties.get(BEST_SCORE_PROPERTY)),
    )


@dataclass(frozen=True)
class RunMetadata:
    job_name: str
    status: str
    studio_url: str | None
    experiment: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    # Why the job failed: its own error, or that of its failed step.
    error: str | None = None
    job_type: str | None = None
    best_trial: BestTrial | None = None

    @property
    def model_job(self) -> str:
        """The job whose outputs are the run's outputs: a sweep's best trial, else the job."""
        return self.best_trial.job_name if self.best_trial else self.job_name


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: str
    job_name: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # The Azure ML registry holding the version (after mlops promote), else None: the workspace's.
    registry: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def asset_id(self) -> str:
        """What a deployment's ``model`` names: the workspace's version, or the registry's."""
        if self.registry:
            return (
                f"azureml://registries/{self.registry}/models/{self.name}/versions/{self.version}"
            )
        return f"azureml:{self.reference}"


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def write_metadata(path: Path, metadata: RunMetadata | ModelMetadata) -> None:
    document = asdict(metadata)
    if isinstance(metadata, ModelMetadata) and metadata.registry is None:
        del document["registry"]
    write_json(path, document)


def read_json(path: Path, what: str, *, object_only: bool = False) -> Any:
    """The JSON document in ``path``; InvalidInput naming ``what`` (the option) if it has none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput(f"{what}: {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{what}: {path} is not valid JSON: {exc}") from exc
    if object_only and not isinstance(document, dict):
        raise InvalidInput(f"{what}: {path} must hold a JSON object")
    return document


def required_text(document: dict[str, Any], key: str, path: Path) -> str:
    value = document.get(key)
    if not isinstance(value, str | int) or not str(value).strip():
        raise InvalidInput(f"{path}: {key}: missing")
    return str(value)


def read_best_trial(document: Any, path: Path) -> BestTrial | None:
    if not document:
        return None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path}: best_trial: must be an object with the trial's job_name")
    return BestTrial(
        job_name=required_text(document, "job_name", path),
        primary_metric=document.get("primary_metric"),
        value=as_number(document.get("value")),
    )


def read_run_metadata(path: Path) -> RunMetadata:
    document = read_json(path, "--run-metadata", object_only=True)
    outputs = document.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise InvalidInput(f"{path}: outputs: must map output names to paths")
    return RunMetadata(
        job_name=required_text(document, "job_name", path),
        status=str(document.get("status") or UNKNOWN_STATUS),
        studio_url=document.get("studio_url"),
        experiment=document.get("experiment"),
        outputs={str(name): str(uri) for name, uri in outputs.items()},
        error=document.get("error"),
        job_type=document.get("job_type"),
        best_trial=read_best_trial(document.get("best_trial"), path),
    )


def run_metadata_of(job: Any, known_outputs: Iterable[str] = ()) -> RunMetadata:
    """The run metadata of a job entity azure-ai-ml returned. ``known_outputs``: names of outputs
    the job has that the service may not report yet (those of the spec as submitted)."""
    metadata = RunMetadata(
        job_name=job.name,
        status=status_text(job.status),
        studio_url=job.studio_url,
        experiment=job.experiment_name,
        job_type=getattr(job, "type", None),
        best_trial=best_trial_of(job),
    )
    names = dict.fromkeys([*(job.outputs or {}), *known_outputs])
    outputs = {
        name: job_output_uri(metadata.model_job, name) for name in names if name != DEFAULT_OUTPUT
    }
    return replace(metadata, outputs=outputs)


def read_model_metadata(path: Path) -> ModelMetadata:
    document = read_json(path, "--model-metadata", object_only=True)
    metrics = document.get("metrics") or {}
    return ModelMetadata(
        name=require_valid_name(f"{path}: name", required_text(document, "name", path), "asset"),
        version=require_valid_version(f"{path}: version", required_text(document, "version", path)),
        job_name=document.get("job_name"),
        metrics=metrics if isinstance(metrics, dict) else {},
        registry=optional_registry(document, path),
    )


def optional_registry(document: dict[str, Any], path: Path) -> str | None:
    registry = document.get("registry")
    if registry is None:
        return None
    if not isinstance(registry, str):
        raise InvalidInput(f"{path}: registry: expected a registry name")
    return require_valid_name(f"{path}: registry", registry, "registry")
