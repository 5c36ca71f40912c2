"""batch_score.py through its init()/run(mini_batch) contract, in this process with the model
trained once per session, and `make batch-local`'s runner (tools/batch_local.py) over folders of
files."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pyarrow
import pyarrow.parquet
import pytest

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = MODEL_CODE_DIR.parents[1]
SAMPLE_DATA_DIR = PROJECT_ROOT / "sample-data"
BATCH_SCRIPT = MODEL_CODE_DIR / "batch_score.py"
BATCH_DEPLOYMENT = MODEL_CODE_DIR / "deployment" / "batch-deployment.yml"
GOOD = {
    "customer_id": "C-1",
    "tenure_months": "12",
    "monthly_charges": "70.35",
    "contract": "month-to-month",
    "internet_service": "fiber",
    "payment_method": "card",
    "support_calls": "1",
    "senior_citizen": "0",
}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def batch_scorer(load_code, trained_model_dir):
    """batch_score.py initialised in this process with the model trained once per session."""
    module = load_code(BATCH_SCRIPT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
        module.init()
    return module


@pytest.fixture(scope="module")
def batch_local(load_code):
    return load_code(PROJECT_ROOT / "tools" / "batch_local.py")


@pytest.fixture(scope="module")
def parse(batch_scorer):
    """parse(element of run()'s result) -> its rows, as dicts of the script's columns."""

    def rows_of(lines: str) -> list[dict[str, str]]:
        columns = batch_scorer.PREDICTION_COLUMNS
        return [dict(zip(columns, row, strict=True)) for row in csv.reader(io.StringIO(lines))]

    return rows_of


def test_every_row_of_the_sample_data_is_scored_like_score_py_scores_it(
    batch_scorer, onnx_scorer, parse
):
    (result,) = batch_scorer.run([str(SAMPLE_DATA_DIR / "customers.csv")])
    rows = parse(result)
    with (SAMPLE_DATA_DIR / "customers.csv").open(encoding="utf-8") as handle:
        customers = list(csv.DictReader(handle))
    assert len(rows) == len(customers)
    assert [row["row"] for row in rows] == [str(n) for n in range(1, len(customers) + 1)]
    assert {row["error"] for row in rows} == {""}
    numbers = [f for f, kind in onnx_scorer.field_kinds.items() if kind == "number"]
    as_json = [{**c, **{field: float(c[field]) for field in numbers}} for c in customers[:20]]
    labels, probabilities = onnx_scorer.predict(as_json)
    assert [int(row["prediction"]) for row in rows[:20]] == labels
    assert [float(row["probability"]) for row in rows[:20]] == pytest.approx(probabilities)


def test_a_bad_row_is_reported_with_its_file_and_row_and_the_others_are_scored(
    batch_scorer, parse, tmp_path, caplog
):
    rows = [
        GOOD,
        {**GOOD, "customer_id": "C-2", "tenure_months": "twelve"},
        {**GOOD, "customer_id": "C-3", "contract": ""},
        {**GOOD, "customer_id": "C-4", "monthly_charges": "inf"},
        {**GOOD, "customer_id": "C-5"},
    ]
    path = write_csv(tmp_path / "nightly.csv", rows)

    (result,) = batch_scorer.run([str(path)])

    scored = parse(result)
    assert [row["id"] for row in scored] == ["C-1", "C-2", "C-3", "C-4", "C-5"]
    assert {row["file"] for row in scored} == {"nightly.csv"}
    assert [bool(row["prediction"]) for row in scored] == [True, False, False, False, True]
    assert scored[1]["error"] == 'tenure_months must be a number, got string "twelve"'
    assert scored[2]["error"] == "contract is missing"
    assert scored[3]["error"].startswith("monthly_charges must be a finite number")
    assert "nightly.csv: 3 of 5 rows cannot be scored: row 2: tenure_months" in caplog.text


def test_a_file_without_a_column_reports_each_row(batch_scorer, parse, tmp_path):
    without_contract = {k: v for k, v in GOOD.items() if k != "contract"}
    path = write_csv(tmp_path / "no-contract.csv", [without_contract] * 2)

    (result,) = batch_scorer.run([str(path)])

    assert [row["error"] for row in parse(result)] == ["contract is missing"] * 2


def test_parquet_files_are_scored_with_their_own_types(batch_scorer, parse, tmp_path):
    table = pyarrow.table(
        {
            "id": [7, 8],
            "tenure_months": [12, 3],
            "monthly_charges": [70.35, None],
            "contract": ["month-to-month", "two-year"],
            "internet_service": ["fiber", "dsl"],
            "payment_method": ["card", "card"],
            "support_calls": [1, 0],
            "senior_citizen": [0, 1],
        }
    )
    path = tmp_path / "part-0.parquet"
    pyarrow.parquet.write_table(table, path)

    (result,) = batch_scorer.run([str(path)])

    scored = parse(result)
    assert [row["id"] for row in scored] == ["7", "8"]
    assert scored[0]["prediction"] in ("0", "1") and scored[0]["error"] == ""
    assert scored[1]["error"] == "monthly_charges is missing"


@pytest.mark.parametrize(
    ("name", "content", "logged"),
    [
        ("broken.csv", b'tenure_months,contract\n1,"month-to\n', "not a readable UTF-8 CSV file"),
        ("latin1.csv", "tenure_months,contract\n1,caf\xe9\n".encode("latin-1"), "UTF-8"),
        ("header-only.csv", b"tenure_months,contract\n", "holds no rows"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
        ("notes.txt", b"not data\n", "is neither CSV"),
    ],
)
def test_a_malformed_file_is_left_out_and_the_mini_batch_goes_on(
    batch_scorer, parse, tmp_path, caplog, name, content, logged
):
    good = write_csv(tmp_path / "good.csv", [GOOD])
    bad = tmp_path / name
    bad.write_bytes(content)

    results = batch_scorer.run([str(bad), str(good)])

    assert [row["file"] for result in results for row in parse(result)] == ["good.csv"]
    assert f"{bad} " in caplog.text and logged in caplog.text
    assert "counted as a failed input" in caplog.text


def test_the_mltable_file_of_a_table_folder_is_no_failed_input(batch_scorer, parse, caplog):
    files = sorted(str(path) for path in SAMPLE_DATA_DIR.iterdir() if path.is_file())
    assert [Path(name).name for name in files] == ["MLTable", "customers.csv"]

    results = batch_scorer.run(files)

    assert len(results) == len(files), "the runtime counts a missing result as a failed input"
    assert results[0] == ""
    assert {row["file"] for row in parse(results[1])} == {"customers.csv"}
    assert "failed input" not in caplog.text


def test_batch_local_scores_the_sample_data_folder_without_a_failed_file(
    batch_local, trained_model_dir, tmp_path
):
    output = tmp_path / "predictions.csv"
    files = batch_local.input_files(SAMPLE_DATA_DIR)

    outcome = batch_local.score(BATCH_SCRIPT, trained_model_dir, files, output, 10, 0)

    assert (outcome.files, outcome.failed_files) == (2, 0)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 1000 and all(lines)


def test_a_file_the_file_system_cannot_read_fails_the_call_for_a_retry(batch_scorer, tmp_path):
    with pytest.raises(OSError):
        batch_scorer.run([str(tmp_path / "vanished.csv")])


def copy_sample(folder: Path, *extra: tuple[str, bytes]) -> Path:
    folder.mkdir()
    shutil.copy(SAMPLE_DATA_DIR / "customers.csv", folder / "customers.csv")
    for name, content in extra:
        (folder / name).write_bytes(content)
    return folder


def test_batch_local_writes_one_row_per_input_row_in_mini_batches(
    batch_local, trained_model_dir, tmp_path, capsys
):
    data = copy_sample(tmp_path / "data")
    for part in range(3):
        write_csv(data / f"part-{part}.csv", [GOOD, {**GOOD, "tenure_months": "x"}])
    output = tmp_path / "out" / "predictions.csv"
    settings = batch_local.deployment_settings(BATCH_DEPLOYMENT)

    code = batch_local.main(
        [
            "--entry-script",
            str(BATCH_SCRIPT),
            "--model-dir",
            str(trained_model_dir),
            "--data",
            str(data),
            "--deployment",
            str(BATCH_DEPLOYMENT),
            "--output",
            str(output),
        ]
    )

    assert code == 0
    with output.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 1000 + 3 * 2
    assert sum(1 for row in written if row["error"]) == 3
    assert "1003 of 1006 rows of 4 files" in capsys.readouterr().out
    assert settings["mini_batch_size"] >= 1


def test_batch_local_fails_when_more_files_fail_than_the_threshold_allows(
    batch_local, trained_model_dir, tmp_path
):
    data = copy_sample(tmp_path / "data", ("broken.parquet", b"no parquet"))
    output = tmp_path / "predictions.csv"
    script = BATCH_SCRIPT
    files = batch_local.input_files(data)

    with pytest.raises(batch_local.BatchFailed, match="1 of 2 files failed"):
        batch_local.score(script, trained_model_dir, files, output, 1, error_threshold=0)
    assert len(output.read_text(encoding="utf-8").splitlines()) == 1 + 1000, "the others scored"

    outcome = batch_local.score(script, trained_model_dir, files, output, 1, error_threshold=-1)
    assert (outcome.failed_files, len(outcome.mini_batches)) == (1, 2)
