"""Pipeline step evaluate: score the test split with the trained model and, when one is given,
with the production model; write both sets of metrics to evaluation.json and log them to MLflow.

    python -m components.evaluate --model OUT/model --test-data OUT/test \
        --evaluation OUT/evaluation [--production-model FOLDER]

A model folder holds model.pkl directly (the train step's output) or in one sub-folder (a
registered model as Azure ML mounts it). The metrics are train.py's (evaluate). The register step
reads evaluation.json:

    {"test_rows": 200, "metrics": {"roc_auc": 0.81, ...}, "production_metrics": null | {...}}

Exit codes: 0 evaluated, 2 bad input (no model, or test data train.py would refuse).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import joblib
import train as training

EVALUATION_FILE = "evaluation.json"
PRODUCTION_PREFIX = "production_"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate the trained model on the test split.")
    parser.add_argument("--model", type=Path, required=True, help="folder of the trained model")
    parser.add_argument("--test-data", type=Path, required=True, help="folder of the test split")
    parser.add_argument(
        "--evaluation", type=Path, required=True, help=f"folder to write {EVALUATION_FILE} into"
    )
    parser.add_argument(
        "--production-model", type=Path, help="folder of the production model to compare with"
    )
    return parser.parse_args(argv)


def load_model(folder: Path) -> Any:
    found = sorted(folder.rglob(training.MODEL_FILE)) if folder.is_dir() else []
    if len(found) != 1:
        raise training.DataError(
            f"expected one {training.MODEL_FILE} in {folder}, found {len(found)}"
        )
    return joblib.load(found[0])


def evaluate_models(
    model_dir: Path, test_data: Path, production_dir: Path | None = None
) -> dict[str, Any]:
    """The evaluation.json document: the candidate's metrics and the production model's."""
    test_rows = training.load_data(test_data)
    features, labels = test_rows.drop(columns=training.TARGET), test_rows[training.TARGET]
    production_metrics = None
    if production_dir is not None:
        production_metrics = training.evaluate(load_model(production_dir), features, labels)
    return {
        "test_rows": len(test_rows),
        "metrics": training.evaluate(load_model(model_dir), features, labels),
        "production_metrics": production_metrics,
    }


def logged_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    production = evaluation["production_metrics"] or {}
    return {
        **evaluation["metrics"],
        **{PRODUCTION_PREFIX + name: value for name, value in production.items()},
    }


def log_metrics(evaluation: dict[str, Any], output_dir: Path) -> None:
    import mlflow

    with training.start_mlflow_run(output_dir):
        mlflow.log_metrics(logged_metrics(evaluation))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        evaluation = evaluate_models(args.model, args.test_data, args.production_model)
    except training.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.evaluation.mkdir(parents=True, exist_ok=True)
    path = args.evaluation / EVALUATION_FILE
    path.write_text(json.dumps(evaluation, indent=2) + "\n", encoding="utf-8")
    log_metrics(evaluation, args.evaluation)
    print(
        f"evaluated on {evaluation['test_rows']} rows: "
        + ", ".join(f"{name}={value:.3f}" for name, value in logged_metrics(evaluation).items())
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
