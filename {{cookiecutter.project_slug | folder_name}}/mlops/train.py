"""``mlops train``, ``mlops wait`` and ``mlops cancel``: submit a job spec (a command job, a
pipeline or a sweep), follow a job until it ends, stop one; the run metadata they write hands the
job to ``mlops register``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from mlops import payloads, progress, specs
from mlops.errors import (
    AzureFailure,
    Interrupted,
    InvalidInput,
    describe,
    interrupted,
    is_job_failure,
    service_message,
)
from mlops.metadata import (
    COMPLETED,
    SWEEP,
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
    metadata = run_metadata_of(submitted, job.outputs or {})
    say(
        f"submitted {metadata.job_type} job {metadata.job_name} ({metadata.status}): "
        f"{metadata.studio_url}"
    )
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
    ended_run = wait_for_job(client, metadata)
    save(ended_run, metadata_out)
    return outcome(ended_run)


def outcome(metadata: RunMetadata) -> dict[str, Any]:
    """The run metadata of an ended job; AzureFailure unless it Completed (a sweep, with a best
    trial to take the model from)."""
    log = f"(log: {metadata.studio_url})"
    if metadata.status != COMPLETED:
        reason = f": {metadata.error}" if metadata.error else ""
        raise AzureFailure(f"job {metadata.job_name} ended {metadata.status}{reason} {log}")
    if metadata.job_type == SWEEP and metadata.best_trial is None:
        raise AzureFailure(
            f"sweep {metadata.job_name} completed without a best trial: no trial reported its "
            f"primary metric {log}"
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
    """Follow the job until it ends: a pipeline's steps or a sweep's trials as they progress, the
    log of any other job; the job's final status decides the outcome.

    Ctrl-C stops the waiting, not the job (Interrupted says how to go on).
    """
    try:
        if metadata.job_type in progress.FOLLOWED:
            return watch(client, metadata, interval)
        return stream_to_end(client, metadata, interval)
    except KeyboardInterrupt as exc:
        raise interruption(metadata) from exc


def watch(client: Any, metadata: RunMetadata, interval: float) -> RunMetadata:
    """Read the job and its child jobs every ``interval`` seconds, with a line on stderr each time
    the picture changes, until the job ends."""
    name = metadata.job_name
    say(
        f"following {metadata.job_type} job {name} until it ends, reading its progress every "
        f"{interval:g}s (Ctrl-C stops waiting, not the job) ..."
    )
    shown = None
    while True:
        job = read_job(client, name, interval)
        children = read_children(client, name, interval)
        line = progress.progress_line(job, children)
        if line != shown:
            say(line)
            shown = line
        if is_terminal(status_text(job.status)):
            return ended(metadata, job, failure_of(client, job, children))
        time.sleep(interval)


def stream_to_end(client: Any, metadata: RunMetadata, interval: float) -> RunMetadata:
    """Stream the job's log to stderr until it ends, with its error if it failed."""
    name = metadata.job_name
    say(f"streaming the log of {name} until it ends (Ctrl-C stops waiting, not the job) ...")
    stream_error = stream(client, name)
    job = poll_until_ended(client, metadata, stream_error, interval)
    failed = status_text(job.status) != COMPLETED and is_job_failure(stream_error)
    return ended(metadata, job, describe(stream_error) if failed else None)


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


def ended(metadata: RunMetadata, job: Any, error: str | None) -> RunMetadata:
    """The run metadata of the ended ``job``: its outputs now (a sweep's, those of its best trial)
    and why it failed, if it did."""
    now = run_metadata_of(job, metadata.outputs)
    return replace(now, studio_url=now.studio_url or metadata.studio_url, error=error)


def failure_of(client: Any, job: Any, children: list[Any]) -> str | None:
    """Why an ended pipeline or sweep did not complete: the error of its failed step, or its own."""
    if status_text(job.status) == COMPLETED:
        return None
    step = progress.failed_step(job, children)
    if step is not None:
        reason = run_error(client, step.name) or status_text(step.status)
        return f"step {progress.step_name(step)} failed: {reason}"
    return run_error(client, job.name)


def run_error(client: Any, run_id: str) -> str | None:
    """The error the run history records for a run, or None. (azure-ai-ml's entities of child
    jobs leave the error out, so it is read from the run's details.)"""
    try:
        details = client.jobs._runs_operations.get_run_details(run_id)
    except Exception as exc:
        say(f"could not read the error of {run_id}: {describe(exc)}")
        return None
    error = getattr(details.error, "error", None)
    if error is None:
        return None
    message = service_message(error)
    return f"{message} ({error.code})" if error.code and message else message or error.code


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


def tried(read: Callable[[], Any], what: str, interval: float) -> Any:
    """``read()``, tried up to STATUS_TRIES times, ``interval`` seconds apart."""
    tries = 1
    while True:
        try:
            return read()
        except Exception as exc:
            if tries >= STATUS_TRIES:
                raise AzureFailure(
                    f"could not read {what} ({tries} tries, it may still be running): "
                    f"{describe(exc)}"
                ) from exc
            say(f"could not read {what}: {describe(exc)}; trying again")
            tries += 1
            time.sleep(interval)


def read_job(client: Any, name: str, interval: float) -> Any:
    return tried(lambda: client.jobs.get(name), f"the status of job {name}", interval)


def read_children(client: Any, name: str, interval: float) -> list[Any]:
    """The child jobs of ``name``: a pipeline's steps, a sweep's trials."""
    return tried(
        lambda: [child for child in client.jobs.list(parent_job_name=name) if child is not None],
        f"the child jobs of {name}",
        interval,
    )
