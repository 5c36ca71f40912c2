"""``mlops register``: register the model a finished job produced, behind an evaluation gate.

After a pipeline whose register step registers the model itself (a run with the output
``registration``), it registers nothing more: it adopts the version the step registered, or the
step's refusal, from the ``registration.json`` the step wrote, so that one run yields one version.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import gate, payloads
from mlops.errors import AzureFailure, GateRefused, InvalidInput
from mlops.metadata import (
    COMPLETED,
    ModelMetadata,
    RunMetadata,
    is_terminal,
    job_output_uri,
    read_json,
    run_metadata_of,
    status_text,
    write_metadata,
)
from mlops.naming import require_valid_name, require_valid_version
from mlops.output import say
from mlops.specs import import_azure_ml

MODEL_TYPE = "custom_model"
PRODUCTION_TAG = ("stage", "production")
REMOTE_MODEL_PREFIXES = ("azureml://", "runs:/")
DATASTORE_URI_PREFIX = "azureml://datastores/"
# Where a job writes an output that names no path (azure-ai-ml's default output location).
DEFAULT_OUTPUT_URI = "azureml://datastores/{datastore}/paths/azureml/{job}/{output}/"
UNDATED = datetime.min.replace(tzinfo=UTC)
# The output of the pipeline's register step, and the file it writes there
# (models/<name>/components/register.py).
REGISTRATION_OUTPUT = "registration"
REGISTRATION_FILE = "registration.json"


@dataclass(frozen=True)
class Registration:
    name: str
    run: RunMetadata
    # --path as given: OUTPUT, OUTPUT/SUB/PATH, a URI, or None for the run's only output.
    path: str | None
    tags: dict[str, str]
    properties: dict[str, str]
    thresholds: list[tuple[str, float]]
    compare_production: str | None

    @property
    def needs_metrics(self) -> bool:
        return bool(self.thresholds or self.compare_production)

    @property
    def location(self) -> tuple[str, str | None]:
        """(model URI, job output holding it)."""
        return model_location(self.run, self.path)

    @property
    def model_uri(self) -> str:
        return self.location[0]

    @property
    def output_name(self) -> str | None:
        return self.location[1]

    @property
    def registered_by_pipeline(self) -> bool:
        """Whether the run's own register step registers the model (a pipeline's)."""
        return REGISTRATION_OUTPUT in self.run.outputs


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{option}: expected KEY=VALUE, got {text!r}")
        pairs[key.strip()] = value
    return pairs


def model_location(run: RunMetadata, path: str | None) -> tuple[str, str | None]:
    """(model URI, job output holding it) for ``--path``: OUTPUT, OUTPUT/SUB/PATH or a URI."""
    if path and path.startswith(REMOTE_MODEL_PREFIXES):
        return path, None
    if not path:
        if len(run.outputs) != 1:
            names = ", ".join(sorted(run.outputs)) or "none recorded"
            raise InvalidInput(
                f"--path: name the job output that holds the model (outputs: {names})"
            )
        path = next(iter(run.outputs))
    output_name, _, sub_path = path.strip("/").partition("/")
    recorded = run.outputs.get(output_name)
    if recorded:
        return recorded.rstrip("/") + "/" + sub_path, output_name
    return job_output_uri(run.model_job, output_name, sub_path), output_name


def build_registration(
    run: RunMetadata,
    name: str,
    path: str | None,
    tags: tuple[str, ...],
    properties: tuple[str, ...],
    min_metrics: tuple[str, ...],
    compare_production: str | None,
) -> Registration:
    require_valid_name("--name", name, "asset")
    if is_terminal(run.status) and run.status != COMPLETED:
        # A job that ended does not change any more; any other status is read from Azure.
        raise AzureFailure(f"job {run.job_name} ended {run.status}; there is no model to register")
    model_location(run, path)  # a --path the run has no output for is refused now, offline
    return Registration(
        name=name,
        run=run,
        path=path,
        tags=parse_pairs(tags, "--tag"),
        properties=parse_pairs(properties, "--property"),
        thresholds=[gate.parse_threshold(text) for text in min_metrics],
        compare_production=compare_production,
    )


def model_entity(registration: Registration, metrics: dict[str, float]) -> Any:
    return import_azure_ml().entities.Model(
        name=registration.name,
        path=registration.model_uri,
        type=MODEL_TYPE,
        description=f"Trained by job {registration.run.job_name}",
        tags=registration.tags,
        properties={
            "job_name": registration.run.job_name,
            **gate.metric_properties(metrics),
            **registration.properties,
        },
    )


def dry_run(registration: Registration, metrics_file: Path | None) -> dict[str, Any]:
    """Gate checks that can run offline run; the production comparison needs the workspace."""
    if registration.registered_by_pipeline:
        return adoption_dry_run(registration)
    metrics = gate.read_metrics_file(metrics_file) if metrics_file else {}
    checks: list[gate.Check] = []
    pending = []
    if registration.thresholds:
        if metrics_file:
            checks = gate.threshold_checks(metrics, registration.thresholds)
        else:
            pending.append(
                "minimum metrics: read from the job output at run time (or --metrics-file)"
            )
    if registration.compare_production:
        pending.append(
            f"{registration.compare_production} against the stage=production version: "
            "needs the workspace"
        )
    report_checks(checks)
    gate.enforce(checks)
    requests = payloads.model_requests(model_entity(registration, metrics))
    return payloads.dry_run_document(
        "register",
        requests,
        gate={"checks": gate.checks_as_json(checks), "not_evaluated": pending},
    )


def adoption_dry_run(registration: Registration) -> dict[str, Any]:
    """After a pipeline nothing is registered: the step's registration.json is read instead."""
    run = registration.run
    pending = []
    if registration.thresholds:
        pending.append(f"minimum metrics: on the metrics in {REGISTRATION_FILE}, at run time")
    if registration.compare_production:
        pending.append(
            f"{registration.compare_production} against the stage=production version: "
            "needs the workspace"
        )
    return payloads.dry_run_document(
        "register",
        [],
        adopts={
            "registration_file": run.outputs[REGISTRATION_OUTPUT].rstrip("/")
            + "/"
            + REGISTRATION_FILE,
            "why": f"the register step of pipeline {run.job_name} registers the model itself: "
            f"the version it registered as {registration.name} is adopted, or its refusal",
        },
        gate={"checks": [], "not_evaluated": pending},
    )


