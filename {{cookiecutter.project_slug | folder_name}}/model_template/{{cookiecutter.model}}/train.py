"""Train the churn classifier on a folder of customer CSV files.

Reads every ``*.csv`` in ``--data-path`` (or the one file it names), holds out a test split, fits a
scikit-learn pipeline (one-hot encoding, then gradient boosting), logs parameters and held-out
metrics to MLflow, and writes to ``--output-dir``:

- ``model.onnx``: the fitted pipeline exported with skl2onnx, one graph input per feature; score.py
  serves it with onnxruntime and reads the request fields from its inputs;
- ``model.pkl``: the same pipeline for scikit-learn (analysis, ``mlflow models serve``);
- ``metrics.json``: the held-out metrics.

With ``--test-data`` (a split prepared beforehand, as the pipeline's prep step writes it), it fits
on all of ``--data-path`` and evaluates on that split instead.

MLflow tracking: inside an Azure ML job (or whenever ``MLFLOW_TRACKING_URI`` is set) the configured
tracking server is used as it is. Otherwise runs go to ``<output-dir>/mlflow.db``; browse them with
``mlflow ui --backend-store-uri sqlite:///<output-dir>/mlflow.db``.

Exit codes: 0 trained, 2 bad input (missing data, no CSV file, wrong columns or values).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import joblib
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

NUMERIC_FEATURES = ["tenure_months", "monthly_charges", "support_calls", "senior_citizen"]
CATEGORICAL_FEATURES = ["contract", "internet_service", "payment_method"]
TARGET = "churned"
REQUIRED_COLUMNS = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, TARGET]
MODEL_FILE = "model.pkl"
ONNX_MODEL_FILE = "model.onnx"
METRICS_FILE = "metrics.json"
LOCAL_TRACKING_DB = "mlflow.db"
# Set by Azure ML in every job; azureml-mlflow then points MLflow at the workspace.
AZUREML_JOB_MARKERS = ("MLFLOW_TRACKING_URI", "AZUREML_RUN_ID")


class DataError(Exception):
    """The training data cannot be used; the message says which file, column or value."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the churn classifier.")
    parser.add_argument(
        "--data-path",
        type=Path,
        required=True,
        help="folder of CSV files (every *.csv is read) or a single CSV file",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("outputs"),
        help="where model.onnx, model.pkl and metrics.json are written (default: outputs)",
    )
    parser.add_argument("--n-estimators", type=positive_int, default=150, help="boosting stages")
    parser.add_argument("--max-depth", type=positive_int, default=2, help="depth of each tree")
    parser.add_argument(
        "--learning-rate", type=positive_float, default=0.05, help="shrinkage of each stage"
    )
    parser.add_argument(
        "--test-data",
        type=Path,
        help="folder or CSV file of a prepared test split; without it, --test-size is held out",
    )
    parser.add_argument(
        "--test-size", type=fraction, default=0.2, help="share of rows held out for evaluation"
    )
    parser.add_argument("--random-state", type=int, default=42, help="seed of split and model")
    return parser.parse_args(argv)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def csv_files(data_path: Path) -> list[Path]:
    if data_path.is_file():
        return [data_path]
    if not data_path.is_dir():
        raise DataError(f"data path does not exist: {data_path}")
    files = sorted(path for path in data_path.glob("*.csv") if path.is_file())
    if not files:
        raise DataError(f"no *.csv file in data folder: {data_path}")
    return files


def read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path} is missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(REQUIRED_COLUMNS)}"
        )
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    for column in REQUIRED_COLUMNS:
        empty_rows = frame.index[frame[column].isna()]
        if len(empty_rows):
            # +2: the header is line 1 and the index counts from 0.
            raise DataError(f"{path}: column {column} is empty on line {empty_rows[0] + 2}")
    for column in (*NUMERIC_FEATURES, TARGET):
        if not is_numeric_dtype(frame[column]) or is_bool_dtype(frame[column]):
            raise DataError(f"{path}: column {column} must hold numbers only")
    labels = set(frame[TARGET].unique())
    if not labels <= {0, 1}:
        raise DataError(f"{path}: column {TARGET} must be 0 or 1, found {sorted(labels)}")
    return frame[REQUIRED_COLUMNS]


def load_data(data_path: Path) -> pd.DataFrame:
    data = pd.concat([read_csv(path) for path in csv_files(data_path)], ignore_index=True)
    for column in CATEGORICAL_FEATURES:
        data[column] = data[column].astype(str)
    if data[TARGET].nunique() < 2:
        raise DataError(f"{data_path}: column {TARGET} needs both classes (0 and 1) to train")
    return data


