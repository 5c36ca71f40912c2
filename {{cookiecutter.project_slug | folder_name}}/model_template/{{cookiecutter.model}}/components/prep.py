"""Pipeline step prep: read the raw customer CSV files, check their columns and types, and split
them into a training and a test set.

    python -m components.prep --raw-data ../../sample-data \
        --train-data OUT/train --test-data OUT/test

Reading, checking and splitting are train.py's own (load_data, split_data): for the same
--test-size and --random-state the pipeline holds out the rows that ``python train.py`` holds out.
Writes train.csv into --train-data and test.csv into --test-data.

Exit codes: 0 written, 2 bad data (the message names the file, column or value).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import train as training

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Check the raw data and split it.")
    parser.add_argument(
        "--raw-data", type=Path, required=True, help="folder of CSV files or a single CSV file"
    )
    parser.add_argument(
        "--test-size", type=training.fraction, default=0.2, help="share of rows held out"
    )
    parser.add_argument("--random-state", type=int, default=42, help="seed of the split")
    parser.add_argument(
        "--train-data", type=Path, required=True, help=f"folder to write {TRAIN_FILE} into"
    )
    parser.add_argument(
        "--test-data", type=Path, required=True, help=f"folder to write {TEST_FILE} into"
    )
    return parser.parse_args(argv)


def prepare(
    raw_data: Path, test_size: float, random_state: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, test rows) of the checked raw data."""
    data = training.load_data(raw_data)
    return training.split_data(data, test_size, random_state, raw_data)


def write_rows(rows: pd.DataFrame, folder: Path, file_name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    rows.to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train_rows, test_rows = prepare(args.raw_data, args.test_size, args.random_state)
    except training.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_file = write_rows(train_rows, args.train_data, TRAIN_FILE)
    test_file = write_rows(test_rows, args.test_data, TEST_FILE)
    print(f"wrote {len(train_rows)} training rows to {train_file}, {len(test_rows)} to {test_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
