"""``mlops train``: submit a job spec, optionally wait for it, and write its run metadata."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from mlops import payloads, specs
from mlops.errors import AzureFailure, InvalidInput
from mlops.metadata import RunMetadata, job_output_uri, write_metadata
from mlops.output import say

COMPLETED = "Completed"
DEFAULT_OUTPUT = "default"


def parse_override(text: str) -> dict[str, Any]:
    """``inputs.n_estimators=200`` -> {"inputs.n_estimators": 200} (the value read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(f"--set: expected KEY=VALUE, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return {key.strip(): value}


def load_job(spec: Path, sets: tuple[str, ...], experiment: str | None) -> Any:
    overrides = [parse_override(text) for text in sets]
    if experiment:
        overrides.append({"experiment_name": experiment})
    _, job = specs.load_spec(spec, expected=["job"], overrides=overrides)
    return job


def dry_run(spec: Path, sets: tuple[str, ...], experiment: str | None) -> dict[str, Any]:
    job = load_job(spec, sets, experiment)
    return payloads.dry_run_document("train", payloads.job_requests(job))


def run_metadata(job: Any, output_names: list[str]) -> RunMetadata:
    return RunMetadata(
        job_name=job.name,
        status=str(job.status),
        studio_url=job.studio_url,
        experiment=job.experiment_name,
        outputs={name: job_output_uri(job.name, name) for name in output_names},
    )


def submit(
    client: Any,
    spec: Path,
    sets: tuple[str, ...],
    experiment: str | None,
    wait: bool,
    metadata_out: Path | None,
) -> dict[str, Any]:
    job = load_job(spec, sets, experiment)
    output_names = [name for name in (job.outputs or {}) if name != DEFAULT_OUTPUT]
    submitted = client.jobs.create_or_update(job)
    say(f"submitted job {submitted.name} ({submitted.status}): {submitted.studio_url}")
    metadata = run_metadata(submitted, output_names)
    if wait:
        metadata = wait_for_job(client, metadata)
    if metadata_out is not None:
        write_metadata(metadata_out, metadata)
        say(f"run metadata written to {metadata_out}")
    if wait and metadata.status != COMPLETED:
        raise AzureFailure(
            f"job {metadata.job_name} ended {metadata.status}: {metadata.studio_url}"
        )
    return asdict(metadata)


def wait_for_job(client: Any, metadata: RunMetadata) -> RunMetadata:
    """Stream the job's log to stderr until it ends; the job's final status decides the outcome."""
    say(f"streaming the log of {metadata.job_name} until it ends ...")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            client.jobs.stream(metadata.job_name)
    except Exception as exc:
        # A failed job raises here after its log was shown; its status is read below.
        say(f"job {metadata.job_name}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}")
    final = client.jobs.get(metadata.job_name)
    return replace(metadata, status=str(final.status), studio_url=final.studio_url)
