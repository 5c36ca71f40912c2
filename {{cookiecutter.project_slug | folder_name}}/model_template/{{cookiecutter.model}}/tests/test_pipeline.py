"""The training pipeline: its steps as plain Python (prep's split and checks, evaluate's metrics and
comparison, register's gate), and the local run of the whole pipeline from the components' own
command lines, its model served over HTTP; a broken wiring or command line fails locally."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = MODEL_CODE_DIR.parents[1]
PIPELINE_SPEC = MODEL_CODE_DIR / "aml_config" / "train-pipeline.yml"
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
SAMPLE_REQUEST = MODEL_CODE_DIR / "deployment" / "sample-request.json"

STEPS = ["prep", "train", "evaluate", "register"]
STEP_OUTPUTS = {
    ("prep", "train_data"): ["train.csv"],
    ("prep", "test_data"): ["test.csv"],
    ("train", "model_output"): ["metrics.json", "model.onnx", "model.pkl"],
    ("evaluate", "evaluation"): ["evaluation.json"],
    ("register", "registration"): ["registration.json"],
}


@pytest.fixture(scope="module")
def prep(load_component):
    return load_component("prep")


@pytest.fixture(scope="module")
def evaluate(load_component):
    return load_component("evaluate")


@pytest.fixture(scope="module")
def register(load_component):
    return load_component("register")


@pytest.fixture(scope="module")
def prepared_split(prep, sample_data_dir, tmp_path_factory) -> Path:
    """The sample data split by prep with its defaults: a folder of train/ and test/."""
    folder = tmp_path_factory.mktemp("prepared")
    exit_code = prep.main(
        ["--raw-data", str(sample_data_dir), "--train-data", str(folder / "train")]
        + ["--test-data", str(folder / "test")]
    )
    assert exit_code == 0
    return folder


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def pipeline_document() -> dict:
    return yaml.safe_load(PIPELINE_SPEC.read_text(encoding="utf-8"))


# prep


def test_prep_splits_deterministically_and_keeps_the_label_balance(prep, sample_data_dir):
    train_rows, test_rows = prep.prepare(sample_data_dir, 0.2, 42)
    again_train, again_test = prep.prepare(sample_data_dir, 0.2, 42)
    pd.testing.assert_frame_equal(train_rows, again_train)
    pd.testing.assert_frame_equal(test_rows, again_test)
    assert (len(train_rows), len(test_rows)) == (800, 200)
    assert set(train_rows.index).isdisjoint(test_rows.index)
    assert train_rows["churned"].mean() == pytest.approx(test_rows["churned"].mean(), abs=0.01)
    other_train, _ = prep.prepare(sample_data_dir, 0.2, 7)
    assert set(other_train.index) != set(train_rows.index)


def test_prep_writes_both_splits_as_train_py_reads_them(prep, prepared_split, sample_data_dir):
    train_rows, test_rows = prep.prepare(sample_data_dir, 0.2, 42)
    for folder, file_name, rows in (
        ("train", prep.TRAIN_FILE, train_rows),
        ("test", prep.TEST_FILE, test_rows),
    ):
        written = prep.training.load_data(prepared_split / folder / file_name)
        pd.testing.assert_frame_equal(written, rows.reset_index(drop=True))


def test_prep_refuses_bad_data_naming_the_column(prep, sample_data_dir, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = pd.read_csv(sample_data_dir / "customers.csv").head(10).astype({"tenure_months": str})
    rows.loc[3, "tenure_months"] = "twelve"
    rows.to_csv(raw / "customers.csv", index=False)
    exit_code = prep.main(
        ["--raw-data", str(raw), "--train-data", str(tmp_path / "train")]
        + ["--test-data", str(tmp_path / "test")]
    )
    assert exit_code == 2
    assert "customers.csv: column tenure_months must hold numbers only" in capsys.readouterr().err
    assert not (tmp_path / "train").exists(), "bad data writes nothing"


# evaluate


def test_evaluate_scores_the_held_out_rows_as_train_py_did(
    evaluate, trained_model_dir, prepared_split
):
    """train.py holds out the rows prep writes to test/: the metrics are the same."""
    evaluation = evaluate.evaluate_models(trained_model_dir, prepared_split / "test")
    assert evaluation["test_rows"] == 200
    assert evaluation["metrics"] == pytest.approx(read_json(trained_model_dir / "metrics.json"))
    assert evaluation["production_metrics"] is None


def test_evaluate_compares_with_a_registered_production_model(
    evaluate, register, trained_model_dir, prepared_split, tmp_path
):
    """A production model that always answers the churn rate, registered as Azure ML mounts a
    model (model.pkl one folder down): scored on the same rows, beaten, and the gate says so."""
    training_rows = pd.read_csv(prepared_split / "train" / "train.csv")
    baseline = DummyClassifier(strategy="prior").fit(
        training_rows.drop(columns="churned"), training_rows["churned"]
    )
    production = tmp_path / "production"
    (production / "model_output").mkdir(parents=True)
    joblib.dump(baseline, production / "model_output" / "model.pkl")

    evaluation = evaluate.evaluate_models(trained_model_dir, prepared_split / "test", production)

    assert evaluation["production_metrics"]["roc_auc"] == 0.5
    assert evaluate.logged_metrics(evaluation)["production_roc_auc"] == 0.5
    decision = register.gate(evaluation, "roc_auc", 0.75)
    assert decision.passed and "beats the production model's 0.5" in decision.reason


def test_evaluate_without_a_model_exits_2_naming_the_folder(
    evaluate, prepared_split, tmp_path, capsys
):
    exit_code = evaluate.main(
        ["--model", str(tmp_path), "--test-data", str(prepared_split / "test")]
        + ["--evaluation", str(tmp_path / "evaluation")]
    )
    assert exit_code == 2
    assert f"expected one model.pkl in {tmp_path}, found 0" in capsys.readouterr().err


# register


def evaluation_with(roc_auc: float, production: float | None = None) -> dict:
    return {
        "metrics": {"roc_auc": roc_auc, "accuracy": 0.8},
        "production_metrics": None if production is None else {"roc_auc": production},
    }


GATE_CASES = {
    "reaches-the-minimum": (evaluation_with(0.81), True, "reaches the minimum 0.75"),
    "below-the-minimum": (evaluation_with(0.7), False, "roc_auc 0.7 is below the minimum 0.75"),
    "beats-production": (evaluation_with(0.81, 0.8), True, "beats the production model's 0.8"),
    "ties-production": (evaluation_with(0.8, 0.8), False, "is not better than the production"),
    "worse-than-production": (evaluation_with(0.78, 0.8), False, "not better than the production"),
}


@pytest.mark.parametrize(("evaluation", "passed", "reason"), GATE_CASES.values(), ids=GATE_CASES)
def test_the_gate_passes_a_good_model_and_says_why_it_refuses(register, evaluation, passed, reason):
    decision = register.gate(evaluation, "roc_auc", 0.75)
    assert decision.passed is passed
    assert reason in decision.reason


def test_the_gate_refuses_a_metric_evaluate_did_not_report(register):
    with pytest.raises(register.InputError, match="no metric auc .it has: accuracy, roc_auc"):
        register.gate(evaluation_with(0.9), "auc", 0.75)


def test_a_refused_model_completes_without_registering(
    register, trained_model_dir, tmp_path, capsys
):
    evaluation_dir = tmp_path / "evaluation"
    evaluation_dir.mkdir()
    (evaluation_dir / register.EVALUATION_FILE).write_text(
        json.dumps(evaluation_with(0.6)), encoding="utf-8"
    )
    registration_dir = tmp_path / "registration"
    exit_code = register.main(
        ["--model", str(trained_model_dir), "--evaluation", str(evaluation_dir)]
        + ["--model-name", "churn", "--primary-metric", "roc_auc", "--min-metric", "0.75"]
        + ["--registration", str(registration_dir)]
    )
    assert exit_code == 0
    assert "not registered: roc_auc 0.6 is below the minimum 0.75" in capsys.readouterr().out
    registration = read_json(registration_dir / register.REGISTRATION_FILE)
    assert registration["registered"] is False and registration["version"] is None
    assert "below the minimum" in registration["reason"]
    assert sorted(path.name for path in registration_dir.iterdir()) == ["registration.json"]


def test_register_reads_the_file_evaluate_writes(register, evaluate):
    assert register.EVALUATION_FILE == evaluate.EVALUATION_FILE


# the pipeline, run locally


def test_the_local_pipeline_runs_every_step_into_its_own_folder(pipeline_run):
    assert pipeline_run.exit_code == 0
    assert sorted(p.name for p in pipeline_run.output_dir.iterdir() if p.name in STEPS) == sorted(
        STEPS
    )
    for (step, output), files in STEP_OUTPUTS.items():
        folder = pipeline_run.output(step, output)
        assert sorted(path.name for path in folder.iterdir()) == files, folder


def test_the_pipeline_trains_the_model_train_py_trains(pipeline_run, trained_model_dir):
    """prep holds out the rows train.py holds out, so the two models are scored alike."""
    metrics = read_json(pipeline_run.output("train", "model_output") / "metrics.json")
    assert metrics == pytest.approx(read_json(trained_model_dir / "metrics.json"))
    evaluation = read_json(pipeline_run.output("evaluate", "evaluation") / "evaluation.json")
    assert evaluation["metrics"] == pytest.approx(metrics)


def test_the_pipeline_registers_the_model_in_its_local_registry(pipeline_run):
    registration = read_json(pipeline_run.output("register", "registration") / "registration.json")
    model_name = pipeline_document()["inputs"]["model_name"]
    assert registration["registered"] is True, registration["reason"]
    assert (registration["model_name"], registration["version"]) == (model_name, "1")
    client = MlflowClient(tracking_uri=f"sqlite:///{(pipeline_run.output_dir / 'mlflow.db')}")
    version = client.get_model_version(model_name, "1")
    assert float(version.tags["metric.roc_auc"]) == registration["metrics"]["roc_auc"]
    registered_files = Path(version.source.removeprefix("file://"))
    assert registered_files.is_relative_to(pipeline_run.output_dir)
    assert sorted(path.name for path in registered_files.iterdir()) == [
        "metrics.json",
        "model.onnx",
        "model.pkl",
    ]
    experiment = client.get_experiment_by_name(pipeline_document()["experiment_name"])
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 3, "train, evaluate and register log to the pipeline's one store"


def test_the_pipeline_model_scores_through_the_local_server(pipeline_run, serve_local, capsys):
    model_dir = pipeline_run.output("train", "model_output")
    exit_code = serve_local.main(
        ["--entry-script", str(SCORE_SCRIPT), "--model-dir", str(model_dir)]
        + ["--request", str(SAMPLE_REQUEST)]
    )
    assert exit_code == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["predictions"]) == len(read_json(SAMPLE_REQUEST)["data"])


def test_the_gate_of_the_pipeline_is_the_gate_of_make_register():
    """model.mk's `GATE ?= metric=minimum` and the pipeline's register inputs agree."""
    gate_lines = [
        line
        for line in (MODEL_CODE_DIR / "model.mk").read_text("utf-8").splitlines()
        if line.startswith("GATE ")
    ]
    (line,) = gate_lines
    metric, _, minimum = line.partition("=")[2].strip().partition("=")
    inputs = pipeline_document()["inputs"]
    assert (inputs["primary_metric"], inputs["min_metric"]) == (metric, float(minimum))


# a broken pipeline fails locally, naming the file and the field


@pytest.fixture
def pipeline_copy(tmp_path) -> Path:
    """A copy of the model folder and of aml/, to break: the pipeline spec in it."""
    model = tmp_path / "models" / MODEL_CODE_DIR.name
    shutil.copytree(MODEL_CODE_DIR, model, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    shutil.copytree(PROJECT_ROOT / "aml", tmp_path / "aml")
    shutil.copytree(PROJECT_ROOT / "sample-data", tmp_path / "sample-data")
    return model / "aml_config" / "train-pipeline.yml"


def edit_yaml(path: Path, change) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def set_in(keys: str, value):
    def change(document):
        *parents, last = keys.split(".")
        for key in parents:
            document = document[key]
        if value is None:
            del document[last]
        else:
            document[last] = value

    return change


BROKEN_WIRING = {
    "reads-an-output-that-does-not-exist": (
        "train-pipeline.yml",
        set_in("jobs.evaluate.inputs.model", "${{parent.jobs.train.outputs.model}}"),
        "train-pipeline.yml: jobs.evaluate.inputs.model: ${{parent.jobs.train.outputs.model}}: "
        "step train has no output model (outputs: model_output)",
    ),
    "reads-a-step-that-does-not-exist": (
        "train-pipeline.yml",
        set_in("jobs.register.inputs.evaluation", "${{parent.jobs.eval.outputs.evaluation}}"),
        "jobs.register.inputs.evaluation: ${{parent.jobs.eval.outputs.evaluation}}: no step eval",
    ),
    "reads-a-pipeline-input-that-does-not-exist": (
        "train-pipeline.yml",
        set_in("jobs.train.inputs.max_depth", "${{parent.inputs.depth}}"),
        "jobs.train.inputs.max_depth: ${{parent.inputs.depth}}: the pipeline has no input depth",
    ),
    "binds-an-input-the-component-lacks": (
        "train-pipeline.yml",
        set_in("jobs.train.inputs.epochs", 5),
        "jobs.train.inputs.epochs: ",
    ),
    "leaves-a-required-input-unbound": (
        "train-pipeline.yml",
        set_in("jobs.train.inputs.max_depth", None),
        "jobs.train.inputs: input max_depth of ",
    ),
    "writes-a-pipeline-output-that-does-not-exist": (
        "train-pipeline.yml",
        set_in("jobs.train.outputs.model_output", "${{parent.outputs.model}}"),
        "jobs.train.outputs.model_output: the pipeline has no output model",
    ),
    "command-names-an-undeclared-input": (
        "../components/train.yml",
        lambda component: component.update(
            command=component["command"].replace("inputs.max_depth", "inputs.depth")
        ),
        "components/train.yml: command: ${{inputs.depth}} names no input of the component",
    ),
}


@pytest.mark.parametrize(("file", "change", "message"), BROKEN_WIRING.values(), ids=BROKEN_WIRING)
def test_a_broken_wiring_fails_before_any_step_runs(
    run_pipeline_local, pipeline_copy, tmp_path, capsys, file, change, message
):
    edit_yaml((pipeline_copy.parent / file).resolve(), change)
    output_dir = tmp_path / "outputs"
    exit_code = run_pipeline_local.main([str(pipeline_copy), "--output-dir", str(output_dir)])
    error = capsys.readouterr().err
    assert exit_code == 2
    assert error.startswith("error: ") and message in error, error
    assert not output_dir.exists(), "no step ran"


def test_a_broken_command_line_fails_the_step_and_stops_the_pipeline(
    run_pipeline_local, pipeline_copy, tmp_path, capsys
):
    """A misspelled module: the step's command fails at once, and the pipeline with it."""
    prep_spec = pipeline_copy.parent.parent / "components" / "prep.yml"
    edit_yaml(
        prep_spec,
        lambda component: component.update(
            command=component["command"].replace("components.prep", "components.prepare")
        ),
    )
    output_dir = tmp_path / "outputs"
    exit_code = run_pipeline_local.main([str(pipeline_copy), "--output-dir", str(output_dir)])
    assert exit_code == 1
    error = capsys.readouterr().err
    assert "step prep failed with exit code 1" in error
    assert "components/prep.yml" in error
    assert not (output_dir / "train").exists(), "the later steps did not run"
