"""What waiting shows of a pipeline or a sweep: one line of the whole picture each time it changes.

A pipeline's line names its steps (the child jobs of the pipeline, by their display name, which
is the step's name) with their status, in the pipeline's order; a sweep's line counts its trials by
status out of ``limits.max_total_trials`` and gives the best primary metric so far, when HyperDrive
has recorded one on the sweep job::

    pipeline lamp_12 Running: prep Completed, train Running (2 of 4 steps started)
    sweep fig_34 Running: 5 of 20 trials (4 completed, 1 running); best auc so far 0.87 (fig_34_3)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mlops.metadata import COMPLETED, PIPELINE, SWEEP, best_trial_of, is_terminal, status_text

# The job types whose progress waiting shows, instead of streaming one log.
FOLLOWED = (PIPELINE, SWEEP)
FAILED_STATUSES = frozenset({"Failed", "NotResponding"})
# How a sweep's line counts its trials: a terminal status by its group (Canceled, Paused by their
# own), any other as running; the groups in this order.
TRIAL_GROUPS = {COMPLETED: "completed", **dict.fromkeys(FAILED_STATUSES, "failed")}
TRIAL_GROUP_ORDER = ("completed", "running", "failed", "canceled", "paused")


def step_name(child: Any) -> str:
    return child.display_name or child.name


def pipeline_line(job: Any, children: list[Any]) -> str:
    steps = list(getattr(job, "jobs", None) or {})
    statuses = {step_name(child): status_text(child.status) for child in children}

    def position(step: str) -> int:
        return steps.index(step) if step in steps else len(steps)

    shown = ", ".join(f"{step} {statuses[step]}" for step in sorted(statuses, key=position))
    started = f"{len(statuses)} of {len(steps)} steps started"
    return f"pipeline {job.name} {status_text(job.status)}: {shown or 'no step yet'} ({started})"


def trial_group(status: str) -> str:
    if not is_terminal(status):
        return "running"
    return TRIAL_GROUPS.get(status, status.lower())


def sweep_line(job: Any, children: list[Any]) -> str:
    groups = Counter(trial_group(status_text(child.status)) for child in children)
    counted = ", ".join(f"{groups[group]} {group}" for group in TRIAL_GROUP_ORDER if groups[group])
    limits = getattr(job, "limits", None)
    total = getattr(limits, "max_total_trials", None) or "?"
    line = f"sweep {job.name} {status_text(job.status)}: {len(children)} of {total} trials"
    if counted:
        line += f" ({counted})"
    best = best_trial_of(job)
    if best is not None and best.value is not None:
        so_far = "" if is_terminal(status_text(job.status)) else " so far"
        line += f"; best {best.primary_metric}{so_far} {best.value:g} ({best.job_name})"
    return line


def progress_line(job: Any, children: list[Any]) -> str:
    return pipeline_line(job, children) if job.type == PIPELINE else sweep_line(job, children)


def failed_step(job: Any, children: list[Any]) -> Any:
    """The first step of a pipeline that failed, or None; a sweep's failed trials are part of a
    sweep, so none of them is its failure."""
    if job.type != PIPELINE:
        return None
    return next((c for c in children if status_text(c.status) in FAILED_STATUSES), None)