def build_pipeline(args: argparse.Namespace) -> Pipeline:
    # Numbers go to the trees unscaled: trees do not need scaling, and a scaler computed in 32-bit
    # floats by onnxruntime (64-bit in scikit-learn) moves values that sit on a split threshold to
    # the other branch, so the exported model would disagree with this one on such rows.
    preprocess = ColumnTransformer(
        [
            ("numeric", "passthrough", NUMERIC_FEATURES),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
        ]
    )
    classifier = GradientBoostingClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        random_state=args.random_state,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def evaluate(model: Pipeline, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    predicted = model.predict(features)
    churn_probability = model.predict_proba(features)[:, 1]
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "roc_auc": float(roc_auc_score(labels, churn_probability)),
        "f1": float(f1_score(labels, predicted)),
    }


def onnx_model(model: Pipeline) -> bytes:
    """The fitted pipeline as ONNX: one [rows, 1] input per feature, named like its column (float
    for numbers, as scikit-learn's trees compare them; string for categories), and two outputs,
    ``label`` and ``probabilities`` (a [rows, classes] tensor rather than a list of maps)."""
    # Imported here: skl2onnx takes seconds to import, and bad input should fail before that.
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = [(name, FloatTensorType([None, 1])) for name in NUMERIC_FEATURES]
    inputs += [(name, StringTensorType([None, 1])) for name in CATEGORICAL_FEATURES]
    exported = to_onnx(model, initial_types=inputs, options={id(model): {"zipmap": False}})
    return exported.SerializeToString()


def local_tracking_uri(output_dir: Path) -> str | None:
    """The MLflow store to use, or None when the environment already configures one."""
    if any(os.environ.get(name) for name in AZUREML_JOB_MARKERS):
        return None
    return f"sqlite:///{(output_dir / LOCAL_TRACKING_DB).resolve().as_posix()}"


def start_mlflow_run(output_dir: Path):
    """An MLflow run in the configured store, else in ``<output_dir>/mlflow.db``; the pipeline's
    steps log through it too."""
    import mlflow

    tracking_uri = local_tracking_uri(output_dir)
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return mlflow.start_run()


def split_data(
    data: pd.DataFrame, test_size: float, random_state: int, source: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, test rows): a split stratified by the label, the same for the same seed."""
    try:
        train_rows, test_rows = train_test_split(
            data, test_size=test_size, random_state=random_state, stratify=data[TARGET]
        )
    except ValueError as exc:
        raise DataError(f"{source}: too few rows to hold out a test split: {exc}") from None
    return train_rows, test_rows


def training_and_test_rows(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = load_data(args.data_path)
    if args.test_data is not None:
        return data, load_data(args.test_data)
    return split_data(data, args.test_size, args.random_state, args.data_path)


def train(args: argparse.Namespace) -> dict[str, float]:
    train_rows, test_rows = training_and_test_rows(args)
    train_features, train_labels = train_rows.drop(columns=TARGET), train_rows[TARGET]
    test_features, test_labels = test_rows.drop(columns=TARGET), test_rows[TARGET]

    # Imported only once the data is known to be usable: bad input fails fast.
    import mlflow

    args.output_dir.mkdir(parents=True, exist_ok=True)
    with start_mlflow_run(args.output_dir) as run:
        mlflow.log_params(
            {
                "n_estimators": args.n_estimators,
                "max_depth": args.max_depth,
                "learning_rate": args.learning_rate,
                **({"test_size": args.test_size} if args.test_data is None else {}),
                "random_state": args.random_state,
                "train_rows": len(train_features),
                "test_rows": len(test_features),
            }
        )
        model = build_pipeline(args).fit(train_features, train_labels)
        metrics = evaluate(model, test_features, test_labels)
        mlflow.log_metrics(metrics)

    (args.output_dir / ONNX_MODEL_FILE).write_bytes(onnx_model(model))
    joblib.dump(model, args.output_dir / MODEL_FILE)
    (args.output_dir / METRICS_FILE).write_text(
        json.dumps(metrics, indent=2) + "\n", encoding="utf-8"
    )
    print(
        f"trained on {len(train_features)} rows, evaluated on {len(test_features)}: "
        + ", ".join(f"{name}={value:.3f}" for name, value in metrics.items())
    )
    print(
        f"wrote {args.output_dir / ONNX_MODEL_FILE} and {MODEL_FILE}; "
        f"MLflow run {run.info.run_id} at {mlflow.get_tracking_uri()}"
    )
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
