"""Score a folder of files on this machine with a model's batch scoring script, as its batch
deployment would: the same ``init()`` and ``run(mini_batch)`` contract, the files in mini-batches
of the deployment's ``mini_batch_size``, and its ``error_threshold`` deciding the outcome.

    python tools/batch_local.py --entry-script models/model1/batch_score.py \
        --model-dir outputs/model1/model --data sample-data \
        --deployment models/model1/deployment/batch-deployment.yml \
        --output outputs/model1/batch/predictions.csv

`make batch-local` runs it for the model named by MODEL. The predictions file is the one Azure ML
writes (output_action append_row), with a header line naming the entry script's columns.
Exit codes: 0 scored; 1 more files failed than the error threshold allows; 2 bad arguments or no
file to score.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import yaml

# What the batch runtime uses when the deployment sets nothing.
DEFAULT_MINI_BATCH_SIZE = 10
DEFAULT_ERROR_THRESHOLD = -1
ERROR_COLUMN = "error"


class BatchFailed(RuntimeError):
    """More inputs failed than the error threshold allows."""


@dataclass
class BatchOutcome:
    files: int = 0
    rows: int = 0
    rows_not_scored: int = 0
    failed_files: int = 0
    mini_batches: list[list[str]] = field(default_factory=list)


def load_entry_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}_local", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deployment_settings(spec: Path | None) -> dict:
    """The ``settings`` of a model batch deployment spec (empty without one)."""
    if spec is None:
        return {}
    document = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    return document.get("settings") or {}


def input_files(data: Path) -> list[Path]:
    """Every file below ``data`` (or ``data`` itself), as the batch runtime hands a folder over."""
    if data.is_file():
        return [data]
    return sorted(path for path in data.rglob("*") if path.is_file())


def mini_batches(files: list[Path], size: int) -> list[list[str]]:
    return [
        [str(path) for path in files[start : start + size]] for start in range(0, len(files), size)
    ]


def score(
    entry_script: Path,
    model_dir: Path,
    files: list[Path],
    output: Path,
    mini_batch_size: int = DEFAULT_MINI_BATCH_SIZE,
    error_threshold: int = DEFAULT_ERROR_THRESHOLD,
) -> BatchOutcome:
    """Run the entry script over ``files`` and write its results to ``output``; BatchFailed when
    more files fail (return no result) than ``error_threshold`` allows (-1: any number)."""
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    script = load_entry_script(entry_script)
    script.init()
    outcome = BatchOutcome(files=len(files), mini_batches=mini_batches(files, mini_batch_size))
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as predictions:
        predictions.write(",".join(script.PREDICTION_COLUMNS) + "\n")
        for mini_batch in outcome.mini_batches:
            results = script.run(mini_batch)
            outcome.failed_files += len(mini_batch) - len(results)
            for result in results:
                if not result:
                    continue  # a file without prediction lines (an MLTable file)
                predictions.write(result + "\n")
                count_rows(outcome, result, script.PREDICTION_COLUMNS.index(ERROR_COLUMN))
    if 0 <= error_threshold < outcome.failed_files:
        raise BatchFailed(
            f"{outcome.failed_files} of {outcome.files} files failed; the error threshold allows "
            f"{error_threshold}"
        )
    return outcome


def count_rows(outcome: BatchOutcome, result: str, error_index: int) -> None:
    for line in csv.reader(result.splitlines()):
        outcome.rows += 1
        outcome.rows_not_scored += bool(line[error_index])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entry-script", type=Path, required=True, help="the batch_score.py")
    parser.add_argument("--model-dir", type=Path, required=True, help="folder with model.onnx")
    parser.add_argument("--data", type=Path, required=True, help="folder (or file) to score")
    parser.add_argument("--output", type=Path, required=True, help="predictions file to write")
    parser.add_argument(
        "--deployment", type=Path, help="batch deployment spec whose settings to follow"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    files = input_files(args.data) if args.data.exists() else []
    if not files:
        print(f"error: no file to score in {args.data}", file=sys.stderr)
        return 2
    settings = deployment_settings(args.deployment)
    try:
        outcome = score(
            args.entry_script,
            args.model_dir,
            files,
            args.output,
            int(settings.get("mini_batch_size", DEFAULT_MINI_BATCH_SIZE)),
            int(settings.get("error_threshold", DEFAULT_ERROR_THRESHOLD)),
        )
    except BatchFailed as exc:
        print(f"error: {exc} (predictions so far: {args.output})", file=sys.stderr)
        return 1
    print(
        f"scored {outcome.rows - outcome.rows_not_scored} of {outcome.rows} rows of "
        f"{outcome.files - outcome.failed_files} files in {len(outcome.mini_batches)} mini-batches "
        f"({outcome.rows_not_scored} rows not scored, {outcome.failed_files} files failed): "
        f"{args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
