"""Batch scoring script of the model's batch deployment (deployment/batch-deployment.yml), and of
``make batch-local``, which runs it on this machine the way the batch runtime does.

``init()`` loads ``model.onnx`` from ``AZUREML_MODEL_DIR`` with score.py's own functions.

``run(mini_batch)`` gets a list of file paths, CSV (with a header line) or Parquet, and returns one
element per file it read: that file's predictions, one CSV line per row of the file, in order::

    file,row,id,prediction,probability,error

``row`` counts the file's rows from 1 (the line after the header is row 1); ``id`` is the row's
``customer_id`` or ``id`` when the file has one; ``probability`` is that of class 1. A row is valid
by score.py's own check (the one definition of a row the model can score); a row that is not (a
field missing or of the wrong kind) gets no prediction, says why in ``error``, and the rest of the
file is scored.

A folder that is also a table (an Azure ML MLTable, as sample-data/ is for model monitoring) holds
its ``MLTable`` file beside the data: that file is no data to score, and gets an empty element (no
prediction line) so that the runtime does not count it as a failed input.

A file that cannot be read (not CSV or Parquet, not UTF-8, malformed) is logged and left out of the
result, and the others are scored: the batch runtime counts an input without a result as failed,
and the deployment's ``error_threshold`` decides whether that fails the job. An error of the file
system itself (OSError) is raised instead: the runtime retries the mini-batch, as many times as the
deployment's ``retry_settings`` allow.

With ``output_action: append_row`` Azure ML writes every element returned into one file, without a
header: PREDICTION_COLUMNS names its columns.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
from pathlib import Path
from types import ModuleType

PREDICTION_COLUMNS = ("file", "row", "id", "prediction", "probability", "error")
ID_COLUMNS = ("customer_id", "id")
CSV_SUFFIXES = (".csv",)
TABLE_FILE = "MLTable"
PARQUET_SUFFIXES = (".parquet", ".pq")
# How many rows of a file share one call of the model.
ROWS_PER_PREDICTION = 10_000
SHOWN_BAD_ROWS = 3

logger = logging.getLogger(__name__)


def load_scoring_module() -> ModuleType:
    """score.py beside this file, under a name of this model's own (every model has a score.py).

    score.py imports the request and response types of ``azureml.contrib.services``, which the
    inference server package provides once its server module is imported: azmlinfsrv does that
    before it loads score.py, the batch runtime does not.
    """
    import azureml_inference_server_http.server  # noqa: F401

    path = Path(__file__).resolve().with_name("score.py")
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_batch_scoring", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scoring = load_scoring_module()


class UnreadableFile(Exception):
    """The file cannot be read as a table; the message says why."""


def init() -> None:
    scoring.load_model(scoring.model_dir_from_environment())


def csv_rows(path: Path) -> list[dict]:
    """The rows of a CSV file as text, number fields converted as a JSON parser would read them
    (a value that is not a number stays text, for the check to name); an empty value is missing."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle, strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableFile(f"not a readable UTF-8 CSV file: {exc}") from None
    return [
        {name: as_field(name, text) for name, text in record.items() if name and text}
        for record in records
    ]


def as_field(name: str, text: object) -> object:
    if scoring.field_kinds.get(name) != "number" or not isinstance(text, str):
        return text
    try:
        return float(text)
    except ValueError:
        return text


def parquet_rows(path: Path) -> list[dict]:
    """The rows of a Parquet file as Python values; a null value is missing."""
    import pyarrow
    import pyarrow.parquet

    try:
        records = pyarrow.parquet.read_table(path).to_pylist()
    except pyarrow.ArrowException as exc:
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from None
    return [{k: v for k, v in record.items() if v is not None} for record in records]


def read_rows(path: Path) -> list[dict]:
    """The rows of the file; UnreadableFile if it has none to score."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        rows = csv_rows(path)
    elif suffix in PARQUET_SUFFIXES:
        rows = parquet_rows(path)
    else:
        raise UnreadableFile("is neither CSV (.csv) nor Parquet (.parquet, .pq)")
    if not rows:
        raise UnreadableFile("holds no rows")
    return rows


def row_id(row: dict) -> str:
    return next((str(row[column]) for column in ID_COLUMNS if column in row), "")


def row_problem(row: dict) -> str | None:
    try:
        scoring.check_row(row)
    except scoring.BadRequest as exc:
        return str(exc)
    return None


def scored_rows(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(prediction, probability, error) of each row, in order."""
    results: list[tuple[str, str, str]] = [("", "", "")] * len(rows)
    valid = []
    for index, row in enumerate(rows):
        problem = row_problem(row)
        if problem is None:
            valid.append(index)
        else:
            results[index] = ("", "", problem)
    for start in range(0, len(valid), ROWS_PER_PREDICTION):
        chunk = valid[start : start + ROWS_PER_PREDICTION]
        labels, probabilities = scoring.predict([rows[index] for index in chunk])
        for index, label, probability in zip(chunk, labels, probabilities, strict=True):
            results[index] = (str(label), repr(probability), "")
    return results


def file_predictions(path: Path) -> str:
    """The prediction lines of one file (UnreadableFile when it cannot be read)."""
    rows = read_rows(path)
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    bad = []
    for number, (row, result) in enumerate(zip(rows, scored_rows(rows), strict=True), start=1):
        writer.writerow([path.name, number, row_id(row), *result])
        if result[2]:
            bad.append(f"row {number}: {result[2]}")
    if bad:
        shown = "; ".join(bad[:SHOWN_BAD_ROWS]) + ("; ..." if len(bad) > SHOWN_BAD_ROWS else "")
        logger.warning("%s: %d of %d rows cannot be scored: %s", path, len(bad), len(rows), shown)
    return lines.getvalue().removesuffix("\n")


def run(mini_batch: list[str]) -> list[str]:
    """One element per file read: its prediction lines (see the module's docstring)."""
    results = []
    for name in mini_batch:
        path = Path(name)
        if path.name == TABLE_FILE:
            results.append("")
            continue
        try:
            results.append(file_predictions(path))
        except UnreadableFile as exc:
            logger.error("%s %s: not scored, counted as a failed input", path, exc)
    return results
