"""``mlops train``, ``mlops wait`` and ``mlops cancel``: submit a job spec, follow a job until it
ends, stop one; the run metadata they write hands the job to ``mlops register``."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from mlops import payloads, specs
from mlops.errors import (
    AzureFailure,
    Interrupted,
    InvalidInput,
    describe,
    interrupted,
    is_job_failure,
)
from mlops.metadata import (
    COMPLETED,
    RunMetadata,
    is_terminal,
    run_metadata_of,
    status_text,
    write_metadata,
)
from mlops.naming import JOB_RULE, require_valid_name
from mlops.output import PROGRESS_INTERVAL_SECONDS, say, wait_for

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


def save(metadata: RunMetadata, metadata_out: Path | None) -> None:
    if metadata_out is not None:
        write_metadata(metadata_out, metadata)
        say(f"run metadata written to {metadata_out}")


def submit(client: Any, job: Any, wait: bool, metadata_out: Path | None) -> dict[str, Any]:
    """Submit ``job``; its run metadata is written at once (a pipeline stopped while waiting still
    knows the job), and again when ``wait`` has followed it to its end."""
    submitted = client.jobs.create_or_update(job)
    metadata = run_metadata_of(submitted, job)
    say(f"submitted job {metadata.job_name} ({metadata.status}): {metadata.studio_url}")
    save(metadata, metadata_out)
    if wait:
        return follow(client, metadata, metadata_out)
    return asdict(metadata)


def wait(client: Any, job_name: str, metadata_out: Path | None) -> dict[str, Any]:
    """``mlops wait``: follow a submitted job until it ends; fail unless it Completed."""
    require_valid_name("JOB", job_name, JOB_RULE)
    metadata = run_metadata_of(client.jobs.get(job_name))
    save(metadata, metadata_out)
    if not is_terminal(metadata.status):
        return follow(client, metadata, metadata_out)
    say(f"job {job_name} has ended: {metadata.status}")
    return outcome(metadata)


def cancel(client: Any, job_name: str) -> dict[str, Any]:
    """``mlops cancel``: ask Azure to cancel a job, and wait until it accepted."""
    require_valid_name("JOB", job_name, JOB_RULE)
    wait_for(client.jobs.begin_cancel(job_name), f"canceling job {job_name}")
    metadata = run_metadata_of(client.jobs.get(job_name))
    return {"command": "cancel", "job_name": job_name, "status": metadata.status}


def follow(client: Any, metadata: RunMetadata, metadata_out: Path | None) -> dict[str, Any]:
    ended = wait_for_job(client, metadata)
    save(ended, metadata_out)
    return outcome(ended)


def outcome(metadata: RunMetadata) -> dict[str, Any]:
    """The run metadata of an ended job; AzureFailure unless it Completed."""
    if metadata.status != COMPLETED:
        reason = f": {metadata.error}" if metadata.error else ""
        raise AzureFailure(
            f"job {metadata.job_name} ended {metadata.status}{reason} (log: {metadata.studio_url})"
        )
    return asdict(metadata)


def interruption(metadata: RunMetadata) -> Interrupted:
    name = metadata.job_name
    return Interrupted(
        f"stopped waiting for job {name}, which goes on in Azure: follow it again with "
        f"`mlops wait {name}`, or cancel it with `mlops cancel {name}` ({metadata.studio_url})"
    )


def wait_for_job(
    client: Any, metadata: RunMetadata, interval: float = PROGRESS_INTERVAL_SECONDS
) -> RunMetadata:
    """Stream the job's log to stderr until it ends; the job's final status decides the outcome.

    Ctrl-C stops the waiting, not the job (Interrupted says how to go on).
    """
    name = metadata.job_name
    say(f"streaming the log of {name} until it ends (Ctrl-C stops waiting, not the job) ...")
    try:
        stream_error = stream(client, name)
        job = poll_until_ended(client, metadata, stream_error, interval)
    except KeyboardInterrupt as exc:
        raise interruption(metadata) from exc
    return ended(metadata, job, stream_error)


def poll_until_ended(
    client: Any, metadata: RunMetadata, stream_error: Exception | None, interval: float
) -> Any:
    """The job once its status is terminal. The log stream can stop before: the connection
    drops, or the job is still finalizing; then the status is read every ``interval`` seconds."""
    name = metadata.job_name
    job = read_job(client, name, interval)
    if is_terminal(status_text(job.status)):
        return job
    if stream_error is not None:
        say(f"the log stream of job {name} stopped: {describe(stream_error)}")
    say(
        f"job {name} is {status_text(job.status)}: checking its status every {interval:g}s "
        f"until it ends (log: {job.studio_url or metadata.studio_url})"
    )
    started = time.monotonic()
    while not is_terminal(status_text(job.status)):
        time.sleep(interval)
        job = read_job(client, name, interval)
        say(f"job {name}: {status_text(job.status)} after {int(time.monotonic() - started)}s")
    return job


def ended(metadata: RunMetadata, job: Any, stream_error: Exception | None) -> RunMetadata:
    """The run metadata of the ended ``job``, with its error if the log stream reported one."""
    status = status_text(job.status)
    failure = stream_error if status != COMPLETED and is_job_failure(stream_error) else None
    return replace(
        metadata,
        status=status,
        studio_url=job.studio_url or metadata.studio_url,
        error=describe(failure) if failure is not None else None,
    )


def stream(client: Any, name: str) -> Exception | None:
    """Stream the log of job ``name``; the error that stopped it (the job failed, the connection
    dropped), or None."""
    try:
        client.jobs.stream(name)
    except Exception as exc:
        if interrupted(exc):
            raise KeyboardInterrupt from exc
        return exc
    return None


def read_job(client: Any, name: str, interval: float) -> Any:
    """``client.jobs.get(name)``, tried up to STATUS_TRIES times, ``interval`` seconds apart."""
    tries = 1
    while True:
        try:
            return client.jobs.get(name)
        except Exception as exc:
            if tries >= STATUS_TRIES:
                raise AzureFailure(
                    f"could not read the status of job {name} ({tries} tries, it may still be "
                    f"running): {describe(exc)}"
                ) from exc
            say(f"could not read the status of job {name}: {describe(exc)}; trying again")
            tries += 1
            time.sleep(interval)
