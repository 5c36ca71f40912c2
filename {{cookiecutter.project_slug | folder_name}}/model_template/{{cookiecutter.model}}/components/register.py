"""Pipeline step register: register the trained model when the evaluation gate passes; otherwise
complete and say why.

    python -m components.register --model OUT/model --evaluation OUT/evaluation \
        --model-name NAME --primary-metric roc_auc --min-metric 0.75 --registration OUT/registration

The gate, as `mlops register` applies it: the model's --primary-metric on the test split (from
the evaluate step's evaluation.json) reaches --min-metric and, when evaluate compared it with the
production model, is strictly better than that model's.

Registration goes through MLflow's model registry of the tracking store the step runs against:
the workspace's inside an Azure ML job (azureml-mlflow, with the job's own identity), a local store
outside (`make pipeline-local` gives the pipeline one under outputs/; run alone, the step uses
<registration>/mlflow.db and MLflow's default ./mlruns for the artifacts). The model folder is
logged as the step run's artifacts under model_output/ and a new version of --model-name is created
from them, tagged with its metrics. Either way, registration.json in --registration says what
happened:

    {"registered": true, "reason": "...", "model_name": "...", "version": "3", "metrics": {...}}

Exit codes: 0 registered or refused by the gate, 2 bad input (no model or evaluation, or a metric
evaluate did not report).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import train as training

MODEL_ARTIFACT_PATH = "model_output"
REGISTRATION_FILE = "registration.json"
EVALUATION_FILE = "evaluation.json"  # what components/evaluate.py writes
METRIC_TAG_PREFIX = "metric."


class InputError(Exception):
    """The step cannot decide; the message names the file or value."""


@dataclass(frozen=True)
class Decision:
    passed: bool
    reason: str


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Register the model if the gate passes.")
    parser.add_argument("--model", type=Path, required=True, help="folder of the trained model")
    parser.add_argument(
        "--evaluation", type=Path, required=True, help="folder of the evaluate step's output"
    )
    parser.add_argument("--model-name", required=True, help="registered model name")
    parser.add_argument(
        "--registration", type=Path, required=True, help=f"folder to write {REGISTRATION_FILE} into"
    )
    parser.add_argument("--primary-metric", required=True, help="metric the gate compares")
    parser.add_argument("--min-metric", type=float, required=True, help="its minimum")
    return parser.parse_args(argv)


def read_evaluation(folder: Path) -> dict[str, Any]:
    path = folder / EVALUATION_FILE
    try:
        evaluation = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the evaluation {path}: {exc}") from None
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("metrics"), dict):
        raise InputError(f"{path}: expected an object with the model's metrics")
    return evaluation


def gate(evaluation: dict[str, Any], metric: str, minimum: float) -> Decision:
    metrics = evaluation["metrics"]
    if metric not in metrics:
        reported = ", ".join(sorted(metrics)) or "none"
        raise InputError(f"the evaluation has no metric {metric} (it has: {reported})")
    value = metrics[metric]
    if value < minimum:
        return Decision(False, f"{metric} {value:g} is below the minimum {minimum:g}")
    production = (evaluation.get("production_metrics") or {}).get(metric)
    if production is None:
        return Decision(
            True, f"{metric} {value:g} reaches the minimum {minimum:g}; no production model given"
        )
    if value <= production:
        return Decision(
            False, f"{metric} {value:g} is not better than the production model's {production:g}"
        )
    return Decision(
        True,
        f"{metric} {value:g} reaches the minimum {minimum:g} and beats the production model's "
        f"{production:g}",
    )


def register_version(
    model_dir: Path, name: str, metrics: dict[str, float], output_dir: Path
) -> str:
    """Log the model folder as the run's artifacts and create a version of ``name`` from them."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

    with training.start_mlflow_run(output_dir) as run:
        mlflow.log_artifacts(str(model_dir), MODEL_ARTIFACT_PATH)
        client = mlflow.MlflowClient()
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code not in map(ErrorCode.Name, (RESOURCE_ALREADY_EXISTS, ALREADY_EXISTS)):
                raise
        version = client.create_model_version(
            name,
            source=mlflow.get_artifact_uri(MODEL_ARTIFACT_PATH),
            run_id=run.info.run_id,
            tags={METRIC_TAG_PREFIX + metric: repr(value) for metric, value in metrics.items()},
        )
    return str(version.version)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if not (args.model / training.MODEL_FILE).is_file():
            raise InputError(f"no {training.MODEL_FILE} in the model folder {args.model}")
        evaluation = read_evaluation(args.evaluation)
        decision = gate(evaluation, args.primary_metric, args.min_metric)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.registration.mkdir(parents=True, exist_ok=True)
    version = None
    if decision.passed:
        version = register_version(
            args.model, args.model_name, evaluation["metrics"], args.registration
        )
        print(f"registered {args.model_name} version {version}: {decision.reason}")
    else:
        print(f"not registered: {decision.reason}")
    registration = {
        "registered": decision.passed,
        "reason": decision.reason,
        "model_name": args.model_name,
        "version": version,
        "metrics": evaluation["metrics"],
    }
    path = args.registration / REGISTRATION_FILE
    path.write_text(json.dumps(registration, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
