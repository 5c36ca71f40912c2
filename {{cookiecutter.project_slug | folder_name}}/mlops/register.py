"""``mlops register``: register the model a finished job produced, behind an evaluation gate."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops import gate, payloads
from mlops.errors import AzureFailure, InvalidInput
from mlops.metadata import (
    COMPLETED,
    UNKNOWN_STATUS,
    ModelMetadata,
    RunMetadata,
    job_output_uri,
    write_metadata,
)
from mlops.output import say
from mlops.specs import import_azure_ml
from mlops.validate import require_valid_name

MODEL_TYPE = "custom_model"
PRODUCTION_TAG = ("stage", "production")
REMOTE_MODEL_PREFIXES = ("azureml://", "runs:/")


@dataclass(frozen=True)
class Registration:
    name: str
    run: RunMetadata
    model_uri: str
    output_name: str | None
    tags: dict[str, str]
    properties: dict[str, str]
    thresholds: list[tuple[str, float]]
    compare_production: str | None

    @property
    def needs_metrics(self) -> bool:
        return bool(self.thresholds or self.compare_production)


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
    return job_output_uri(run.job_name, output_name, sub_path), output_name


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
    if run.status not in (COMPLETED, UNKNOWN_STATUS):
        raise AzureFailure(f"job {run.job_name} ended {run.status}; there is no model to register")
    model_uri, output_name = model_location(run, path)
    return Registration(
        name=name,
        run=run,
        model_uri=model_uri,
        output_name=output_name,
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


def report_checks(checks: list[gate.Check]) -> None:
    for check in checks:
        say(f"gate {'passed' if check.passed else 'REFUSED'}: {check.reason}")


def job_metrics(client: Any, registration: Registration) -> dict[str, float]:
    """The metrics.json the training job wrote into the output that holds the model."""
    output_name = registration.output_name
    if output_name is None:
        raise InvalidInput("--path: a gate needs the model in a job output; or pass --metrics-file")
    with tempfile.TemporaryDirectory(prefix="mlops-metrics-") as folder:
        say(f"downloading output {output_name} of job {registration.run.job_name} for its metrics")
        client.jobs.download(
            name=registration.run.job_name, download_path=folder, output_name=output_name
        )
        found = gate.find_metrics_file(Path(folder))
        if found is None:
            raise AzureFailure(
                f"job {registration.run.job_name} wrote no {gate.METRICS_FILE_NAME} "
                f"into output {output_name}"
            )
        return gate.read_metrics_file(
            found, f"{gate.METRICS_FILE_NAME} of job {registration.run.job_name}"
        )


def production_model(client: Any, name: str) -> Any:
    """The newest version of ``name`` tagged stage=production, or None."""
    from azure.core.exceptions import ResourceNotFoundError

    key, value = PRODUCTION_TAG
    try:
        versions = [m for m in client.models.list(name=name) if (m.tags or {}).get(key) == value]
    except ResourceNotFoundError:
        return None
    return max(versions, key=lambda m: int(m.version), default=None)


def register(
    client: Any,
    registration: Registration,
    metrics_file: Path | None,
    metadata_out: Path | None,
) -> dict[str, Any]:
    job = client.jobs.get(registration.run.job_name)
    if str(job.status) != COMPLETED:
        raise AzureFailure(
            f"job {job.name} is {job.status}; only a Completed job's model is registered"
        )
    metrics: dict[str, float] = {}
    if metrics_file:
        metrics = gate.read_metrics_file(metrics_file)
    elif registration.needs_metrics:
        metrics = job_metrics(client, registration)
    checks = gate.threshold_checks(metrics, registration.thresholds)
    if registration.compare_production:
        metric = registration.compare_production
        current = production_model(client, registration.name)
        reference = f"{current.name}:{current.version}" if current is not None else None
        value = gate.metric_from_properties(current.properties, metric) if current else None
        checks.append(gate.production_check(metric, metrics, reference, value))
    report_checks(checks)
    gate.enforce(checks)

    created = client.models.create_or_update(model_entity(registration, metrics))
    say(f"registered model {created.name}:{created.version}")
    metadata = ModelMetadata(
        name=created.name,
        version=str(created.version),
        job_name=registration.run.job_name,
        metrics=metrics,
    )
    if metadata_out is not None:
        write_metadata(metadata_out, metadata)
        say(f"model metadata written to {metadata_out}")
    return {**asdict(metadata), "gate": gate.checks_as_json(checks)}