def report_checks(checks: list[gate.Check]) -> None:
    for check in checks:
        say(f"gate {'passed' if check.passed else 'REFUSED'}: {check.reason}")


def output_location(client: Any, job: Any, output_name: str) -> str:
    """The datastore URI of a job output: as the job reports it, else where jobs write outputs."""
    output = (job.outputs or {}).get(output_name)
    path = str(getattr(output, "path", None) or "")
    if path.startswith(DATASTORE_URI_PREFIX):
        return path.rstrip("/") + "/"
    datastore = client.datastores.get_default().name
    return DEFAULT_OUTPUT_URI.format(datastore=datastore, job=job.name, output=output_name)


def output_file(client: Any, job: Any, output_name: str, file_name: str) -> Any:
    """The JSON document a job wrote at the top of one of its outputs: that one file is
    downloaded, not the output."""
    from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

    uri = output_location(client, job, output_name) + file_name
    with tempfile.TemporaryDirectory(prefix="mlops-output-") as folder:
        say(f"reading {uri}")
        download_artifact_from_aml_uri(uri, folder, client.datastores)
        found = Path(folder) / file_name
        if not found.is_file():
            raise AzureFailure(f"job {job.name} wrote no {file_name} into {uri}")
        return read_json(found, f"{file_name} of job {job.name}")


def job_metrics(client: Any, job: Any, registration: Registration) -> dict[str, float]:
    """The metrics.json the training job wrote beside the model, at the top of its output (a
    sweep's: its best trial's)."""
    output_name = registration.output_name
    if output_name is None:
        raise InvalidInput("--path: a gate needs the model in a job output; or pass --metrics-file")
    holder_name = registration.run.model_job
    holder = job if holder_name == job.name else client.jobs.get(holder_name)
    document = output_file(client, holder, output_name, gate.METRICS_FILE_NAME)
    return gate.numeric_metrics(document, f"{gate.METRICS_FILE_NAME} of job {holder.name}")


