"""The evaluation gate in front of model registration.

A gate check passes when the candidate's metric reaches a minimum (``--min-metric NAME=VALUE``) or
is strictly better than the model version tagged ``stage=production`` (``--compare-production
NAME``). Metrics are read from the ``metrics.json`` the training job writes beside the model (after
a pipeline, from the ``registration.json`` of its register step). A version records its metrics as
``metric.<name>``: a property when ``mlops register`` registered it, a tag when the pipeline's
register step did (through MLflow's model registry, which has tags only).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops.errors import GateRefused, InvalidInput
from mlops.metadata import as_number, read_json

METRICS_FILE_NAME = "metrics.json"
METRIC_PROPERTY_PREFIX = "metric."


@dataclass(frozen=True)
class Check:
    metric: str
    candidate: float | None
    against: str
    reference: float | None
    passed: bool
    reason: str


def parse_threshold(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        threshold = float(value)
    except ValueError:
        threshold = math.nan
    if not sep or not name.strip() or math.isnan(threshold):
        raise InvalidInput(f"--min-metric: expected NAME=NUMBER, got {text!r}")
    return name.strip(), threshold


def numeric_metrics(document: Any, source: str) -> dict[str, float]:
    if not isinstance(document, dict):
        raise InvalidInput(f"{source}: metrics must be a JSON object of numbers")
    return {
        str(name): float(value)
        for name, value in document.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def read_metrics_file(path: Path, what: str = "--metrics-file") -> dict[str, float]:
    return numeric_metrics(read_json(path, what), str(path))


def threshold_checks(metrics: dict[str, float], thresholds: list[tuple[str, float]]) -> list[Check]:
    checks = []
    for name, minimum in thresholds:
        value = metrics.get(name)
        if value is None:
            reason = f"{name} was not reported (metrics: {', '.join(sorted(metrics)) or 'none'})"
            checks.append(Check(name, None, "minimum", minimum, False, reason))
        elif value < minimum:
            reason = f"{name} {value:g} is below the minimum {minimum:g}"
            checks.append(Check(name, value, "minimum", minimum, False, reason))
        else:
            reason = f"{name} {value:g} reaches the minimum {minimum:g}"
            checks.append(Check(name, value, "minimum", minimum, True, reason))
    return checks


def production_check(
    metric: str, metrics: dict[str, float], production: str | None, production_value: float | None
) -> Check:
    """Compare with the production model; with none (or one without the metric) the check passes."""
    value = metrics.get(metric)
    if value is None:
        reason = f"{metric} was not reported, so it cannot be compared with production"
        return Check(metric, None, "production", production_value, False, reason)
    if production is None:
        reason = f"no model version is tagged stage=production yet; {metric} {value:g} is accepted"
        return Check(metric, value, "production", None, True, reason)
    if production_value is None:
        reason = f"production model {production} has no recorded {metric}; comparison skipped"
        return Check(metric, value, "production", None, True, reason)
    if value > production_value:
        reason = f"{metric} {value:g} beats production {production} ({production_value:g})"
        return Check(metric, value, "production", production_value, True, reason)
    reason = f"{metric} {value:g} is not better than production {production} ({production_value:g})"
    return Check(metric, value, "production", production_value, False, reason)


def enforce(checks: list[Check]) -> None:
    refused = [check.reason for check in checks if not check.passed]
    if refused:
        raise GateRefused("gate refused the model: " + "; ".join(refused))


def checks_as_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(check) for check in checks]


def metric_properties(metrics: dict[str, float]) -> dict[str, str]:
    """Metrics recorded on the model version, so later candidates can be compared with it."""
    return {f"{METRIC_PROPERTY_PREFIX}{name}": repr(value) for name, value in metrics.items()}


def metric_from(recorded: dict[str, Any] | None, metric: str) -> float | None:
    """``metric`` as a model version's properties or tags record it, or None."""
    return as_number((recorded or {}).get(f"{METRIC_PROPERTY_PREFIX}{metric}"))


def recorded_metric(model: Any, metric: str) -> float | None:
    """The metric a model version records: as a property, else as a tag."""
    for recorded in (model.properties, model.tags):
        value = metric_from(recorded, metric)
        if value is not None:
            return value
    return None
