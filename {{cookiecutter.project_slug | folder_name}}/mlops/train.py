"""``mlops train``: submit a job spec, optionally wait for it, and write its run metadata."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from mlops import payloads, specs
from mlops.errors import AzureFailure, InvalidInput, first_line
from mlops.metadata import COMPLETED, TERMINAL_STATUSES, RunMetadata, job_output_uri, write_metadata
from mlops.output import PROGRESS_INTERVAL_SECONDS, say
from mlops.validate import require_valid_name

DEFAULT_OUTPUT = "default"
# Reading the status of a job: tries in a row that may fail (a network blip, a token renewal)
# before waiting gives up.
STATUS_TRIES = 5


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
    """The job entity of ``spec`` with the ``--set`` overrides and ``--experiment`` applied."""
    overrides = [parse_override(text) for text in sets]
    if experiment:
        overrides.append(
            {"experiment_name": require_valid_name("--experiment", experiment, "experiment")}
        )
    _, job = specs.load_spec(spec, expected=["job"], overrides=overrides)
    return job


def dry_run(job: Any) -> dict[str, Any]:
    return payloads.dry_run_document("train", payloads.job_requests(job))


def run_metadata(job: Any, output_names: list[str]) -> RunMetadata:
    return RunMetadata(
        job_name=job.name,
        status=str(job.status),
        studio_url=job.studio_url,
        experiment=job.experiment_name,
        outputs={name: job_output_uri(job.name, name) for name in output_names},
    )


def submit(client: Any, job: Any, wait: bool, metadata_out: Path | None) -> dict[str, Any]:
    output_names = [name for name in (job.outputs or {}) if name != DEFAULT_OUTPUT]
    submitted = client.jobs.create_or_update(job)
    say(f"submitted job {submitted.name} ({submitted.status}): {submitted.studio_url}")
    metadata = run_metadata(submitted, output_names)
    if wait:
        try:
            metadata = wait_for_job(client, metadata)
        except AzureFailure:
            # Its status could not be read: the metadata still says where to look.
            if metadata_out is not None:
                write_metadata(metadata_out, metadata)
            raise
    if metadata_out is not None:
        write_metadata(metadata_out, metadata)
        say(f"run metadata written to {metadata_out}")
    if wait and metadata.status != COMPLETED:
        raise AzureFailure(
            f"job {metadata.job_name} ended {metadata.status}: {metadata.studio_url}"
        )
    return asdict(metadata)


def wait_for_job(
    client: Any,
    metadata: RunMetadata,
    interval: float = PROGRESS_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> RunMetadata:
    """Stream the job's log to stderr until it ends; the job's final status decides the outcome.

    The stream can stop before the job ends: the connection drops, or the job is still
    finalizing. Then the job's status is read every ``interval`` seconds until it is terminal.
    """
    name = metadata.job_name
    started = time.monotonic()
    say(f"streaming the log of {name} until it ends ...")
    stream_error = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            client.jobs.stream(name)
    except Exception as exc:
        stream_error = first_line(exc)
    job = read_job(client, name, interval, sleep)
    if str(job.status) in TERMINAL_STATUSES:
        if stream_error:
            # A failed job makes the stream raise, after its log was shown.
            say(f"job {name}: {stream_error}")
    else:
        if stream_error:
            say(f"the log stream of job {name} stopped: {stream_error}")
        say(
            f"job {name} is {job.status}: checking its status every {interval:g}s until it ends "
            f"(log: {job.studio_url or metadata.studio_url})"
        )
        while str(job.status) not in TERMINAL_STATUSES:
            sleep(interval)
            job = read_job(client, name, interval, sleep)
            say(f"job {name}: {job.status} after {int(time.monotonic() - started)}s")
    return replace(
        metadata, status=str(job.status), studio_url=job.studio_url or metadata.studio_url
    )


def read_job(client: Any, name: str, interval: float, sleep: Callable[[float], None]) -> Any:
    """``client.jobs.get(name)``, tried up to STATUS_TRIES times, ``interval`` seconds apart."""
    tries = 1
    while True:
        try:
            return client.jobs.get(name)
        except Exception as exc:
            if tries >= STATUS_TRIES:
                raise AzureFailure(
                    f"could not read the status of job {name} ({tries} tries, it may still be "
                    f"running): {first_line(exc)}"
                ) from exc
            say(f"could not read the status of job {name}: {first_line(exc)}; trying again")
            tries += 1
            sleep(interval)