def production_model(client: Any, name: str) -> Any:
    """The newest version of ``name`` tagged stage=production, or None."""
    from azure.core.exceptions import ResourceNotFoundError

    key, value = PRODUCTION_TAG
    try:
        versions = [m for m in client.models.list(name=name) if (m.tags or {}).get(key) == value]
    except ResourceNotFoundError:
        return None
    return max(versions, key=created_at, default=None)


def created_at(model: Any) -> datetime:
    return getattr(model.creation_context, "created_at", None) or UNDATED


def completed_job(client: Any, job_name: str) -> Any:
    """The job, read from Azure; AzureFailure unless it Completed."""
    job = client.jobs.get(job_name)
    status = status_text(job.status)
    if status == COMPLETED:
        return job
    if is_terminal(status):
        raise AzureFailure(f"job {job_name} ended {status}; there is no model to register")
    raise AzureFailure(
        f"job {job_name} is {status}, not Completed yet: wait for it with `mlops wait {job_name}`"
    )


def gate_checks(
    client: Any, registration: Registration, metrics: dict[str, float]
) -> list[gate.Check]:
    """The gate's checks of ``metrics``, reported on stderr; GateRefused unless all passed."""
    checks = gate.threshold_checks(metrics, registration.thresholds)
    if registration.compare_production:
        metric = registration.compare_production
        current = production_model(client, registration.name)
        reference = f"{current.name}:{current.version}" if current is not None else None
        value = gate.recorded_metric(current, metric) if current is not None else None
        checks.append(gate.production_check(metric, metrics, reference, value))
    report_checks(checks)
    gate.enforce(checks)
    return checks


def hand_on(
    metadata: ModelMetadata, checks: list[gate.Check], metadata_out: Path | None
) -> dict[str, Any]:
    """The command's result; the model metadata written for the next step too."""
    if metadata_out is not None:
        write_metadata(metadata_out, metadata)
        say(f"model metadata written to {metadata_out}")
    return {**asdict(metadata), "gate": gate.checks_as_json(checks)}


def register(
    client: Any,
    registration: Registration,
    metrics_file: Path | None,
    metadata_out: Path | None,
) -> dict[str, Any]:
    job = completed_job(client, registration.run.job_name)
    # The job's outputs as Azure reports them now that it ended: a sweep's best trial is known.
    registration = replace(registration, run=run_metadata_of(job, registration.run.outputs))
    if registration.registered_by_pipeline:
        return adopt(client, job, registration, metadata_out)
    metrics: dict[str, float] = {}
    if metrics_file:
        metrics = gate.read_metrics_file(metrics_file)
    elif registration.needs_metrics:
        metrics = job_metrics(client, job, registration)
    checks = gate_checks(client, registration, metrics)

    created = client.models.create_or_update(model_entity(registration, metrics))
    say(f"registered model {created.name}:{created.version}")
    metadata = ModelMetadata(
        name=created.name,
        version=str(created.version),
        job_name=registration.run.job_name,
        metrics=metrics,
    )
    return hand_on(metadata, checks, metadata_out)


def adopt(
    client: Any, job: Any, registration: Registration, metadata_out: Path | None
) -> dict[str, Any]:
    """The version the pipeline's register step registered, as model metadata; or the step's
    refusal (GateRefused). The gate's own checks run on the metrics the step recorded too."""
    step = output_file(client, job, REGISTRATION_OUTPUT, REGISTRATION_FILE)
    source = f"{REGISTRATION_FILE} of job {job.name}"
    if not isinstance(step, dict):
        raise AzureFailure(f"{source}: expected a JSON object")
    reason = str(step.get("reason") or "no reason given")
    if step.get("registered") is not True:
        raise GateRefused(f"gate refused the model: the pipeline's register step: {reason}")
    name, version = str(step.get("model_name")), str(step.get("version") or "")
    if not version:
        raise AzureFailure(f"{source}: registered, but names no version")
    if name != registration.name:
        raise InvalidInput(
            f"--name {registration.name}: the pipeline's register step registered {name}:{version} "
            "(its input model_name): give both the same name"
        )
    require_valid_version(f"{source}: version", version)
    say(f"the pipeline's register step registered {name}:{version}: {reason}")
    metrics = gate.numeric_metrics(step.get("metrics") or {}, source)
    checks = gate_checks(client, registration, metrics)
    metadata = ModelMetadata(name=name, version=version, job_name=job.name, metrics=metrics)
    return hand_on(metadata, checks, metadata_out)
