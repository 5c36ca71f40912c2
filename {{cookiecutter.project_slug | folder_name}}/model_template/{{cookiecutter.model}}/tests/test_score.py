"""score.py behind a real azmlinfsrv over HTTP, and serve_local.py that runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pandas as pd
import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
SAMPLE_REQUEST = MODEL_CODE_DIR / "deployment" / "sample-request.json"

ROW = {
    "tenure_months": 5,
    "monthly_charges": 79.5,
    "contract": "month-to-month",
    "internet_service": "fiber",
    "payment_method": "electronic-check",
    "support_calls": 3,
    "senior_citizen": 0,
}


def body(payload: object) -> bytes:
    return json.dumps(payload).encode("utf-8")


def without(field: str) -> dict:
    return {key: value for key, value in ROW.items() if key != field}


# id: (request body, the message must contain)
BAD_REQUESTS = {
    "malformed-json": (b'{"data": [', "request body is not valid JSON"),
    "not-utf8": (b"\xff\xfe\x00", "request body is not valid JSON"),
    "not-an-object": (body([ROW]), 'a JSON object with a "data" list'),
    "no-data": (body({"rows": [ROW]}), 'a JSON object with a "data" list'),
    "data-not-a-list": (body({"data": ROW}), '"data" must be a list of rows, got object'),
    "empty-batch": (body({"data": []}), '"data" is empty'),
    "too-many-rows": (body({"data": [ROW] * 1001}), "at most 1000 per request"),
    "row-not-an-object": (body({"data": [ROW, [5]]}), "data[1] must be an object"),
    "missing-field": (body({"data": [ROW, without("contract")]}), "data[1].contract is missing"),
    "string-for-a-number": (
        body({"data": [{**ROW, "tenure_months": "5"}]}),
        'data[0].tenure_months must be a number, got string "5"',
    ),
    "boolean-for-a-number": (
        body({"data": [{**ROW, "senior_citizen": True}]}),
        "data[0].senior_citizen must be a number, got boolean",
    ),
    "null-for-a-number": (
        body({"data": [ROW, {**ROW, "monthly_charges": None}]}),
        "data[1].monthly_charges must be a number, got null",
    ),
    "not-a-finite-number": (
        b'{"data": [{"tenure_months": NaN, "monthly_charges": 1, "contract": "one-year", '
        b'"internet_service": "dsl", "payment_method": "card", "support_calls": 0, '
        b'"senior_citizen": 0}]}',
        "data[0].tenure_months must be a finite number",
    ),
    "nested-too-deeply": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "number-for-a-category": (
        body({"data": [{**ROW, "contract": 12}]}),
        "data[0].contract must be a string, got number",
    ),
}


def post_request(payload: bytes) -> Request:
    """What the server hands to run() for a POST of ``payload`` to /score."""
    return Request(EnvironBuilder(path="/score", method="POST", data=payload).get_environ())


def post_score(serve_local, base_url: str, payload: bytes) -> tuple[int, dict]:
    status, answer = serve_local.http_request(f"{base_url}/score", payload)
    return status, json.loads(answer)


def test_the_sample_request_is_scored(serve_local, scoring_url, sample_request, trained_model_dir):
    status, answer = post_score(serve_local, scoring_url, body(sample_request))
    assert status == 200, answer
    rows = sample_request["data"]
    assert len(answer["predictions"]) == len(answer["probabilities"]) == len(rows)
    assert set(answer["predictions"]) <= {0, 1}
    assert all(0.0 <= probability <= 1.0 for probability in answer["probabilities"])
    model = joblib.load(trained_model_dir / "model.pkl")
    expected = model.predict_proba(pd.DataFrame(rows))[:, 1]
    assert answer["probabilities"] == pytest.approx(expected.tolist())
    assert answer["predictions"] == model.predict(pd.DataFrame(rows)).tolist()


def test_an_unseen_category_is_scored(serve_local, scoring_url):
    status, answer = post_score(
        serve_local, scoring_url, body({"data": [{**ROW, "contract": "three-year"}]})
    )
    assert status == 200, answer
    assert len(answer["predictions"]) == 1


@pytest.mark.parametrize(("payload", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_answers_400_naming_the_problem(serve_local, scoring_url, payload, message):
    status, answer = post_score(serve_local, scoring_url, payload)
    assert status == 400
    assert message in answer["error"]


def test_get_on_score_answers_405(serve_local, scoring_url):
    status, answer = serve_local.http_request(f"{scoring_url}/score")
    assert status == 405
    assert "POST" in json.loads(answer)["error"]


def test_the_server_keeps_serving_after_bad_requests(serve_local, scoring_url, sample_request):
    for payload, _ in BAD_REQUESTS.values():
        assert post_score(serve_local, scoring_url, payload)[0] == 400
    assert serve_local.is_healthy(scoring_url)
    status, answer = post_score(serve_local, scoring_url, body(sample_request))
    assert status == 200
    assert len(answer["predictions"]) == len(sample_request["data"])


def test_init_finds_the_model_in_a_registered_model_folder(
    score_module, trained_model_dir, tmp_path, monkeypatch, sample_request
):
    registered = tmp_path / "azureml-models" / "churn" / "3"
    (registered / "model_output").mkdir(parents=True)
    shutil.copy(trained_model_dir / "model.pkl", registered / "model_output" / "model.pkl")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(registered))

    score_module.init()
    response = score_module.run(post_request(body(sample_request)))

    assert response.status_code == 200
    assert len(json.loads(response.get_data())["predictions"]) == len(sample_request["data"])


def test_an_internal_error_answers_500_with_a_message(
    score_module, trained_model_dir, monkeypatch, sample_request
):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
    score_module.init()

    def fail(rows):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(score_module.model, "predict_proba", fail)
    response = score_module.run(post_request(body(sample_request)))

    assert response.status_code == 500
    assert "scoring failed" in json.loads(response.get_data())["error"]


@pytest.mark.parametrize("model_copies", [0, 2])
def test_init_names_the_folder_without_exactly_one_model(
    score_module, trained_model_dir, tmp_path, monkeypatch, model_copies
):
    for copy in range(model_copies):
        (tmp_path / f"version-{copy}").mkdir()
        shutil.copy(trained_model_dir / "model.pkl", tmp_path / f"version-{copy}" / "model.pkl")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="model.pkl") as error:
        score_module.init()
    assert str(tmp_path) in str(error.value)


def serve_local_main(serve_local, model_dir, request_file) -> int:
    """What `make score-local` runs for this model."""
    return serve_local.main(
        ["--entry-script", str(SCORE_SCRIPT), "--model-dir", str(model_dir)]
        + ["--request", str(request_file)]
    )


def test_serve_local_prints_the_answer_to_a_request(serve_local, trained_model_dir, capsys):
    exit_code = serve_local_main(serve_local, trained_model_dir, SAMPLE_REQUEST)
    assert exit_code == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["predictions"]) == len(json.loads(SAMPLE_REQUEST.read_text())["data"])


def test_serve_local_fails_on_a_non_200_answer(serve_local, trained_model_dir, tmp_path, capsys):
    request_file = tmp_path / "request.json"
    request_file.write_text('{"data": []}', encoding="utf-8")
    exit_code = serve_local_main(serve_local, trained_model_dir, request_file)
    output = capsys.readouterr()
    assert exit_code == 1
    assert '"data" is empty' in json.loads(output.out)["error"]
    assert "HTTP 400" in output.err


def test_a_server_that_cannot_start_reports_its_output(serve_local, tmp_path):
    with pytest.raises(serve_local.ServerError, match="no model.pkl in"):
        with serve_local.running_server(tmp_path, entry_script=SCORE_SCRIPT):
            pass
